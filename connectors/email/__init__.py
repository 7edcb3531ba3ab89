"""The mayor's mailbox (市长电子信箱): an SMTP intake served in the gateway's event loop.

Use :func:`start_smtp_server` with the gateway's ``publish``/``wait_reply``; the returned
:class:`EmailConnector` sends operators' replies (``send_reply``).
"""

from connectors.email.connector import EmailConnector
from connectors.email.server import bound_address, start_smtp_server, stop_smtp_server
from connectors.email.settings import EmailSettings, load_email_settings

__all__ = [
    "EmailConnector",
    "EmailSettings",
    "bound_address",
    "load_email_settings",
    "start_smtp_server",
    "stop_smtp_server",
]
