"""The web channel plug-in: the chat API the citizen pages (and anyone's own front end) use.

Always on: it needs no settings of its own beyond the gateway's limits.  It has no background
service, and no output side (see :mod:`connectors.web.outbound`).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from connectors.base import Channel, ChannelContext
from connectors.web.chat_api import CHANNEL, WebChatApi
from connectors.web.settings import WebChatSettings


class WebChannel(Channel):
    name = CHANNEL

    def __init__(self, settings: WebChatSettings, context: ChannelContext) -> None:
        self.settings = settings
        self.api = WebChatApi(settings, context)

    @classmethod
    def from_settings(cls, context: ChannelContext) -> WebChannel:
        return cls(WebChatSettings.from_settings(context.settings), context)

    def routes(self) -> Sequence[web.AbstractRouteDef]:
        return self.api.routes()
