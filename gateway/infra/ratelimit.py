"""Fixed-window rate limits in Redis, shared by every gateway process."""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from aiohttp import web

from gateway.infra.keys import RedisKeys


def client_address(request: web.Request) -> str:
    # Behind the city's reverse proxy the peer is the proxy; trust X-Forwarded-For only from loopback.
    peer = request.remote or "unknown"
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded and peer in ("127.0.0.1", "::1"):
        return forwarded.split(",")[0].strip()[:64]
    return peer


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.keys = keys

    async def allow(self, scope: str, client: str, limit: int, window_seconds: int = 60) -> bool:
        window = int(time.time() // window_seconds)
        key = self.keys.key("rate", scope, client, window)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_seconds + 5)
            count, _ = await pipe.execute()
        return int(count) <= limit
