"""At-least-once delivery with exactly-once effects: crashes, redeliveries, poison entries."""

import asyncio
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from connectors.base import Contact, InboundMessage
from gateway.infra.metrics import METRICS
from gateway.infra.resources import REDIS, SESSIONS
from gateway.infra.stream import STREAM
from gateway.worker.consumer import Worker
from gateway.worker.service import PIPELINE
from tests.gateway.conftest import eventually
from ticketing.db.models.tickets import Entry, Ticket


def message(text="路灯不亮", sender=None, native_id=None) -> InboundMessage:
    return InboundMessage(
        channel="web", native_id=native_id or uuid.uuid4().hex, sender_id=sender or "s" + uuid.uuid4().hex,
        text=text, received_at=datetime.now(timezone.utc), contact=Contact(phone="13900001111"),
    )


async def count(app, model, *where):
    async with app[SESSIONS]() as session:
        return (await session.execute(select(func.count(model.id)).where(*where))).scalar()


def make_worker(app, consumer, **kw) -> Worker:
    return Worker(app[STREAM], app[PIPELINE], app[METRICS], consumer=consumer, claim_idle_ms=200,
                  block_ms=100, **kw)


@pytest.fixture
async def app(make_client):
    return (await make_client(run_worker=False)).app


async def test_entry_of_a_worker_killed_before_ack_is_reclaimed_and_processed_once(app):
    stream = app[STREAM]
    await stream.ensure_group()
    await stream.publish(message("燃气费怎么交"))
    # A worker reads the entry, then dies: nothing processed, nothing acknowledged.
    taken = await stream.read("worker-that-dies", count=10, block_ms=100)
    assert len(taken) == 1
    assert (await stream.backlog())["pending"] == 1

    await asyncio.sleep(0.3)  # past the claim idle time
    survivor = make_worker(app, "survivor")
    assert await survivor.reclaim_once() == 1
    assert await count(app, Ticket) == 1
    assert (await stream.backlog())["pending"] == 0
    assert await survivor.reclaim_once() == 0  # nothing left to take over
    assert await count(app, Ticket) == 1


async def test_worker_dying_after_commit_but_before_ack_makes_no_second_ticket(app):
    stream = app[STREAM]
    await stream.ensure_group()
    msg = message("供暖费退费咨询")
    await stream.publish(msg)
    taken = await stream.read("dies-after-commit", count=10, block_ms=100)
    await app[PIPELINE].process(taken[0].message())  # committed, then the process is gone
    await asyncio.sleep(0.3)
    assert await make_worker(app, "survivor").reclaim_once() == 1
    assert await count(app, Ticket) == 1
    assert await count(app, Entry, Entry.author == "citizen") == 1
    assert (await stream.backlog())["pending"] == 0


async def test_duplicate_delivery_yields_one_conversation_entry(app):
    stream = app[STREAM]
    await stream.ensure_group()
    msg = message("同一条消息")
    for _ in range(3):
        await stream.publish(msg)
    worker = make_worker(app, "w1")
    await worker.step()
    assert await count(app, Entry, Entry.author == "citizen") == 1
    assert await count(app, Entry, Entry.author == "bot") == 1
    assert (await stream.backlog())["pending"] == 0


async def test_two_workers_in_one_group_share_the_stream_without_duplicates(app):
    stream = app[STREAM]
    await stream.ensure_group()
    for i in range(40):
        await stream.publish(message(f"第{i}条诉求"))
    w1, w2 = make_worker(app, "w1", batch=5), make_worker(app, "w2", batch=5)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in (w1, w2)]

    async def all_done():
        return await count(app, Ticket) == 40 and (await stream.backlog())["pending"] == 0

    await eventually(all_done, timeout=30)
    stop.set()
    await asyncio.gather(*tasks)
    async with app[SESSIONS]() as session:
        numbers = list((await session.execute(select(Ticket.number))).scalars())
    assert len(set(numbers)) == 40


async def test_poison_entry_goes_to_dead_letters_and_can_be_replayed(app, make_client):
    stream = app[STREAM]
    await stream.ensure_group()
    await app[REDIS].xadd(app[STREAM].key, {"msg": b"{not json"})
    worker = make_worker(app, "w1")
    await worker.step()
    letters = await stream.dead_letters()
    assert len(letters) == 1 and "undecodable" in letters[0].error
    assert (await stream.backlog())["pending"] == 0


async def test_entry_failing_every_time_is_dead_lettered_after_max_deliveries(app, monkeypatch):
    stream = app[STREAM]
    await stream.ensure_group()
    await stream.publish(message("会失败的消息"))
    pipeline = app[PIPELINE]
    calls = 0

    async def failing(msg):
        nonlocal calls
        calls += 1
        raise RuntimeError("database exploded")

    async def failing_batch(msgs):
        raise RuntimeError("database exploded")

    monkeypatch.setattr(pipeline, "process", failing)
    monkeypatch.setattr(pipeline, "process_batch", failing_batch)
    worker = make_worker(app, "w1", max_deliveries=3)
    await worker.step()
    for _ in range(6):
        await asyncio.sleep(0.25)
        await worker.reclaim_once()
    assert calls == 3
    letters = await stream.dead_letters()
    assert len(letters) == 1 and "database exploded" in letters[0].error and letters[0].deliveries == 3
    assert (await stream.backlog())["pending"] == 0

    # The database is back: an admin replays it and it becomes a ticket.
    monkeypatch.undo()
    new_id = await stream.replay(letters[0].entry_id)
    assert new_id and await stream.dead_letters() == []
    await worker.step()
    assert await count(app, Ticket) == 1
