"""Fixed-window rate limits in Redis, shared by every gateway process, and who the client is.

The client's address and whether it came over HTTPS are read from ``X-Forwarded-For`` /
``X-Forwarded-Proto`` only when the peer is one of ``HOTLINE_TRUSTED_PROXIES``: anyone else could
write those headers and so walk around every per-client limit.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence

import redis.asyncio as aioredis
from aiohttp import web

from gateway.infra.keys import RedisKeys
from gateway.infra.resources import SETTINGS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip().removeprefix("[").split("]")[0])
    except ValueError:
        return None


def _trusted(value: str, proxies: Sequence[Network]) -> bool:
    address = _address(value)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in proxies)


def _proxies(request: web.Request) -> Sequence[Network]:
    settings = request.config_dict.get(SETTINGS)
    return settings.trusted_proxy_networks if settings is not None else ()


def client_address(request: web.Request) -> str:
    """The client's address: the peer, or, behind trusted proxies, the nearest untrusted hop.

    ``X-Forwarded-For`` is read right to left: each trusted proxy appends the address it saw, so
    the first address that is not a trusted proxy is the real client; whatever the client wrote
    itself stands further left and is ignored.
    """
    peer = request.remote or "unknown"
    proxies = _proxies(request)
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for value in request.headers.getall("X-Forwarded-For", ())
            for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop[:64] if _address(hop) is not None else peer
    return hops[0][:64] if hops else peer


def came_over_https(request: web.Request) -> bool:
    """Served over TLS: directly, or through a trusted proxy that says so; or the deployment says
    it always is (``HOTLINE_SECURE_COOKIES``, for a proxy that sends no ``X-Forwarded-Proto``)."""
    if request.secure:
        return True
    settings = request.config_dict.get(SETTINGS)
    if settings is not None and settings.secure_cookies:
        return True
    proxies = _proxies(request)
    if not proxies or not _trusted(request.remote or "", proxies):
        return False
    # The proxy nearest to us appends last.
    values = [v.strip().lower() for value in request.headers.getall("X-Forwarded-Proto", ())
              for v in value.split(",") if v.strip()]
    return bool(values) and values[-1] == "https"


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.keys = keys

    async def allow(self, scope: str, client: str, limit: int, window_seconds: int = 60) -> bool:
        return await self.hit(scope, client, window_seconds) <= limit

    def window_key(self, scope: str, client: str, window_seconds: int = 60) -> tuple[str, int]:
        """The counter of this client's current window, and how long it must live.  (A script that
        counts and publishes in one round trip increments it itself: ``IntakeStream.admit``.)"""
        window = int(time.time() // window_seconds)
        return self.keys.key("rate", scope, client, window), window_seconds + 5

    async def hit(self, scope: str, client: str, window_seconds: int = 60) -> int:
        """Count one more in this window; the count so far."""
        key, ttl = self.window_key(scope, client, window_seconds)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, ttl)
            count, _ = await pipe.execute()
        return int(count)

    async def count(self, scope: str, client: str, window_seconds: int = 60) -> int:
        """The count of this window, without adding to it."""
        window = int(time.time() // window_seconds)
        value = await self.redis.get(self.keys.key("rate", scope, client, window))
        return int(value or 0)
