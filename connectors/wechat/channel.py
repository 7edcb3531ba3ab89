"""The WeChat channel plug-in: the callback URL ``/wechat`` in, customer-service messages out.

On when ``WECHAT_TOKEN`` is set; replies need ``WECHAT_APP_ID``/``WECHAT_APP_SECRET`` too.
No background service: deferred answers are tasks of the handling, closed with the channel.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web

from connectors.base import Channel, ChannelContext, Publish, ReportDelivery, WaitReply
from connectors.storage import AttachmentStore
from connectors.wechat.callback import WeChatCallback
from connectors.wechat.const import CALLBACK_PATH, CHANNEL
from connectors.wechat.handling import WeChatConnector
from connectors.wechat.settings import WeChatSettings, WeChatSettingsError, load_wechat_settings


class WeChatChannel(Channel):
    name = CHANNEL

    def __init__(self, connector: WeChatConnector) -> None:
        self.connector = connector
        self.callback = WeChatCallback(connector)

    @classmethod
    def from_settings(cls, context: ChannelContext) -> WeChatChannel | None:
        settings = load_wechat_settings()
        if not settings.enabled:
            return None
        return cls(WeChatConnector(
            settings, publish=context.publish, wait_reply=context.wait_reply, attachments=context.attachments,
            redis=context.redis, key_prefix=context.key_prefix(CHANNEL), report_delivery=context.report_delivery,
        ))

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return [web.get(CALLBACK_PATH, self.callback.verify), web.post(CALLBACK_PATH, self.callback.receive)]

    def output(self) -> WeChatConnector:
        return self.connector

    async def aclose(self) -> None:
        await self.connector.aclose()


def setup_wechat(
    app: web.Application,
    settings: WeChatSettings,
    *,
    publish: Publish,
    wait_reply: WaitReply,
    attachments: AttachmentStore,
    redis: Any,
    key_prefix: str,
    report_delivery: ReportDelivery | None = None,
) -> WeChatConnector:
    """The channel alone on a bare ``app`` (benchmarks, tests): GET/POST ``/wechat``, closed with
    the app; returns the connector (for outbound replies).  The gateway uses the registry instead.

    ``redis`` is a ``redis.asyncio.Redis`` (decoded responses or not); ``key_prefix`` is the
    namespace of this channel's private keys.
    """
    if not settings.enabled:
        raise WeChatSettingsError("invalid setting WECHAT_TOKEN: required to serve the WeChat callback")
    channel = WeChatChannel(WeChatConnector(
        settings, publish=publish, wait_reply=wait_reply, attachments=attachments, redis=redis,
        key_prefix=key_prefix, report_delivery=report_delivery,
    ))
    app.router.add_routes(channel.routes())

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        yield
        await channel.aclose()

    app.cleanup_ctx.append(lifecycle)
    return channel.connector
