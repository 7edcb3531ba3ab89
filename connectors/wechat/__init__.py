"""The WeChat official-account channel (公众号): callback ``/wechat`` and customer-service messages.

* ``channel``   — :class:`WeChatChannel`, the plug-in the gateway wires (and :func:`setup_wechat`
  for a bare app)
* ``settings``  — ``WECHAT_*`` environment variables, validated up front
* ``security``  — signatures, the AES layer, XML in and out
* ``callback``  — the aiohttp handlers of ``/wechat``
* ``inbound``   — what one decrypted message means (publish, answer, ignore)
* ``handling``  — :class:`WeChatConnector`: MsgId dedupe, publishing, passive or deferred answers
* ``state``     — the channel's own Redis keys
* ``outbound``  — WeChat's API: the shared access_token, customer-service messages, media
* ``texts``     — citizen-facing texts
* ``simulator`` — WeChat's side, for tests and benchmarks

Nothing here knows the gateway, the database or the other channels (see DESIGN.md, import rules).
"""

from __future__ import annotations

from connectors.wechat.channel import WeChatChannel, setup_wechat
from connectors.wechat.handling import WeChatConnector
from connectors.wechat.settings import WeChatSettings, WeChatSettingsError, load_wechat_settings

__all__ = [
    "WeChatChannel",
    "WeChatConnector",
    "WeChatSettings",
    "WeChatSettingsError",
    "load_wechat_settings",
    "setup_wechat",
]
