"""The Open311 GeoReport v2 channel: service requests filed by third-party city apps.

* ``channel``  — :class:`Open311Channel`, the plug-in the gateway wires (always on)
* ``settings`` — its limits, from the gateway's settings
* ``inbound``  — a POSTed service request (form fields) → :class:`~connectors.base.InboundMessage`
* ``outbound`` — why it has no reply side (the apps read the request's status)
* ``texts``    — the Chinese error descriptions the apps receive

The HTTP endpoints live in the gateway's ``/open311/v2/`` sub-app (``gateway.web.open311``): an
API key and the read side need the ticket store, which no connector touches.
"""

from connectors.open311.channel import CHANNEL, Open311Channel
from connectors.open311.inbound import Open311InputError, parse_service_request
from connectors.open311.settings import Open311Settings

__all__ = ["CHANNEL", "Open311Channel", "Open311InputError", "Open311Settings", "parse_service_request"]
