"""A database outage is not the message's fault: the worker pauses, then drains its own entries.

The outage here is simulated (the pipeline refuses connections, the probe says the database
is away); tests/hostile/test_worker_outage.py cuts a real PostgreSQL connection for 15 s.
"""

import asyncio
import time
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from connectors.base import Contact, InboundMessage
from gateway.infra.metrics import METRICS
from gateway.infra.resources import SESSIONS
from gateway.infra.stream import STREAM
from gateway.worker.consumer import DEPTH, Worker
from gateway.worker.outage import Backoff, is_connectivity_error
from gateway.worker.service import PIPELINE
from tests.gateway.conftest import eventually
from ticketing.db.models.tickets import Ticket


def message(text: str) -> InboundMessage:
    return InboundMessage(channel="web", native_id=uuid.uuid4().hex, sender_id="s" + uuid.uuid4().hex,
                          text=text, received_at=datetime.now(timezone.utc), contact=Contact(phone="13900001111"))


async def tickets(app) -> int:
    async with app[SESSIONS]() as session:
        return (await session.execute(select(func.count(Ticket.id)))).scalar()


class Outage:
    """Switches the database 'off' for the pipeline and the probe."""

    def __init__(self, worker: Worker, monkeypatch) -> None:
        self.down = False
        self.attempts = 0
        original_process, original_healthy = worker.pipeline.process, worker.probe.healthy

        async def process(msg):
            self.attempts += 1
            if self.down:
                raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
            return await original_process(msg)

        async def healthy():
            return not self.down and await original_healthy()

        original_batch = worker.pipeline.process_batch

        async def process_batch(msgs):
            self.attempts += len(msgs)
            if self.down:
                raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
            return await original_batch(msgs)

        monkeypatch.setattr(worker.pipeline, "process", process)
        monkeypatch.setattr(worker.pipeline, "process_batch", process_batch)
        monkeypatch.setattr(worker.probe, "healthy", healthy)


@pytest.fixture
async def app(make_client):
    return (await make_client(run_worker=False)).app


def make_worker(app, **kw) -> Worker:
    # A claim idle time far above the test: recovery must not depend on XAUTOCLAIM.
    options = dict(consumer="w1", claim_idle_ms=60_000, block_ms=50, batch=8, max_deliveries=2,
                   outage_backoff_cap=0.2)
    options.update(kw)
    return Worker(app[STREAM], app[PIPELINE], app[METRICS], **options)


async def test_an_outage_pauses_reading_dead_letters_nothing_and_drains_at_once(app, monkeypatch):
    stream = app[STREAM]
    await stream.ensure_group()
    worker = make_worker(app)
    outage = Outage(worker, monkeypatch)
    outage.down = True
    for i in range(40):
        await stream.publish(message(f"停电期间的第{i}条诉求"))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await eventually(lambda: _true(worker.in_outage), timeout=10)
        await asyncio.sleep(1.5)  # several probes and re-reads' worth of outage
        # It stopped at the first failures instead of failing every entry again and again: the
        # batches in flight when the database went away, and no read after.
        assert outage.attempts <= worker.batch * DEPTH
        assert (await stream.backlog())["pending"] <= worker.batch * DEPTH  # the rest was never read
        outage.down = False
        recovered = time.monotonic()
        await eventually(lambda: _all_done(app, 40), timeout=20)
        assert time.monotonic() - recovered < 5
    finally:
        stop.set()
        await task
    assert await stream.dead_letters() == []


async def test_outage_deliveries_do_not_count_toward_max_deliveries(app, monkeypatch):
    stream = app[STREAM]
    await stream.ensure_group()
    worker = make_worker(app, max_deliveries=2)
    outage = Outage(worker, monkeypatch)
    outage.down = True
    await stream.publish(message("数据库宕机时收到的诉求"))
    await worker.step()
    assert worker.in_outage
    for _ in range(5):  # five more outage deliveries of the same entry
        await worker.drain_own_pending()
    assert await stream.dead_letters() == [] and await tickets(app) == 0
    outage.down = False
    worker.in_outage = False
    assert await worker.drain_own_pending() == 1
    assert await tickets(app) == 1 and (await stream.backlog())["pending"] == 0


async def test_a_failure_the_probe_does_not_confirm_still_counts(app, monkeypatch):
    stream = app[STREAM]
    await stream.ensure_group()
    worker = make_worker(app, max_deliveries=2, claim_idle_ms=100)

    async def refused(msg):
        raise ConnectionRefusedError(111, "refused, but the database answers the probe")

    monkeypatch.setattr(worker.pipeline, "process", refused)
    monkeypatch.setattr(worker.pipeline, "process_batch", refused)
    await stream.publish(message("总是失败的诉求"))
    await worker.step()
    assert not worker.in_outage
    for _ in range(3):
        await asyncio.sleep(0.15)
        await worker.reclaim_once()
    letters = await stream.dead_letters()
    assert len(letters) == 1 and letters[0].deliveries == 2


async def test_reclaim_takes_every_idle_entry_not_one_batch_per_period(app):
    stream = app[STREAM]
    await stream.ensure_group()
    for i in range(30):
        await stream.publish(message(f"崩溃的工作进程留下的第{i}条"))
    assert len(await stream.read("crashed", count=100, block_ms=50)) == 30
    await asyncio.sleep(0.15)
    worker = make_worker(app, claim_idle_ms=100, batch=8)
    assert await worker.reclaim_once() == 30
    assert await tickets(app) == 30


def test_connectivity_errors_are_told_from_the_messages_own():
    assert is_connectivity_error(ConnectionRefusedError(111, "refused"))
    assert is_connectivity_error(OSError("Multiple exceptions: [Errno 111] Connect call failed"))
    try:
        try:
            raise ConnectionResetError("reset by peer")
        except ConnectionResetError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert is_connectivity_error(outer)
    assert not is_connectivity_error(ValueError("A string literal cannot contain NUL (0x00) characters."))
    assert not is_connectivity_error(FileNotFoundError("no such attachment"))


def test_backoff_doubles_up_to_its_cap_and_starts_over():
    backoff = Backoff(initial=0.5, cap=4.0)
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next() == 0.5


async def _true(value: bool) -> bool:
    return value


async def _all_done(app, n: int) -> bool:
    return await tickets(app) == n and (await app[STREAM].backlog())["pending"] == 0
