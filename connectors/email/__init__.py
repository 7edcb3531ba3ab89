"""The mayor's mailbox (市长电子信箱): an SMTP intake served in the gateway's event loop.

* ``channel``    — :class:`EmailChannel`, the plug-in the gateway wires
* ``settings``   — ``HOTLINE_SMTP_*``/``SMTP_*`` environment variables, validated up front
* ``server``     — the SMTP server in the caller's loop (:func:`start_smtp_server` for a bare one)
* ``inbound``    — the aiosmtpd handler: which mail is taken, and what it becomes
* ``parsing``, ``decoding`` — MIME to text, threads and ticket numbers
* ``replies``    — :class:`EmailConnector`: the automatic receipt and operators' replies
* ``outbound``   — building a mail and sending it through the relay
* ``loop_guard`` — no auto-reply to auto-replies, lists or floods
* ``texts``      — citizen-facing texts
"""

from connectors.email.channel import EmailChannel
from connectors.email.replies import EmailConnector
from connectors.email.server import bound_address, start_smtp_server, stop_smtp_server
from connectors.email.settings import EmailSettings, load_email_settings

__all__ = [
    "EmailChannel",
    "EmailConnector",
    "EmailSettings",
    "bound_address",
    "load_email_settings",
    "start_smtp_server",
    "stop_smtp_server",
]
