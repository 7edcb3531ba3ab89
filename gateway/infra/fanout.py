"""One Redis pub/sub connection per process, fanned out to in-memory listeners.

A pub/sub subscription pins its connection, so when every browser stream and every reply
waiter subscribed on its own, a hundred idle browsers took the whole pool and intake answered
503 (issue #12).  Here a process subscribes each topic once, on one connection, and hands each
message to the topic's listeners in memory; the topic is unsubscribed when its last listener
leaves.  Listeners are plain callbacks run on the event loop: they must not block, and a slow
consumer buffers (or gives up) on its own side, never in the reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from connectors.task_stop import cancel_and_wait

log = logging.getLogger(__name__)

Listener = Callable[[bytes], None]

# How long a new listener waits for Redis to confirm its topic's subscription.
SUBSCRIBE_TIMEOUT = 5.0
# How long the reader waits for one message before it looks again (and lets health checks run).
READ_TIMEOUT = 1.0
RECONNECT_BACKOFF_MAX = 5.0


class Fanout:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._pubsub: PubSub | None = None
        self._listeners: dict[bytes, set[Listener]] = {}
        self._subscribed: dict[bytes, asyncio.Event] = {}
        # SUBSCRIBEs sent per topic and not yet confirmed: a topic dropped and taken again before
        # its first confirmation arrives must wait for the second one.
        self._unconfirmed: dict[bytes, int] = {}
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None

    @property
    def topics(self) -> int:
        """Topics subscribed in this process (one connection carries them all)."""
        return len(self._listeners)

    @contextlib.asynccontextmanager
    async def listen(self, topic: str, listener: Listener, *,
                     timeout: float = SUBSCRIBE_TIMEOUT) -> AsyncIterator[None]:
        """Call ``listener`` with each message of ``topic`` while inside; on entry Redis has
        confirmed the subscription, so nothing published from then on is missed."""
        key = topic.encode()
        subscribed = await self._add(key, listener)
        try:
            try:
                await asyncio.wait_for(subscribed.wait(), timeout)
            except TimeoutError:
                raise RedisTimeoutError(f"subscription to {topic} not confirmed in {timeout}s") from None
            yield
        finally:
            # Shielded: a cancelled stream must still give its topic back.
            await asyncio.shield(self._remove(key, listener))

    async def close(self) -> None:
        if self._reader is not None:
            await cancel_and_wait([self._reader])
            self._reader = None
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None
        self._listeners.clear()
        self._subscribed.clear()
        self._unconfirmed.clear()

    async def _add(self, key: bytes, listener: Listener) -> asyncio.Event:
        async with self._lock:
            listeners = self._listeners.get(key)
            if listeners is not None:
                listeners.add(listener)
                return self._subscribed[key]
            subscribed = asyncio.Event()
            self._listeners[key] = {listener}
            self._subscribed[key] = subscribed
            self._unconfirmed[key] = self._unconfirmed.get(key, 0) + 1
            if self._pubsub is None:
                self._pubsub = self._redis.pubsub()
            try:
                await self._pubsub.subscribe(key)
            except BaseException:
                del self._listeners[key], self._subscribed[key]
                self._unconfirm(key)
                raise
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read(), name="pubsub-fanout")
            return subscribed

    async def _remove(self, key: bytes, listener: Listener) -> None:
        async with self._lock:
            listeners = self._listeners.get(key)
            if listeners is None:
                return
            listeners.discard(listener)
            if listeners:
                return
            del self._listeners[key], self._subscribed[key]
            if self._pubsub is not None:
                try:
                    await self._pubsub.unsubscribe(key)
                except (RedisError, OSError) as exc:
                    # A topic nobody listens to costs a dictionary miss per message; not worth failing for.
                    log.debug("pub/sub: unsubscribe %r failed: %s", key, exc)

    def _unconfirm(self, key: bytes) -> int:
        left = self._unconfirmed.get(key, 0) - 1
        if left > 0:
            self._unconfirmed[key] = left
        else:
            self._unconfirmed.pop(key, None)
        return max(left, 0)

    async def _read(self) -> None:
        backoff = 0.2
        while True:
            pubsub = self._pubsub
            if pubsub is None:
                return
            try:
                message = await pubsub.get_message(timeout=READ_TIMEOUT)
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                # Redis away: redis-py reconnects on the next read and subscribes the topics again.
                # What was published meanwhile is lost; reply waiters look the reply up again.
                log.warning("pub/sub fan-out: %s; reconnecting in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_BACKOFF_MAX)
                continue
            if message is not None:
                self._dispatch(message)

    def _dispatch(self, message: dict) -> None:
        kind, key = message.get("type"), message.get("channel")
        if isinstance(kind, bytes):
            kind = kind.decode()
        if not isinstance(key, bytes):
            key = str(key).encode()
        if kind == "subscribe":
            if self._unconfirm(key) == 0 and key in self._subscribed:
                self._subscribed[key].set()
            return
        if kind != "message":
            return
        data = message.get("data")
        for listener in tuple(self._listeners.get(key, ())):
            try:
                listener(data if isinstance(data, bytes) else str(data).encode())
            except Exception:  # one broken listener must not starve the others
                log.exception("pub/sub listener of %r failed", key)
