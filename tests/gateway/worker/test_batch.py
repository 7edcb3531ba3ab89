"""The batch path keeps every guarantee of the one-by-one intake, on both backends.

Order per citizen, dedupe on redelivery, acknowledgement only after the commit, follow-ups
threaded, poison messages dead-lettered without sinking their batch, a small pool never
exhausted by a batch of 1000, and ticket numbers unique under two concurrent workers.
"""

import asyncio
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from connectors.base import AttachmentRef, Contact, InboundMessage
from gateway.infra.metrics import METRICS
from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, SESSIONS
from gateway.infra.stream import STREAM
from gateway.worker.consumer import Worker
from gateway.worker.pipeline import Pipeline
from gateway.worker.service import PIPELINE
from tests.gateway.conftest import eventually
from ticketing.db.engine import session_factory
from ticketing.db.models.tickets import Entry, Prediction, Ticket, TicketEvent
from ticketing.tickets.numbering import NUMBER_RE


def message(text="路灯不亮", sender=None, native_id=None, **kw) -> InboundMessage:
    return InboundMessage(
        channel="web", native_id=native_id or uuid.uuid4().hex, sender_id=sender or "s" + uuid.uuid4().hex,
        text=text, received_at=datetime.now(timezone.utc), contact=Contact(phone="13900001111"), **kw,
    )


async def count(app, model, *where):
    async with app[SESSIONS]() as session:
        return (await session.execute(select(func.count(model.id)).where(*where))).scalar()


def make_worker(app, consumer="w1", pipeline=None, **kw) -> Worker:
    options = dict(consumer=consumer, claim_idle_ms=200, block_ms=100, batch=100)
    options.update(kw)
    return Worker(app[STREAM], pipeline or app[PIPELINE], app[METRICS], **options)


async def publish_all(app, messages) -> None:
    stream = app[STREAM]
    await stream.ensure_group()
    async with stream.redis.pipeline(transaction=False) as pipe:
        for msg in messages:
            pipe.xadd(stream.key, {"msg": msg.to_json().encode()})
        await pipe.execute()


@pytest.fixture
async def app(make_client):
    return (await make_client(run_worker=False)).app


async def test_a_batch_of_new_matters_makes_one_ticket_each_with_its_receipt_and_events(app):
    msgs = [message(f"第{i}条诉求：小区门口路灯坏了") for i in range(30)]
    await publish_all(app, msgs)
    worker = make_worker(app)
    assert await worker.step() == 30
    assert await count(app, Ticket) == 30
    assert await count(app, Entry, Entry.author == "citizen") == 30
    assert await count(app, Entry, Entry.author == "bot") == 30
    assert await count(app, TicketEvent, TicketEvent.action == "created") == 30
    assert (await app[STREAM].backlog())["pending"] == 0
    replies = app[REPLIES]
    for msg in msgs:
        reply = await replies.get("web", msg.native_id)
        number = await replies.ticket_no("web", msg.native_id)
        assert reply is not None and "工单号" in reply and number in reply and NUMBER_RE.fullmatch(number)
    async with app[SESSIONS]() as session:
        ticket = (await session.execute(select(Ticket).limit(1))).scalar_one()
        assert ticket.citizen_phone == "13900001111" and ticket.status == "pending_review"
        assert ticket.title and ticket.conversation_id is not None


async def test_one_citizens_messages_keep_their_order_and_thread_onto_their_ticket(app):
    sender = "s" + uuid.uuid4().hex
    own = [message(f"我的第{i}条消息", sender=sender) for i in range(4)]
    others = [message(f"别人的诉求{i}") for i in range(10)]
    await publish_all(app, [own[0], *others[:5], own[1], own[2], *others[5:], own[3]])
    await make_worker(app).step()
    assert await count(app, Ticket) == 11  # one for the citizen, one for each other sender
    async with app[SESSIONS]() as session:
        rows = (await session.execute(
            select(Entry.text, Entry.ticket_id).where(Entry.author == "citizen", Entry.text.like("我的%"))
            .order_by(Entry.id))).all()
        followups = await session.execute(
            select(func.count(TicketEvent.id)).where(TicketEvent.action == "followup"))
    assert [text for text, _ in rows] == [m.text for m in own]
    assert len({ticket_id for _, ticket_id in rows}) == 1  # the later ones joined the first's ticket
    assert followups.scalar() == 3
    assert (await app[STREAM].backlog())["pending"] == 0


