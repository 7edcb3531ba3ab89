"""The national platform feed plug-in: the poller as a background service (``hotline feed``,
and ``hotline run``), the write-back (回传) as its output side in every process.

On when ``NATIONAL_FEED_URL`` is set.  No HTTP routes: the platform is pulled, never pushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from connectors.base import Channel, ChannelContext
from connectors.national_feed.outbound import NationalPlatformReplies
from connectors.national_feed.poller import FeedPoller, poller_from_settings
from connectors.national_feed.protocol import CHANNEL
from connectors.national_feed.settings import load_national_feed_settings
from connectors.task_stop import end_within

log = logging.getLogger(__name__)

KEY_SPACE = "national_feed"  # the prefix of its Redis keys (cursor, dedupe, status ...)
STOP_TIMEOUT = 10.0  # how long a poll round in progress may take to finish at shutdown


class NationalFeedChannel(Channel):
    name = CHANNEL
    service = "feed"

    def __init__(self, poller: FeedPoller) -> None:
        self.poller = poller
        self.replies = NationalPlatformReplies(poller)

    @classmethod
    def from_settings(cls, context: ChannelContext) -> NationalFeedChannel | None:
        settings = load_national_feed_settings()
        poller = poller_from_settings(settings, context.publish, context.redis, context.key_prefix(KEY_SPACE),
                                      directory=context.directory)
        if poller is None:
            return None
        return cls(poller)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(self.poller.run(stop), name="national-feed")
        log.info("national platform feed: polling %r every %ss", self.poller.client, self.poller.poll_seconds)
        try:
            yield
        finally:
            stop.set()
            await end_within(task, STOP_TIMEOUT)

    def output(self) -> NationalPlatformReplies:
        return self.replies

    async def aclose(self) -> None:
        await self.poller.close()
