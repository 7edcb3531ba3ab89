"""Wiring of the channel connectors into the app: their settings, background services and
reply senders (``app[CONNECTORS][channel]``).  Connectors know nothing of the gateway;
this module hands each one the stream's ``publish``, the reply bus and its Redis prefix.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timezone

from aiohttp import web

from connectors.base import DeliveryResult, ReplyTarget
from gateway.infra.replies import REPLIES
from gateway.infra.resources import ATTACHMENTS, DIRECTORY, KEYS, REDIS
from gateway.infra.stream import STREAM

log = logging.getLogger(__name__)

CONNECTORS: web.AppKey[dict] = web.AppKey("connectors", dict)
FEED_POLLER: web.AppKey = web.AppKey("national_feed_poller")
SMTP_SERVER: web.AppKey[asyncio.Server] = web.AppKey("smtp_server", asyncio.Server)


class NationalPlatformReplies:
    """Replies to a platform item are its write-back (回传); the item id is the thread key."""

    name = "national_platform"

    def __init__(self, poller) -> None:
        self.poller = poller

    async def send_reply(self, target: ReplyTarget, text: str) -> DeliveryResult:
        return await self.write_back(target, "answered", text)

    async def write_back(self, target: ReplyTarget, status: str, text: str) -> DeliveryResult:
        if not target.thread_key:
            return DeliveryResult(False, "缺少平台事项编号，无法回传")
        return await self.poller.write_back(target.thread_key, status, text, datetime.now(timezone.utc))


def national_feed_ctx(*, poll: bool):
    """The feed's poller as a background service (``poll``) or only as a write-back sender."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        from connectors.national_feed import load_national_feed_settings, poller_from_settings

        feed_settings = load_national_feed_settings()
        poller = poller_from_settings(feed_settings, app[STREAM].publish, app[REDIS],
                                      app[KEYS].connector("national_feed"), directory=app[DIRECTORY])
        if poller is None:
            yield
            return
        app[FEED_POLLER] = poller
        app[CONNECTORS]["national_platform"] = NationalPlatformReplies(poller)
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop), name="national-feed") if poll else None
        if poll:
            log.info("national platform feed: polling %s", feed_settings.url)
        yield
        stop.set()
        if task is not None:
            try:
                await asyncio.wait_for(task, timeout=10)
            except TimeoutError:
                task.cancel()
        await poller.close()

    return ctx


def setup_channels(app: web.Application) -> None:
    """Connectors with HTTP endpoints, enabled by their own settings (WECHAT_TOKEN …)."""
    from connectors.wechat import load_wechat_settings, setup_wechat
    from gateway.channels.delivery import delivery_reporter

    wechat_settings = load_wechat_settings()
    if wechat_settings.enabled:
        app[CONNECTORS]["wechat"] = setup_wechat(
            app, wechat_settings, publish=app[STREAM].publish, wait_reply=app[REPLIES].wait_reply,
            attachments=app[ATTACHMENTS], redis=app[REDIS], key_prefix=app[KEYS].connector("wechat"),
            report_delivery=delivery_reporter(app),
        )
        log.info("WeChat callback enabled at /wechat")


def smtp_ctx(*, serve: bool):
    """The mayor's mailbox: the SMTP server in this loop (``serve``), or only the outbound side
    (operator replies and the outbox) for processes that do not take mail."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        from connectors.email import EmailConnector, load_email_settings, start_smtp_server, stop_smtp_server

        email_settings = load_email_settings()
        prefix = app[KEYS].connector("email")
        if not serve:
            connector = EmailConnector(email_settings, wait_reply=app[REPLIES].wait_reply, redis=app[REDIS],
                                       key_prefix=prefix)
            app[CONNECTORS]["email"] = connector
            yield
            await connector.aclose()
            return
        server, connector = await start_smtp_server(
            email_settings, publish=app[STREAM].publish, wait_reply=app[REPLIES].wait_reply,
            attachments=app[ATTACHMENTS], redis=app[REDIS], key_prefix=prefix,
        )
        app[SMTP_SERVER] = server
        app[CONNECTORS]["email"] = connector
        yield
        await stop_smtp_server(server, connector)

    return ctx



def add_channels(app: web.Application, *, poll_feed: bool, serve_smtp: bool) -> None:
    """Every channel's reply sender; the feed's poller and the SMTP server where this process runs them."""
    app[CONNECTORS] = {}
    app.cleanup_ctx.append(national_feed_ctx(poll=poll_feed))
    app.cleanup_ctx.append(smtp_ctx(serve=serve_smtp))
    setup_channels(app)
