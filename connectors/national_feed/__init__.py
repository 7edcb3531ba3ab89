"""The national integrated online government service platform feed (全国一体化在线政务服务平台).

Pulls consultation/complaint items from the platform (protocol: docs/national-feed.md),
publishes each as an :class:`~connectors.base.InboundMessage`, and writes the ticket's
answer or closure back (回传).

* ``settings``  — ``NATIONAL_FEED_*`` environment variables, validated up front
* ``protocol``  — signing, wire models, errors, the item → message mapping
* ``client``    — :class:`NationalPlatformClient`, the one replaceable adapter
* ``poller``    — :class:`FeedPoller`: cursor, dedupe, status, failed write-backs
* ``simulator`` — a local platform for tests and demos (``hotline simulate national-feed``)

Wiring (done by the gateway, which owns the Redis prefix and the publish callable)::

    settings = load_national_feed_settings()          # SettingsError names a bad variable
    poller = poller_from_settings(settings, stream.publish, redis,
                                  keys.connector("national_feed"), directory=directory)
    if poller is not None:                            # None: NATIONAL_FEED_URL unset
        task = asyncio.create_task(poller.run(stop_event))
        ...                                           # on shutdown: stop_event.set(); await task
        await poller.close()

    # when a national_platform ticket is answered or closed:
    await poller.write_back(item_id, "answered" | "closed", reply_text, handled_at)
    # admin page: await poller.status(), await poller.failed_write_backs(),
    #             await poller.retry_failed([item_id, ...] or None), await poller.skipped_items()
"""

from connectors.national_feed.client import NationalPlatformClient
from connectors.national_feed.poller import FeedPoller, PollResult, poller_from_settings
from connectors.national_feed.protocol import CHANNEL, BadItem, FeedClient, FeedError, FeedPage, item_to_message
from connectors.national_feed.settings import NationalFeedSettings, load_national_feed_settings

__all__ = [
    "CHANNEL",
    "BadItem",
    "FeedClient",
    "FeedError",
    "FeedPage",
    "FeedPoller",
    "NationalFeedSettings",
    "NationalPlatformClient",
    "PollResult",
    "item_to_message",
    "load_national_feed_settings",
    "poller_from_settings",
]
