"""The channels the gateway knows, in one place: a new channel is a folder and a line here."""

from __future__ import annotations

from connectors.base import Channel
from connectors.email.channel import EmailChannel
from connectors.national_feed.channel import NationalFeedChannel
from connectors.open311.channel import Open311Channel
from connectors.web.channel import WebChannel
from connectors.wechat.channel import WeChatChannel

CHANNEL_CLASSES: tuple[type[Channel], ...] = (WebChannel, WeChatChannel, EmailChannel, NationalFeedChannel,
                                                 Open311Channel)
