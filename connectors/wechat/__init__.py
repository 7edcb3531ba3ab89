"""The WeChat official-account channel (公众号): callback ``/wechat`` and customer-service messages.

The gateway wires it with :func:`setup_wechat`; nothing here knows the gateway, the
database or the other connectors (see DESIGN.md, import rules).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from connectors.base import Publish, ReportDelivery, WaitReply
from connectors.storage import AttachmentStore
from connectors.wechat.callback import WeChatCallback
from connectors.wechat.connector import WeChatConnector
from connectors.wechat.const import CALLBACK_PATH
from connectors.wechat.settings import WeChatSettings, WeChatSettingsError, load_wechat_settings

__all__ = [
    "WECHAT_CONNECTOR",
    "WeChatConnector",
    "WeChatSettings",
    "WeChatSettingsError",
    "load_wechat_settings",
    "setup_wechat",
]

WECHAT_CONNECTOR: web.AppKey[WeChatConnector] = web.AppKey("wechat_connector", WeChatConnector)


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
    """Add GET/POST ``/wechat`` to ``app`` and return the connector (for outbound replies).

    ``redis`` is a ``redis.asyncio.Redis`` (decoded responses or not); ``key_prefix`` is the
    namespace of this connector's private keys.  Deferred deliveries and the API thread
    pool stop with the app (a ``cleanup_ctx``).
    """
    if not settings.enabled:
        raise WeChatSettingsError("invalid setting WECHAT_TOKEN: required to serve the WeChat callback")
    connector = WeChatConnector(
        settings, publish=publish, wait_reply=wait_reply, attachments=attachments, redis=redis, key_prefix=key_prefix,
        report_delivery=report_delivery,
    )
    callback = WeChatCallback(connector)
    app.router.add_get(CALLBACK_PATH, callback.verify)
    app.router.add_post(CALLBACK_PATH, callback.receive)
    app[WECHAT_CONNECTOR] = connector

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        yield
        await connector.aclose()

    app.cleanup_ctx.append(lifecycle)
    return connector
