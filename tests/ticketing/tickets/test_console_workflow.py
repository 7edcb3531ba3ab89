"""Console services on both backends: claiming, classification, stats, queue order."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from config.directory import load_directory
from ticketing.accounts.roles import Actor
from ticketing.accounts.users import create_user
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.errors import ConsoleError
from ticketing.intake import manual, off_hours
from ticketing.intake.manual import ManualIntake
from ticketing.nlu_workspace import suggestions as nlu_workspace_suggestions
from ticketing.supervision import auto_assign, shifts
from ticketing.supervision import stats as supervision_stats
from ticketing.tickets import claims, classification, dispatching, handling, masking, queue, store
from ticketing.tickets.deadlines import deadline_for
from ticketing.tickets.queue import QueueFilter

DIRECTORY = load_directory()
LI = Actor("li", "李", "operator")
WANG = Actor("wang", "王", "operator")
BOSS = Actor("boss", "班长", "supervisor")


async def _ticket(sessions, *, urgent=False, at=None, predicted=True, department="urban_management",
                  request_type="complaint", text="路灯坏了") -> int:
    at = at or utcnow()
    async with sessions() as session, session.begin():
        conv = await store.lock_conversation(session, "web", "s" + uuid.uuid4().hex, at)
        ticket = await store.create_ticket(session, conversation=conv, channel="web", actor="bot", title=text,
                                              department=department if predicted else None,
                                              request_type=request_type if predicted else None, urgent=urgent,
                                              classification="predicted" if predicted else "unclassified", at=at)
        entry = await store.add_entry(session, conversation=conv, ticket=ticket, author="citizen", channel="web",
                                         text=text, at=at)
        if predicted:
            await store.add_prediction(session, ticket, entry=entry, department=department, region=None,
                                          request_type=request_type, intent="x", confidence=0.9,
                                          alternatives=[], model_version="m")
        return ticket.id


async def _get(session, tid) -> Ticket:
    return await session.get(Ticket, tid)


def test_masks():
    assert masking.mask_phone("13837512345") == "138****2345"
    assert masking.mask_phone("0375-2345678") == "037*****5678"
    assert masking.mask_phone(None) is None
    assert masking.mask_email("zhang@example.cn") == "z***@example.cn"
    assert masking.mask_openid("oABCDEFGHIJKLMN123") == "oABC…N123"


def test_shift_hours_of_the_network_hotline():
    tz = timezone(timedelta(hours=8))
    assert shifts.shift_status(DIRECTORY, datetime(2026, 3, 2, 9, 0, tzinfo=tz)).on_duty
    night = shifts.shift_status(DIRECTORY, datetime(2026, 3, 2, 22, 30, tzinfo=tz))
    assert not night.on_duty and night.next_start == datetime(2026, 3, 3, 8, 0, tzinfo=tz)
    early = shifts.shift_status(DIRECTORY, datetime(2026, 3, 2, 6, 0, tzinfo=tz))
    assert early.next_start == datetime(2026, 3, 2, 8, 0, tzinfo=tz)


async def test_concurrent_claims_have_one_winner(sessions):
    tid = await _ticket(sessions)

    async def try_claim(actor):
        async with sessions() as session:
            try:
                async with session.begin():
                    ticket = await _get(session, tid)
                    await claims.claim(session, ticket, actor)
                return actor.username
            except ConsoleError as exc:
                assert exc.status == 409
                return None

    results = await asyncio.gather(*(try_claim(a) for a in (LI, WANG, Actor("zhao", "赵", "operator"))))
    winners = [r for r in results if r]
    assert len(winners) == 1
    async with sessions() as session:
        assert (await _get(session, tid)).assignee == winners[0]


async def test_queue_order_and_search(sessions):
    now = utcnow()
    a = await _ticket(sessions, at=now - timedelta(hours=3))
    b = await _ticket(sessions, urgent=True, at=now - timedelta(hours=2))
    c = await _ticket(sessions, urgent=True, at=now - timedelta(hours=1))
    d = await _ticket(sessions, at=now - timedelta(minutes=5), text="燃气费怎么交")
    async with sessions() as session:
        page = await queue.queue(session, QueueFilter())
        assert [t.id for t in page.tickets] == [c, b, a, d] and page.total == 4
        page = await queue.queue(session, QueueFilter(), limit=1, offset=2)
        assert [t.id for t in page.tickets] == [a]
        assert [t.id for t in (await queue.queue(session, QueueFilter(q="燃气"))).tickets] == [d]
        assert [t.id for t in (await queue.queue(session, QueueFilter(urgent=False))).tickets] == [a, d]
        assert await queue.queue_counts(session) == {"pending": 4, "urgent": 2, "unclaimed": 4}


async def test_like_wildcards_in_a_search_are_literal(sessions):
    await _ticket(sessions, text="百分之百满意")
    async with sessions() as session:
        assert (await queue.queue(session, QueueFilter(q="%"))).tickets == []
        assert (await queue.queue(session, QueueFilter(q="_"))).tickets == []


async def test_corrections_feed_suggestions_and_the_owner_figures(sessions):
    tid = await _ticket(sessions)
    async with sessions() as session, session.begin():
        await create_user(session, "li", role="operator", password="long-enough-1")
        await create_user(session, "wang", role="operator", password="long-enough-1")
    async with sessions() as session, session.begin():
        changes = await classification.set_classification(session, await _get(session, tid), LI, DIRECTORY, values={})
        assert changes == []
    async with sessions() as session, session.begin():
        changes = await classification.set_classification(session, await _get(session, tid), WANG, DIRECTORY,
                                              values={"department": "transport", "urgent": True})
        assert {(c.field, c.previous_by) for c in changes} == {("department", "li"), ("urgent", "li")}
    async with sessions() as session:
        suggestions = await nlu_workspace_suggestions.training_suggestions(session)
        assert [(s.field, s.predicted, s.chosen, s.operator) for s in suggestions] == [
            ("department", "urban_management", "transport", "wang")]
        ticket = await _get(session, tid)
        # urgent: same-day deadline
        assert ticket.deadline == deadline_for(DIRECTORY, "complaint", ticket.created_at, urgent=True)
        stats = {s.username: s for s in await supervision_stats.operator_stats(session, since=utcnow() - timedelta(days=1))}
    assert stats["li"].corrected_by_others == 2 and stats["wang"].corrections_made == 2


async def test_dispatch_deadline_and_external_deadline_wins(sessions):
    tid = await _ticket(sessions, request_type="suggestion")
    async with sessions() as session, session.begin():
        ticket = await _get(session, tid)
        now = utcnow()
        row = await dispatching.dispatch(session, ticket, LI, DIRECTORY, target_kind="region", target="lushan", now=now)
        assert row.deadline == deadline_for(DIRECTORY, "suggestion", now) == ticket.deadline
        assert ticket.status == "dispatched" and ticket.region == "lushan"
    tid2 = await _ticket(sessions, request_type="consult")
    fixed = utcnow() + timedelta(days=30)
    async with sessions() as session, session.begin():
        ticket = await _get(session, tid2)
        ticket.external_deadline = fixed
        row = await dispatching.dispatch(session, ticket, LI, DIRECTORY, target_kind="department", target="health")
        assert row.deadline == fixed


async def test_reopen_returns_to_the_queue_and_ends_the_dispatch(sessions):
    tid = await _ticket(sessions)
    async with sessions() as session, session.begin():
        ticket = await _get(session, tid)
        await claims.claim(session, ticket, LI)
        await dispatching.dispatch(session, ticket, LI, DIRECTORY, target_kind="department", target="health")
        await handling.answer(session, ticket, LI)
        await handling.reopen(session, ticket, WANG, "群众不满意")
        assert ticket.status == "pending_review" and ticket.assignee is None
        assert await dispatching.active_dispatch(session, ticket) is None


async def test_auto_assign_round_robin(sessions):
    async with sessions() as session, session.begin():
        for name in ("li", "wang", "zhao"):
            user = await create_user(session, name, role="operator", password="long-enough-1")
            user.on_shift = name != "zhao"
    ids = [await _ticket(sessions) for _ in range(4)]
    got = []
    for tid in ids:
        async with sessions() as session, session.begin():
            got.append(await auto_assign.auto_assign(session, tid))
    assert sorted(got[:2]) == ["li", "wang"] and got[2:] == got[:2]
    async with sessions() as session, session.begin():
        assert await auto_assign.auto_assign(session, ids[0]) is None  # already assigned


async def test_manual_intake_owns_and_classifies(sessions):
    async with sessions() as session, session.begin():
        ticket = await manual.manual_intake(session, LI, DIRECTORY, ManualIntake(
            channel="letter", text="来信：舞钢市某路段积水", phone="13700001111", region="wugang",
            request_type="report"))
        assert ticket.channel == "letter" and ticket.assignee == "li" and ticket.classification == "confirmed"
        assert ticket.deadline == deadline_for(DIRECTORY, "report", ticket.created_at)
    with pytest.raises(ConsoleError):
        async with sessions() as session, session.begin():
            await manual.manual_intake(session, LI, DIRECTORY, ManualIntake(channel="letter", text="x",
                                                                          region="atlantis"))
    async with sessions() as session:
        rows = (await session.execute(select(Ticket))).scalars().all()
    assert len(rows) == 1


def test_off_hours_note_for_the_bot():
    tz = timezone(timedelta(hours=8))
    assert off_hours.off_hours_note(DIRECTORY, datetime(2026, 3, 2, 10, 0, tzinfo=tz)) is None
    note = off_hours.off_hours_note(DIRECTORY, datetime(2026, 3, 2, 23, 0, tzinfo=tz))
    assert "3月3日 08:00" in note and "08:00—18:00" in note
