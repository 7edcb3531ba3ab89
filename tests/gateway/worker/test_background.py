"""The periodic jobs' shared parts: one run a period whatever fails, and one process at a time."""

import asyncio
import uuid

from gateway.infra.resources import REDIS
from gateway.worker.background import every, exclusive


async def test_only_one_holder_and_the_lock_is_free_again_after(make_client):
    redis = (await make_client(run_worker=False)).app[REDIS]
    key = f"test:{uuid.uuid4().hex}:lock"
    async with exclusive(redis, key, 30) as first:
        async with exclusive(redis, key, 30) as second:
            assert (first, second) == (True, False)
    async with exclusive(redis, key, 30) as again:
        assert again
    assert await redis.exists(key) == 0


async def test_a_failing_run_is_counted_and_the_next_period_runs_again():
    stop, runs, failures = asyncio.Event(), [], []

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 3:
            stop.set()
        raise RuntimeError("database away")

    await asyncio.wait_for(every(stop, 0.01, job, what="test job", at_start=True,
                                 failed=lambda: failures.append(1)), timeout=5)
    assert runs == [0, 1, 2] and len(failures) == 3


async def test_the_first_run_waits_a_period_unless_asked_to_start_at_once():
    stop, runs = asyncio.Event(), []

    async def job() -> None:
        runs.append(1)

    stop.set()  # stopped before the first period ended
    await every(stop, 10, job, what="test job")
    assert runs == []
    await every(stop, 10, job, what="test job", at_start=True)
    assert runs == [1]
