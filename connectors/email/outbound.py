"""Outbound mail: auto-replies and operators' replies, threaded, through the configured relay.

Sent with the standard library's ``smtplib`` in a worker thread: it blocks, and the
gateway's event loop must not.  Nothing here retries; the caller gets a
:class:`DeliveryResult` and the gateway keeps undelivered replies in its outbox.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import smtplib
import socket
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, localtime
from zoneinfo import ZoneInfoNotFoundError

from config.local_time import LOCAL_TZ
from connectors.base import DeliveryResult
from connectors.email import texts
from connectors.email.settings import RelayConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboundMail:
    to: str
    subject: str
    body: str
    in_reply_to: str | None = None  # bare message id
    references: tuple[str, ...] = ()
    automatic: bool = False  # auto-reply (Auto-Submitted, null return path) or a person's reply
    ticket_no: str | None = None


def _local_now() -> datetime:
    # Citizens read the Date in their client; Beijing time whatever the server's zone.
    try:
        return datetime.now(LOCAL_TZ)
    except ZoneInfoNotFoundError:
        return localtime()


def new_message_id(hostname: str, ticket_no: str | None) -> str:
    # The ticket number inside our own Message-ID lets a citizen's reply be joined to its
    # ticket from In-Reply-To/References alone, with no lookup table.
    tag = ticket_no or "reply"
    return f"{tag}.{uuid.uuid4().hex[:16]}@{hostname}"


def build_message(
    mail: OutboundMail,
    *,
    from_address: str,
    from_name: str,
    hostname: str,
    loop_token: str,
) -> tuple[EmailMessage, str]:
    """The message and its bare Message-ID."""
    msg = EmailMessage(policy=policy.SMTP)
    local, _, domain = from_address.partition("@")
    msg["From"] = Address(display_name=from_name, username=local, domain=domain)
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(_local_now())
    message_id = new_message_id(hostname, mail.ticket_no)
    msg["Message-ID"] = f"<{message_id}>"
    if mail.in_reply_to:
        msg["In-Reply-To"] = f"<{mail.in_reply_to}>"
    refs = [r for r in mail.references if r] or ([mail.in_reply_to] if mail.in_reply_to else [])
    if mail.in_reply_to and mail.in_reply_to not in refs:
        refs.append(mail.in_reply_to)
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in refs[-10:])
    # Our own mark: a mail carrying it that comes back to the mailbox gets no auto-reply.
    msg["X-Loop"] = loop_token
    if mail.automatic:
        msg["Auto-Submitted"] = "auto-replied"  # RFC 3834
        # Ask Exchange/Outlook not to answer our auto-reply with theirs.
        msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(mail.body, charset="utf-8")
    return msg, message_id


def _send_sync(relay: RelayConfig, msg: EmailMessage, envelope_from: str, to: str) -> None:
    if relay.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            relay.host, relay.port, timeout=relay.timeout, context=relay.ssl_context()
        )
    else:
        client = smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout)
    try:
        client.ehlo_or_helo_if_needed()
        if relay.security == "starttls":
            client.starttls(context=relay.ssl_context())
            client.ehlo()
        if relay.username:
            client.login(relay.username, relay.password or "")
        # SMTPUTF8 only when needed: most relays handle UTF-8 bodies in 8BITMIME anyway,
        # and set_content already chose a 7-bit transfer encoding.
        client.send_message(msg, from_addr=envelope_from, to_addrs=[to])
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


async def send_via_relay(
    relay: RelayConfig | None,
    msg: EmailMessage,
    *,
    envelope_from: str,
    to: str,
    message_id: str,
    executor: concurrent.futures.Executor | None = None,
) -> DeliveryResult:
    """Send one mail; ``executor`` should be the connector's own, so slow relays (15 s
    timeouts) cannot occupy the loop's default executor that attachment writes need."""
    if relay is None:
        return DeliveryResult(delivered=False, detail=texts.RELAY_NOT_CONFIGURED)
    try:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(executor, _send_sync, relay, msg, envelope_from, to)
    except smtplib.SMTPRecipientsRefused as exc:
        detail = "; ".join(f"{code} {resp.decode('utf-8', 'replace') if isinstance(resp, bytes) else resp}"
                           for code, resp in exc.recipients.values())
        return DeliveryResult(False, texts.RELAY_REFUSED_RECIPIENT.format(detail=detail)[:300])
    except smtplib.SMTPResponseException as exc:
        err = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        template = texts.RELAY_TEMPORARY if 400 <= exc.smtp_code < 500 else texts.RELAY_PERMANENT
        return DeliveryResult(False, template.format(detail=f"{exc.smtp_code} {err}")[:300])
    except (smtplib.SMTPException, OSError, ssl.SSLError, socket.timeout) as exc:
        return DeliveryResult(False, texts.RELAY_UNREACHABLE.format(detail=f"{type(exc).__name__}: {exc}")[:300])
    log.info("mail %s sent to %s", message_id, to)
    return DeliveryResult(delivered=True, channel_message_id=message_id)
