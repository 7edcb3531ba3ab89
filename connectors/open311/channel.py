"""The Open311 channel plug-in.

Always on, with no routes of its own (``gateway.web.open311`` serves them: the API key and the
read side need the ticket store), no background service and no output side
(:mod:`connectors.open311.outbound`).
"""

from __future__ import annotations

from connectors.base import Channel, ChannelContext
from connectors.open311.settings import Open311Settings

CHANNEL = "open311"


class Open311Channel(Channel):
    name = CHANNEL

    def __init__(self, settings: Open311Settings) -> None:
        self.settings = settings

    @classmethod
    def from_settings(cls, context: ChannelContext) -> Open311Channel:
        return cls(Open311Settings.from_settings(context.settings))