async def test_the_run_loop_overlaps_batches_of_other_citizens_and_never_splits_a_citizen(app, monkeypatch):
    # Small batches, each citizen's messages spread over several of them: batches of different
    # citizens run side by side, a batch holding a citizen of one in flight waits for it.
    senders = ["s" + uuid.uuid4().hex for _ in range(6)]
    own = {sender: [message(f"{sender[:6]}的第{i}条消息", sender=sender) for i in range(3)] for sender in senders}
    strangers = [message(f"别人的诉求{i}") for i in range(60)]
    order = [*strangers[:20], *(own[s][0] for s in senders), *strangers[20:40],
             *(own[s][1] for s in senders), *strangers[40:], *(own[s][2] for s in senders)]
    await publish_all(app, order)
    worker = make_worker(app, batch=5)
    together: list[set[tuple[str, str]]] = []
    process = worker._process

    async def watched(ready):
        held = list(worker._in_flight.values())
        if len(held) > 1:
            together.append(set().union(*held))
        for i, citizens in enumerate(held):
            assert all(not citizens & other for other in held[i + 1:])  # no citizen in two of them
        await process(ready)

    monkeypatch.setattr(worker, "_process", watched)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        # Every message stored, not just every ticket made: the 66th ticket can come before the
        # last citizens' follow-ups are even read, and those are neither pending nor stored yet.
        await eventually(lambda: _count_is(app, Entry, len(order), Entry.author == "citizen"), timeout=60)
        await eventually(lambda: _backlog_empty(app), timeout=10)
    finally:
        stop.set()
        await task
    assert together, "no two batches were ever in flight together"
    assert len(worker._in_flight) == 0
    assert await count(app, Ticket) == 66  # one for each stranger, one for each citizen
    async with app[SESSIONS]() as session:
        for sender in senders:
            rows = (await session.execute(
                select(Entry.text, Entry.ticket_id).join(Ticket, Ticket.id == Entry.ticket_id)
                .where(Entry.author == "citizen", Entry.text.like(f"{sender[:6]}%")).order_by(Entry.id))).all()
            assert [text for text, _ in rows] == [m.text for m in own[sender]]
            assert len({ticket_id for _, ticket_id in rows}) == 1


async def _count_is(app, model, n, *where) -> bool:
    return await count(app, model, *where) == n


async def _backlog_empty(app) -> bool:
    backlog = await app[STREAM].backlog()
    return backlog["pending"] == 0 and backlog["lag"] == 0


async def test_a_citizen_with_an_open_ticket_is_answered_by_the_rules_in_a_later_batch(app):
    sender = "s" + uuid.uuid4().hex
    await publish_all(app, [message("路灯不亮", sender=sender)])
    worker = make_worker(app)
    await worker.step()
    follow = message("补充一下：是建设路北段", sender=sender)
    await publish_all(app, [follow, message("另一位市民的诉求")])
    await worker.step()
    assert await count(app, Ticket) == 2
    reply = await app[REPLIES].get("web", follow.native_id)
    number = await app[REPLIES].ticket_no("web", follow.native_id)
    assert reply is not None and "已收到您的补充信息" in reply and number in reply


async def test_a_redelivered_batch_stores_nothing_twice(app):
    msgs = [message(f"重复投递的诉求{i}") for i in range(10)]
    await publish_all(app, msgs + msgs[:4])  # four of them twice in one read
    worker = make_worker(app)
    await worker.step()
    await publish_all(app, msgs)  # and all again later
    await worker.step()
    assert await count(app, Entry, Entry.author == "citizen") == 10
    assert await count(app, Entry, Entry.author == "bot") == 10
    assert await count(app, Ticket) == 10
    assert (await app[STREAM].backlog())["pending"] == 0


async def test_killed_between_commit_and_ack_the_redelivery_makes_no_second_entry(app):
    msgs = [message(f"提交后崩溃{i}") for i in range(8)]
    await publish_all(app, msgs)
    stream = app[STREAM]
    taken = await stream.read("dies-after-commit", count=100, block_ms=100)
    results = await app[PIPELINE].process_batch([entry.message() for entry in taken])
    assert all(outcome is not None for outcome, _ in results)  # committed; the process dies here
    assert (await stream.backlog())["pending"] == 8  # nothing acknowledged
    await asyncio.sleep(0.3)
    survivor = make_worker(app, "survivor")
    assert await survivor.reclaim_once() == 8
    assert await count(app, Entry, Entry.author == "citizen") == 8
    assert await count(app, Ticket) == 8
    assert (await stream.backlog())["pending"] == 0
    for msg, (outcome, _) in zip(msgs, results):  # the stored receipt is announced again
        assert await app[REPLIES].get("web", msg.native_id) == outcome.reply


