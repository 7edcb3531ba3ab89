"""The worker's periodic jobs (deadline sweep, analytics rollups, 并单 clusters, the gathering release,
late classification) share one shape: a task that runs for as long as the app runs, does its work once a
period (under a Redis lock where only one process may), sleeps until its next period or until told to
stop, and gets a grace period on shutdown before it is cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import LockError

from connectors.task_stop import end_within

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 10.0


async def every(stop: asyncio.Event, seconds: float, job: Callable[[], Awaitable[object]], *, what: str,
                at_start: bool = False, failed: Callable[[], None] | None = None) -> None:
    """``job()`` once a period until ``stop`` (the first run a period after the start, or at once with
    ``at_start``).  A failed run is logged (and ``failed()`` counts it): Redis or the database being
    down is no reason to stop, the next period tries again."""
    if not at_start and await stopped_within(stop, seconds):
        return
    while True:
        try:
            await job()
        except Exception:  # noqa: BLE001 - see the docstring
            if failed is not None:
                failed()
            log.exception("%s failed; retrying in %ss", what, seconds)
        if await stopped_within(stop, seconds):
            return


@contextlib.asynccontextmanager
async def exclusive(redis: aioredis.Redis, key: str, seconds: float) -> AsyncIterator[bool]:
    """Whether this process got the job's lock (redis-py's ``Lock``, not waited for: another process
    holding it does this period's work); released afterwards.  The timeout bounds how long a process
    that died holding it keeps the others out."""
    lock = redis.lock(key, timeout=seconds, blocking=False, thread_local=False)
    if not await lock.acquire():
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(LockError):  # it lapsed, or Redis is gone: it expires by itself
            await lock.release()


async def stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Whether ``stop`` was set within ``seconds``."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


@contextlib.asynccontextmanager
async def background_task(run: Callable[[asyncio.Event], Awaitable[None]], *, name: str) -> AsyncIterator[asyncio.Task]:
    """``run(stop)`` as a task for the body of the ``async with``; then ``stop`` is set and the task gets
    ``SHUTDOWN_GRACE_SECONDS`` to end before it is cancelled."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(stop), name=name)
    try:
        yield task
    finally:
        stop.set()
        await end_within(task, SHUTDOWN_GRACE_SECONDS)
