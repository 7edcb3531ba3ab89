"""Telling a database (or Redis) outage from a message's own fault, and waiting one out.

A message that fails because PostgreSQL is down is not poison: its delivery must not count
toward ``HOTLINE_MAX_DELIVERIES``, and reading more entries would only fail them too.  A failure
is an outage when its exception says the connection was lost or refused, or when a probe of the
dependencies right after it fails.  The probe is what decides whether to stop and back off: an
error class alone could mistake a rejected value for a dead server (or the reverse).
"""

from __future__ import annotations

import asyncio
import logging
import socket

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 5.0


def is_connectivity_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a lost, refused or timed-out connection."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (ConnectionError, socket.gaierror, TimeoutError, PoolTimeout,
                                RedisConnectionError, RedisTimeoutError)):
            return True
        if type(current) is OSError:  # asyncio's "Multiple exceptions: [Errno 111] …" on connect
            return True
        current = current.__cause__ or current.__context__
    return False


class DependencyProbe:
    """One cheap round trip to the database and to Redis."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], redis: aioredis.Redis) -> None:
        self.sessions = sessions
        self.redis = redis

    async def healthy(self) -> bool:
        try:
            await asyncio.wait_for(self._round_trips(), timeout=PROBE_TIMEOUT)
        except Exception as exc:  # any failure to answer is the answer
            log.debug("dependency probe failed: %r", exc)
            return False
        return True

    async def _round_trips(self) -> None:
        async with self.sessions() as session:
            await session.execute(text("SELECT 1"))
        await self.redis.ping()


class Backoff:
    """Exponential waits, capped: 0.5 s, 1 s, 2 s … ``cap``."""

    def __init__(self, initial: float = 0.5, cap: float = 4.0) -> None:
        self.initial, self.cap = initial, cap
        self._next = initial

    def next(self) -> float:
        wait, self._next = self._next, min(self._next * 2, self.cap)
        return wait

    def reset(self) -> None:
        self._next = self.initial