async def test_a_poison_message_is_dead_lettered_and_its_batch_is_still_stored(app, monkeypatch):
    pipeline = app[PIPELINE]
    poison = message("有毒的消息")
    msgs = [message(f"正常诉求{i}") for i in range(6)]
    batch_take_in, rules_take_in = pipeline.batch.take_in, pipeline.intake.take_in

    async def batch_fails_on_poison(session, batch):
        if any(msg.native_id == poison.native_id for msg, _ in batch):
            raise ValueError("a value the database refuses")
        return await batch_take_in(session, batch)

    async def rules_fail_on_poison(session, msg, classification, dialogue=None):
        if msg.native_id == poison.native_id:
            raise ValueError("a value the database refuses")
        return await rules_take_in(session, msg, classification, dialogue)

    monkeypatch.setattr(pipeline.batch, "take_in", batch_fails_on_poison)
    monkeypatch.setattr(pipeline.intake, "take_in", rules_fail_on_poison)
    await publish_all(app, [*msgs[:3], poison, *msgs[3:]])
    worker = make_worker(app, max_deliveries=1)
    await worker.step()
    assert await count(app, Ticket) == 6
    letters = await app[STREAM].dead_letters()
    assert len(letters) == 1 and letters[0].original_id and "refuses" in letters[0].error
    assert (await app[STREAM].backlog())["pending"] == 0


def small_pool_pipeline(app, stack) -> Pipeline:
    """A pipeline on a pool of three connections that times out after 2 s (the default is 30 + 10)."""
    connect_args = {"timeout": 30} if stack.backend == "embedded" else {}
    engine = create_async_engine(stack.database_url, pool_size=3, max_overflow=0, pool_timeout=2,
                                 connect_args=connect_args)
    return Pipeline(session_factory(engine), app[REPLIES], app[DIRECTORY], app[METRICS])


async def test_a_batch_of_1000_on_a_small_pool_neither_exhausts_it_nor_dead_letters(app, stack):
    # New matters, second messages (follow-ups, one by one), and messages with an attachment (new
    # tickets one by one, each needing a number): every path that holds a connection.
    firsts = [message(f"批量诉求{i}") for i in range(800)]
    seconds = [message(f"补充说明{i}", sender=msg.sender_id) for i, msg in enumerate(firsts[:100])]
    photo = AttachmentRef("a.jpg", "image/jpeg", 10, "x/a.jpg", "image")
    with_files = [message(f"附图诉求{i}", attachments=(photo,)) for i in range(100)]
    await publish_all(app, firsts + seconds + with_files)
    pipeline = small_pool_pipeline(app, stack)
    worker = make_worker(app, "w-small", pipeline=pipeline, batch=1000, max_deliveries=1)
    try:
        assert await asyncio.wait_for(worker.step(), timeout=120) == 1000
    finally:
        await pipeline.aclose()
        await pipeline.sessions.kw["bind"].dispose()
    assert await app[STREAM].dead_letters() == []
    assert not worker.in_outage
    assert await count(app, Ticket) == 900
    assert await count(app, Entry, Entry.author == "citizen") == 1000
    assert (await app[STREAM].backlog())["pending"] == 0


async def test_two_workers_mint_unique_numbers(app):
    msgs = [message(f"并发诉求{i}") for i in range(300)]
    msgs += [message("附件诉求", attachments=(AttachmentRef("b.png", "image/png", 5, "x/b.png", "image"),))
             for _ in range(20)]
    await publish_all(app, msgs)
    stop = asyncio.Event()
    workers = [make_worker(app, f"w{i}", batch=25) for i in range(2)]
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]

    async def all_done():
        return await count(app, Ticket) == 320 and (await app[STREAM].backlog())["pending"] == 0

    try:
        await eventually(all_done, timeout=60)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    async with app[SESSIONS]() as session:
        numbers = list((await session.execute(select(Ticket.number))).scalars())
    assert len(set(numbers)) == 320 and all(NUMBER_RE.fullmatch(n) for n in numbers)


async def test_a_classified_message_gets_its_prediction_in_the_batch(app):
    from ticketing.intake.contract import Classification

    pipeline = app[PIPELINE]
    # What the NLU says is the pipeline's input here; tests/gateway/worker/test_pipeline_nlu.py asks Rasa.
    ranking = ({"code": "complaint", "confidence": 0.55}, {"code": "report", "confidence": 0.4})
    classification = Classification(handoff=True, department="urban_management", intent="dept_urban_management",
                                    confidence=0.9, model="m1", request_type="complaint",
                                    request_type_alternatives=ranking)
    msg = message("路边占道经营")
    async with app[SESSIONS]() as session, session.begin():
        [outcome] = await pipeline.batch.take_in(session, [(msg, classification)])
    assert outcome is not None and outcome.kind == "ticket"
    assert await count(app, Prediction) == 1
    async with app[SESSIONS]() as session:
        prediction = (await session.execute(select(Prediction))).scalar_one()
    assert prediction.request_type_alternatives == list(ranking)  # the console's 请核对 reads it
    async with app[SESSIONS]() as session:
        ticket = (await session.execute(select(Ticket))).scalar_one()
    assert ticket.department == "urban_management" and ticket.classification == "predicted"
    assert outcome.reply and ticket.number in outcome.reply
