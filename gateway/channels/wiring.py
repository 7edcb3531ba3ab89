"""The channels in a process: one loop over :data:`connectors.registry.CHANNEL_CLASSES`.

Each channel class decides from its own settings whether it is on (``from_settings``); the
gateway registers its output side in ``app[CONNECTORS]`` (operators' replies go through it),
runs its background service only where this process runs that service (``hotline run``: all;
``hotline smtp``: the mailbox; ``hotline feed``: the poller; ``hotline web``/``worker``: none),
and closes it with the app.  Its HTTP routes are added by :func:`add_channel_routes`, which only
the web app calls: worker, SMTP and feed processes serve no HTTP.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Collection

from aiohttp import web

from connectors.base import Channel, OutputChannel
from connectors.national_feed import FeedPoller, NationalFeedChannel
from connectors.registry import CHANNEL_CLASSES
from gateway.channels.context import channel_context

log = logging.getLogger(__name__)

CHANNELS: web.AppKey[dict[str, Channel]] = web.AppKey("channels", dict)
CONNECTORS: web.AppKey[dict[str, OutputChannel]] = web.AppKey("connectors", dict)
# The admin page's handle on the feed (status, failed write-backs); absent when the feed is off.
FEED_POLLER: web.AppKey[FeedPoller] = web.AppKey("national_feed_poller", FeedPoller)


def add_channels(app: web.Application, *, poll_feed: bool, serve_smtp: bool) -> None:
    """Every channel its settings turn on, with its output side; the feed's poller (``poll_feed``)
    and the SMTP server (``serve_smtp``) only where this process runs them."""
    running = {service for service, on in (("feed", poll_feed), ("smtp", serve_smtp)) if on}
    context = channel_context(app)
    channels: dict[str, Channel] = {}
    for channel_class in CHANNEL_CLASSES:
        channel = channel_class.from_settings(context)
        if channel is not None:
            channels[channel.name] = channel
    app[CHANNELS] = channels
    app[CONNECTORS] = {name: output for name, channel in channels.items()
                       if (output := channel.output()) is not None}
    feed = channels.get(NationalFeedChannel.name)
    if isinstance(feed, NationalFeedChannel):
        app[FEED_POLLER] = feed.poller
    served = [f"{name} ({channel.service})" if channel.service in running else name
              for name, channel in channels.items()]
    log.info("channels: %s", ", ".join(served))
    app.cleanup_ctx.append(_lifetime(list(channels.values()), running))


def add_channel_routes(app: web.Application) -> None:
    """The HTTP endpoints of the channels :func:`add_channels` put on ``app`` (``/wechat``,
    ``/api/v1/web/...``), for the process that serves HTTP."""
    for channel in app[CHANNELS].values():
        app.router.add_routes(channel.routes())


def _lifetime(channels: list[Channel], running: Collection[str]
              ) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        # Unwound in reverse: the services stop (no new mail, no new poll round) before any
        # channel closes the reply side they may still use.
        async with contextlib.AsyncExitStack() as stack:
            for channel in channels:
                stack.push_async_callback(channel.aclose)
            for channel in channels:
                if channel.service in running:
                    await stack.enter_async_context(channel.serving())
            yield

    return ctx
