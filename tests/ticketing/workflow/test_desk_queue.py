"""A unit's queue: which dispatch lands in which tab, the counts, and what a row says, on a crafted
set of dispatches with a frozen clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.ticketing.factories import CHEN, DIRECTORY, HEALTH_CLERK, ZHAO, handoff_ticket
from ticketing.db.models.tickets import Ticket
from ticketing.workflow import assignments, desk_queue, reports, reviews, supervision_notes

# Wednesday 2025-03-12 10:00 in Pingdingshan: every sign deadline of three days before has passed.
NOW = datetime(2025, 3, 12, 2, 0, tzinfo=timezone.utc)
H, D = timedelta(hours=1), timedelta(days=1)


async def _dispatched(sessions, *, at: datetime, target: str = "health", deadline: datetime | None = None,
                      signed: bool = False) -> int:
    ticket_id = await handoff_ticket(sessions, at=at - H)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await assignments.dispatch(session, ticket, ZHAO, DIRECTORY, target=target, deadline=deadline,
                                   deadline_reason="领导批示" if deadline else None, now=at)
        if signed:
            await assignments.sign(session, ticket, HEALTH_CLERK, now=at + H)
    return ticket_id


@pytest.fixture
async def crafted(sessions) -> dict[str, int]:
    ids = {
        "fresh": await _dispatched(sessions, at=NOW - H),
        "working": await _dispatched(sessions, at=NOW - 2 * H, signed=True),
        "nearly_due": await _dispatched(sessions, at=NOW - 9 * D, deadline=NOW + D, signed=True),
        "late": await _dispatched(sessions, at=NOW - 5 * D, deadline=NOW - H, signed=True),
        "unsigned_late": await _dispatched(sessions, at=NOW - 3 * D),
        "returned": await _dispatched(sessions, at=NOW - 4 * D),
        "returned_long_ago": await _dispatched(sessions, at=NOW - 120 * D),
        "accepted": await _dispatched(sessions, at=NOW - 6 * D, signed=True),
        "other_unit": await _dispatched(sessions, at=NOW - 9 * D, target="ruzhou", deadline=NOW + D),
    }
    async with sessions() as session, session.begin():
        for key, when in (("returned", NOW - 2 * D), ("returned_long_ago", NOW - 100 * D)):
            ticket = await session.get(Ticket, ids[key])
            await assignments.return_ticket(session, ticket, HEALTH_CLERK, DIRECTORY, reason="not_our_duty",
                                            text="应由住建局办理", now=when)
        ticket = await session.get(Ticket, ids["accepted"])
        await reports.submit_answer(session, ticket, HEALTH_CLERK, "已联系群众并现场处理完毕，路灯已修复。",
                                    now=NOW - 3 * D)
        await reviews.approve(session, ticket, CHEN, DIRECTORY, now=NOW - 2 * D)
        # Not solved: the same unit gets it again, a new round (重办).
        await assignments.redo(session, ticket, DIRECTORY, actor="citizen", reason="群众评价：问题未解决",
                               now=NOW - H)
        ticket = await session.get(Ticket, ids["nearly_due"])
        await supervision_notes.issue(session, ticket, ZHAO, DIRECTORY, text="请尽快办理", now=NOW - 2 * H)
    return ids


async def _numbers(sessions, tab: str) -> list[str]:
    async with sessions() as session:
        page = await desk_queue.unit_queue(session, "health", tab=tab, now=NOW, warn_at=0.8)
    return [row.number for row in page.rows]


async def _number_of(sessions, ticket_id: int) -> str:
    async with sessions() as session:
        return (await session.get(Ticket, ticket_id)).number


async def test_every_dispatch_lands_in_its_tabs_and_the_counts_agree(sessions, crafted):
    n = {key: await _number_of(sessions, tid) for key, tid in crafted.items()}
    async with sessions() as session:
        counts = await desk_queue.tab_counts(session, "health", now=NOW, warn_at=0.8)
    assert counts == {"pending_sign": 3, "handling": 3, "warning": 1, "overdue": 2, "returned": 1, "done": 1}
    assert set(await _numbers(sessions, "pending_sign")) == {n["fresh"], n["unsigned_late"], n["accepted"]}
    assert set(await _numbers(sessions, "handling")) == {n["working"], n["nearly_due"], n["late"]}
    assert await _numbers(sessions, "warning") == [n["nearly_due"]]
    # Sorted by deadline: the one past its deadline first.
    assert await _numbers(sessions, "overdue") == [n["late"], n["unsigned_late"]]
    assert await _numbers(sessions, "returned") == [n["returned"]]
    assert await _numbers(sessions, "done") == [n["accepted"]]
    assert n["other_unit"] not in sum([await _numbers(sessions, tab) for tab in desk_queue.TABS], [])


async def test_rows_carry_role_round_redo_timing_and_open_supervision(sessions, crafted):
    async with sessions() as session:
        page = await desk_queue.unit_queue(session, "health", tab="pending_sign", now=NOW, warn_at=0.8)
        handling = await desk_queue.unit_queue(session, "health", tab="handling", now=NOW, warn_at=0.8)
    redo = next(r for r in page.rows if r.redo)
    assert redo.round == 2 and redo.role == "lead" and redo.timing.sign == "ok"
    late_sign = next(r for r in page.rows if r.timing.sign == "overdue")
    assert late_sign.timing.label == "超时未签收"
    by_label = {r.timing.label for r in handling.rows}
    assert by_label == {"正常", "即将超期", "已超期"}
    nearly = next(r for r in handling.rows if r.timing.handle == "warning")
    assert nearly.unacknowledged == 1
    assert all(r.unacknowledged == 0 for r in handling.rows if r is not nearly)
    deadlines = [r.deadline for r in handling.rows]
    assert deadlines == sorted(deadlines)


async def test_paging_and_a_unit_without_work(sessions, crafted):
    async with sessions() as session:
        first = await desk_queue.unit_queue(session, "health", tab="handling", now=NOW, offset=0, limit=2)
        rest = await desk_queue.unit_queue(session, "health", tab="handling", now=NOW, offset=2, limit=2)
        empty = await desk_queue.unit_queue(session, "transport", tab="pending_sign", now=NOW)
    assert len(first.rows) == 2 and len(rest.rows) == 1 and first.total == 3
    assert {r.number for r in first.rows}.isdisjoint(r.number for r in rest.rows)
    assert empty.rows == [] and set(empty.counts.values()) == {0}
    with pytest.raises(ValueError):
        async with sessions() as session:
            await desk_queue.unit_queue(session, "health", tab="nonsense", now=NOW)
