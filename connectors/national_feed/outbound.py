"""Replies to the platform: an answer to a platform item is its write-back (回传).

The item id is the reply's thread key.  The poller does the write-back itself, because a
failed one is kept in its Redis state for admins and retried with the poll rounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from connectors.base import DeliveryResult, ReplyTarget
from connectors.national_feed import texts
from connectors.national_feed.poller import FeedPoller
from connectors.national_feed.protocol import CHANNEL


class NationalPlatformReplies:
    name = CHANNEL

    def __init__(self, poller: FeedPoller) -> None:
        self.poller = poller

    async def send_reply(self, target: ReplyTarget, text: str) -> DeliveryResult:
        """An operator's answer: the item becomes ``answered`` with it."""
        return await self.write_back(target, "answered", text)

    async def write_back(self, target: ReplyTarget, status: str, text: str, *,
                         evaluation: Mapping[str, Any] | None = None,
                         handled_at: datetime | None = None) -> DeliveryResult:
        """The item's new status (``answered`` or ``closed``) with the public answer, and the
        citizen's 一事一评 result when there is one (:func:`.protocol.evaluation_body`)."""
        if not target.thread_key:
            return DeliveryResult(False, texts.NO_ITEM_ID)
        return await self.poller.write_back(target.thread_key, status, text, handled_at or datetime.now(timezone.utc),
                                            evaluation=evaluation)
