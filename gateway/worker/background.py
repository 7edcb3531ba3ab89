"""The worker's periodic jobs (deadline sweep, analytics rollups, late classification) share one shape:
a task that runs for as long as the app runs, sleeps until its next period or until told to stop, and gets
a grace period on shutdown before it is cancelled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

SHUTDOWN_GRACE_SECONDS = 10.0


async def stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Whether ``stop`` was set within ``seconds``."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


@contextlib.asynccontextmanager
async def background_task(run: Callable[[asyncio.Event], Awaitable[None]], *, name: str) -> AsyncIterator[asyncio.Task]:
    """``run(stop)`` as a task for the body of the ``async with``; then ``stop`` is set and the task gets
    ``SHUTDOWN_GRACE_SECONDS`` to end (wait_for cancels it after that)."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(stop), name=name)
    try:
        yield task
    finally:
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, timeout=SHUTDOWN_GRACE_SECONDS)
