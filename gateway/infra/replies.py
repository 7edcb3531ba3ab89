"""Replies travelling back from the pipeline to whoever waits for them, through Redis.

Any gateway process may have received a message and any worker may process it, so the
reply is stored under a key (for a late or retried waiter) and announced on pub/sub (for
a waiter already listening).  Web sessions and the console get live events the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:  # pragma: no cover
    import redis.asyncio as aioredis


import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

from gateway.infra.keys import RedisKeys

REPLY_TTL_SECONDS = 3600


class ReplyBus:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self._keys = keys
        self.ready_topic = keys.key("reply-ready")
        # The operators' consoles all follow one topic: new tickets, follow-ups, replies, claims.
        self.console_topic = keys.key("console", "events")

    def _reply_key(self, channel: str, native_id: str) -> str:
        return self._keys.key("reply", channel, native_id)

    def session_topic(self, session_id: str) -> str:
        """What a web chat session's page follows live."""
        return self._keys.key("web", "session", session_id)

    async def deliver(self, channel: str, native_id: str, text: str, ticket_no: str | None = None) -> None:
        key = self._reply_key(channel, native_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, text.encode(), ex=REPLY_TTL_SECONDS)
            if ticket_no:
                pipe.set(key + ":ticket", ticket_no.encode(), ex=REPLY_TTL_SECONDS)
            pipe.publish(self.ready_topic, f"{channel}:{native_id}".encode())
            await pipe.execute()

    async def get(self, channel: str, native_id: str) -> str | None:
        raw = await self.redis.get(self._reply_key(channel, native_id))
        return raw.decode() if raw is not None else None

    async def ticket_no(self, channel: str, native_id: str) -> str | None:
        """The ticket a replied message opened or joined (set together with the reply)."""
        raw = await self.redis.get(self._reply_key(channel, native_id) + ":ticket")
        return raw.decode() if raw is not None else None

    async def wait_reply(self, channel: str, native_id: str, timeout: float) -> str | None:
        """The pipeline's reply for a message, or None if it is not ready in ``timeout`` s."""
        wanted = f"{channel}:{native_id}".encode()
        deadline = time.monotonic() + timeout
        pubsub = self.redis.pubsub()
        try:
            await pubsub.subscribe(self.ready_topic)
            # Subscribed first, then checked: a reply stored in between is not missed.
            found = await self.get(channel, native_id)
            while found is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=min(remaining, 1.0))
                if msg is not None and msg.get("data") == wanted:
                    found = await self.get(channel, native_id)
            return found
        finally:
            await pubsub.aclose()

    async def publish_event(self, topic: str, event: dict[str, Any]) -> None:
        await self.redis.publish(topic, json.dumps(event, ensure_ascii=False).encode())

    async def subscribe(self, topic: str, *, heartbeat: float = 15.0) -> AsyncIterator[dict[str, Any] | None]:
        """Yield events of ``topic``: None once subscribed (so a caller knows nothing published from
        now on is missed), then the events, and None every ``heartbeat`` s without one."""
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(topic)
        try:
            yield None
            while True:
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=heartbeat)
                # redis-py's timeout handling can swallow a cancellation that lands while it waits;
                # without this check a cancelled SSE handler would loop here and stall shutdown.
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError
                if msg is None:
                    yield None
                    continue
                try:
                    yield json.loads(msg["data"])
                except (ValueError, TypeError):
                    continue
        finally:
            await asyncio.shield(pubsub.aclose())


REPLIES: web.AppKey[ReplyBus] = web.AppKey("replies", ReplyBus)
