"""Serving the mailbox inside the caller's event loop.

``loop.create_server`` with aiosmtpd's ``SMTP`` protocol — not aiosmtpd's threaded
``Controller``, whose private loop could not share the gateway's Redis client.
"""

from __future__ import annotations

import asyncio
import logging

import redis.asyncio as aioredis

from connectors.base import Publish, WaitReply
from connectors.email.inbound import MailboxHandler
from connectors.email.replies import EmailConnector
from connectors.email.session_factory import SessionFactory
from connectors.email.settings import EmailSettings
from connectors.storage import AttachmentStore

log = logging.getLogger(__name__)

IDENT = "12345 mailbox ESMTP"  # no software version in the greeting


async def start_smtp_server(
    settings: EmailSettings,
    *,
    publish: Publish,
    wait_reply: WaitReply,
    attachments: AttachmentStore,
    redis: aioredis.Redis,
    key_prefix: str,
) -> tuple[asyncio.Server, EmailConnector]:
    """The mailbox alone (benchmarks, tests): its reply side and its server, listening.

    ``key_prefix`` is the channel's private Redis prefix (the gateway passes
    the gateway's ``conn:email`` prefix).  Stop with :func:`stop_smtp_server`.
    """
    connector = EmailConnector(settings, wait_reply=wait_reply, redis=redis, key_prefix=key_prefix)
    server = await serve_mailbox(settings, publish=publish, attachments=attachments, connector=connector)
    return server, connector


async def serve_mailbox(
    settings: EmailSettings, *, publish: Publish, attachments: AttachmentStore, connector: EmailConnector,
) -> asyncio.Server:
    """Start listening on HOTLINE_SMTP_HOST:HOTLINE_SMTP_PORT in the running loop; accepted mails
    are published, their receipts sent by ``connector``.  Stop with :func:`close_mailbox`."""
    loop = asyncio.get_running_loop()
    handler = MailboxHandler(settings, publish=publish, attachments=attachments, connector=connector)
    tls_context = settings.tls_context()

    factory = SessionFactory(
        handler,
        data_size_limit=settings.max_bytes,  # also announced as SIZE in EHLO
        enable_SMTPUTF8=True,
        hostname=settings.server_hostname,
        ident=IDENT,
        tls_context=tls_context,
        require_starttls=False,  # citizens' providers do not all speak TLS to us
        timeout=settings.session_timeout,
        loop=loop,
    )

    server = await loop.create_server(factory, host=settings.smtp_host, port=settings.smtp_port)
    server._hotline_handler = handler  # type: ignore[attr-defined]  # for close_mailbox
    log.info("mayor's mailbox listening on %s (%s)", bound_address(server), ", ".join(settings.mailbox_addresses))
    return server


def bound_address(server: asyncio.Server) -> tuple[str, int]:
    host, port = server.sockets[0].getsockname()[:2]
    return host, port


async def close_mailbox(server: asyncio.Server, *, grace: float = 5.0) -> None:
    """Stop accepting, let mails being published finish, close sessions."""
    server.close()
    handler: MailboxHandler | None = getattr(server, "_hotline_handler", None)
    if handler is not None:
        if handler.in_flight:
            await asyncio.wait(set(handler.in_flight), timeout=grace)
        for session in list(handler.sessions):
            if session.transport is not None:
                session.transport.close()
    await server.wait_closed()


async def stop_smtp_server(server: asyncio.Server, connector: EmailConnector, *, grace: float = 5.0) -> None:
    """Stop the mailbox, then end its auto-replies."""
    await close_mailbox(server, grace=grace)
    await connector.aclose(grace=grace)
