"""The national integrated online government service platform feed (全国一体化在线政务服务平台).

Pulls consultation/complaint items from the platform (protocol: docs/national-feed.md),
publishes each as an :class:`~connectors.base.InboundMessage`, and writes the ticket's
answer or closure back (回传).

* ``channel``   — :class:`NationalFeedChannel`, the plug-in the gateway wires
* ``settings``  — ``NATIONAL_FEED_*`` environment variables, validated up front
* ``protocol``  — signing, wire models, errors, times
* ``inbound``   — the one item → message mapping
* ``client``    — :class:`NationalPlatformClient`, the one replaceable adapter
* ``poller``    — :class:`FeedPoller`: cursor, dedupe, status, failed write-backs
* ``outbound``  — :class:`NationalPlatformReplies`: replies as write-backs
* ``texts``     — texts shown to operators
* ``simulator`` — a local platform for tests and demos (``hotline simulate national-feed``)

The gateway wires it through :mod:`connectors.registry`: the poller runs where the process
runs the ``feed`` service; every process writes back.  The admin page reads the poller::

    await poller.status(), await poller.failed_write_backs(),
    await poller.retry_failed([item_id, ...] or None), await poller.skipped_items()
"""

from connectors.national_feed.channel import NationalFeedChannel
from connectors.national_feed.client import NationalPlatformClient
from connectors.national_feed.inbound import item_to_message
from connectors.national_feed.poller import FeedPoller, PollResult, poller_from_settings
from connectors.national_feed.protocol import CHANNEL, BadItem, FeedClient, FeedError, FeedPage
from connectors.national_feed.settings import NationalFeedSettings, load_national_feed_settings

__all__ = [
    "CHANNEL",
    "BadItem",
    "FeedClient",
    "FeedError",
    "FeedPage",
    "FeedPoller",
    "NationalFeedChannel",
    "NationalFeedSettings",
    "NationalPlatformClient",
    "PollResult",
    "item_to_message",
    "load_national_feed_settings",
    "poller_from_settings",
]
