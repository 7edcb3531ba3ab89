"""Replies travelling back from the pipeline to whoever waits for them, through Redis.

Any gateway process may have received a message and any worker may process it, so the
reply is stored under a key (for a late or retried waiter) and announced on pub/sub (for
a waiter already listening).  Web sessions and the console get live events the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import redis.asyncio as aioredis
from aiohttp import web

from gateway.infra.fanout import Fanout
from gateway.infra.keys import RedisKeys

log = logging.getLogger(__name__)

REPLY_TTL_SECONDS = 3600
# Events one live listener may have waiting before it counts as gone (see ``subscribe``).
LISTENER_QUEUE = 256
# How often a reply waiter looks the reply up without an announcement.
RECHECK_SECONDS = 2.0
# A live listener yields None this often without an event: when the SSE loop checks whether its browser
# is still there (a page left frees its stream's place within this time).
HEARTBEAT_SECONDS = 3.0
_LAGGED = object()


class ReplyBus:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys, fanout: Fanout | None = None) -> None:
        self.redis = redis
        # Every listener of the process shares one pub/sub connection (see gateway/infra/fanout.py).
        self.fanout = fanout or Fanout(redis)
        self._keys = keys
        self.ready_topic = keys.key("reply-ready")
        # The operators' consoles all follow one topic: new tickets, follow-ups, replies, claims.
        self.console_topic = keys.key("console", "events")
        # The analytics pages follow the hot-spot alerts (the operators' queue need not hear of them).
        self.analytics_topic = keys.key("analytics", "events")

    def _reply_key(self, channel: str, native_id: str) -> str:
        return self._keys.key("reply", channel, native_id)

    def desk_topic(self, unit: str) -> str:
        """What one unit's handling desks follow live (new work, reminders, 督办单, review results)."""
        return self._keys.key("desk", unit, "events")

    def session_topic(self, session_id: str) -> str:
        """What a web chat session's page follows live."""
        return self._keys.key("web", "session", session_id)

    async def deliver(self, channel: str, native_id: str, text: str, ticket_no: str | None = None) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            self.stage_delivery(pipe, channel, native_id, text, ticket_no)
            await pipe.execute()

    def stage_delivery(self, pipe: Any, channel: str, native_id: str, text: str,
                       ticket_no: str | None = None) -> None:
        """Queue :meth:`deliver`'s commands on a caller's pipeline (a worker's one round trip per batch).
        The reply is stored before it is announced, so a waiter never hears of a missing reply."""
        key = self._reply_key(channel, native_id)
        pipe.set(key, text.encode(), ex=REPLY_TTL_SECONDS)
        if ticket_no:
            pipe.set(key + ":ticket", ticket_no.encode(), ex=REPLY_TTL_SECONDS)
        pipe.publish(self.ready_topic, f"{channel}:{native_id}".encode())

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
        announced = asyncio.Event()

        def on_ready(data: bytes) -> None:
            if data == wanted:
                announced.set()

        async with self.fanout.listen(self.ready_topic, on_ready):
            # Listening first, then checked: a reply stored in between is not missed.
            found = await self.get(channel, native_id)
            while found is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                # Looked up again now and then even unannounced: an announcement published while
                # the fan-out reconnected to Redis is lost, the stored reply is not.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(announced.wait(), min(remaining, RECHECK_SECONDS))
                announced.clear()
                found = await self.get(channel, native_id)
            return found

    async def publish_event(self, topic: str, event: dict[str, Any]) -> None:
        await self.redis.publish(topic, orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS))

    def stage_event(self, pipe: Any, topic: str, event: dict[str, Any]) -> None:
        """Queue :meth:`publish_event` on a caller's pipeline."""
        pipe.publish(topic, orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS))

    async def subscribe(self, topic: str, *, heartbeat: float = HEARTBEAT_SECONDS) -> AsyncIterator[dict[str, Any] | None]:
        """Yield events of ``topic``: None once subscribed (so a caller knows nothing published from
        now on is missed), then the events, and None every ``heartbeat`` s without one.

        Events wait in a bounded queue: a listener that falls ``LISTENER_QUEUE`` events behind (a
        browser that stopped reading) is ended instead of slowing the fan-out; a browser reconnects
        and reads what it missed from the conversation.
        """
        queue: asyncio.Queue[bytes | object] = asyncio.Queue(maxsize=LISTENER_QUEUE)
        lagged = False

        def on_event(data: bytes) -> None:
            nonlocal lagged
            if lagged:
                return
            try:
                queue.put_nowait(data)
            except asyncio.QueueFull:
                lagged = True
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(_LAGGED)

        async with self.fanout.listen(topic, on_event):
            yield None
            while True:
                # Not wait_for: on Python 3.11 it can swallow the listener's cancellation when an
                # event arrives in the same moment (see connectors/task_stop.py).
                try:
                    async with asyncio.timeout(heartbeat):
                        data = await queue.get()
                except TimeoutError:
                    yield None
                    continue
                if data is _LAGGED:
                    log.info("live listener of %s fell %d events behind: disconnected", topic, LISTENER_QUEUE)
                    return
                try:
                    yield json.loads(data)  # type: ignore[arg-type]
                except (ValueError, TypeError):
                    continue


REPLIES: web.AppKey[ReplyBus] = web.AppKey("replies", ReplyBus)
