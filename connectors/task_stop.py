"""Stopping background tasks for sure: cancel until they have ended, not just once.

On Python 3.11 one ``cancel()`` does not always stop a task.  ``asyncio.wait_for`` swallows a
cancellation that arrives in the moment its inner awaitable completes: it returns the result and
the task runs on as if nothing had happened (CPython gh-86296, mended in 3.12 only).  redis-py
wraps every command it sends in ``wait_for`` when a ``socket_timeout`` is set, as ours is, so a
loop that talks to Redis loses a cancellation now and then (a loop of PINGs, more than half of
them: ``tests/connectors/test_task_stop.py``), and whoever awaited it after ``cancel()`` waited
for ever: a hung shutdown, or a test's teardown that never ends.  Cancelling again once the first
request has had its chance ends such a task at its next await.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

# How long a cancelled task may take over its own clean-up before it is cancelled again.  A
# swallowed cancellation is only noticed this late; a clean-up that takes longer is cut short,
# which is what a cancellation asks for anyway.
RECANCEL_SECONDS = 0.5


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]], *,
                          recancel_seconds: float = RECANCEL_SECONDS) -> list[Any]:
    """Cancel the tasks and return once every one has ended, with what each ended with
    (a result, an exception or a ``CancelledError``), as ``gather(return_exceptions=True)`` does."""
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=recancel_seconds)
    return await asyncio.gather(*tasks, return_exceptions=True)


async def end_within(task: asyncio.Future[Any], grace: float) -> None:
    """Give a task that has been asked to stop ``grace`` seconds to end by itself, then cancel it
    for sure.  An error it ended with (not a cancellation) is raised here, as ``wait_for`` would."""
    try:
        await asyncio.wait({task}, timeout=grace)
    except asyncio.CancelledError:
        await cancel_and_wait([task])  # the one waiting gives up: the task goes with it
        raise
    if not task.done():
        await cancel_and_wait([task])
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
