"""考评: a unit's figures, score and rank, and the reviewing staff's error figures, on a crafted month."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from tests.ticketing.factories import CHEN, DIRECTORY, HEALTH_CLERK, RUZHOU_CLERK, ZHAO, handoff_ticket
from ticketing.accounts import users
from ticketing.db.models.tickets import Dispatch, Ticket, TicketEvent
from ticketing.db.models.workflow import ExtensionRequest, SupervisionNote, Survey, UnitReport
from ticketing.tickets import store
from ticketing.tickets.lifecycle import Action
from ticketing.workflow import assignments, surveys
from ticketing.workflow.evaluation import unit_figures
from ticketing.workflow.operator_errors import operator_errors, with_corrections

START = datetime(2024, 3, 1, tzinfo=timezone.utc)
END = datetime(2024, 4, 1, tzinfo=timezone.utc)
T0 = datetime(2024, 3, 4, 1, 0, tzinfo=timezone.utc)  # Monday 09:00 in Pingdingshan
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


async def _dispatched(sessions, unit: str = "health") -> tuple[int, int]:
    ticket_id = await handoff_ticket(sessions, at=T0 - HOUR)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        row = await assignments.dispatch(session, ticket, ZHAO, DIRECTORY, target=unit, now=T0)
        return ticket_id, row.id


async def _answer(session, ticket_id: int, dispatch_id: int, at: datetime) -> Survey:
    """The unit answers at ``at``, the dispatcher accepts the answer, the survey goes out."""
    ticket = await session.get(Ticket, ticket_id)
    row = await session.get(Dispatch, dispatch_id)
    await store.transition(session, ticket, Action.SUBMIT, actor=HEALTH_CLERK.username)
    row.state, row.answered_at = "accepted", at
    report = UnitReport(ticket_id=ticket_id, dispatch_id=dispatch_id, unit=row.target, kind="answer",
                        author=HEALTH_CLERK.username, author_name=HEALTH_CLERK.display_name, text="已处理",
                        created_at=at, review_state="accepted", reviewed_by=ZHAO.username, reviewed_at=at)
    session.add(report)
    await session.flush()
    await store.transition(session, ticket, Action.APPROVE, actor=ZHAO.username)
    return await surveys.create_survey(session, ticket, DIRECTORY, dispatch=row, report=report, now=at)


async def _crafted_month(sessions) -> datetime:
    """Health: one on time and satisfied, one late (unsolved, ruled unreasonable), one returned, one
    extended (solved but unsatisfied → 重办).  Ruzhou: one signed on time, never answered.  Returns the
    last moment."""
    async with sessions() as session, session.begin():
        for name, role in (("zhao", "dispatcher"), ("chen", "supervisor"), ("li", "operator")):
            await users.create_user(session, name, role=role, password="correct-horse-9")

    on_time, on_time_row = await _dispatched(sessions)
    async with sessions() as session, session.begin():
        await assignments.sign(session, await session.get(Ticket, on_time), HEALTH_CLERK, now=T0 + HOUR)
        survey = await _answer(session, on_time, on_time_row, T0 + DAY)
        await surveys.respond(session, survey, DIRECTORY, solved=True, satisfaction="satisfied", now=T0 + 2 * DAY)

    late, late_row = await _dispatched(sessions)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, late)
        row = await assignments.sign(session, ticket, HEALTH_CLERK, now=T0 + 3 * DAY)
        assert row.signed_at > row.sign_deadline
        deadline = row.deadline
        survey = await _answer(session, late, late_row, deadline + HOUR)
        await surveys.respond(session, survey, DIRECTORY, solved=False, satisfaction="unsatisfied",
                              now=deadline + 2 * HOUR)
        await surveys.rule_unreasonable(session, survey, ticket, supervisor=CHEN.username, reason="诉求超出政策范围",
                                        now=deadline + 3 * HOUR)
        session.add(SupervisionNote(ticket_id=late, dispatch_id=late_row, unit="health", seq=1,
                                    issued_by=ZHAO.username, issued_at=deadline - DAY, text="请加快办理"))

    returned, _ = await _dispatched(sessions)
    async with sessions() as session, session.begin():
        await assignments.return_ticket(session, await session.get(Ticket, returned), HEALTH_CLERK, DIRECTORY,
                                        reason="not_our_duty", text="属住建局职责", now=T0 + HOUR)

    extended, extended_row = await _dispatched(sessions)
    async with sessions() as session, session.begin():
        row = await assignments.sign(session, await session.get(Ticket, extended), HEALTH_CLERK, now=T0 + HOUR)
        session.add(ExtensionRequest(ticket_id=extended, dispatch_id=extended_row, unit="health",
                                     requested_by=HEALTH_CLERK.username, requested_at=T0 + DAY, reason="需现场核查",
                                     previous_deadline=row.deadline, requested_deadline=row.deadline + 5 * DAY,
                                     state="approved", decided_by=ZHAO.username, decided_at=T0 + DAY))
        row.deadline += 5 * DAY
        survey = await _answer(session, extended, extended_row, T0 + 2 * DAY)
        last = deadline + 4 * HOUR
        await surveys.respond(session, survey, DIRECTORY, solved=True, satisfaction="unsatisfied", now=last)

    ruzhou, _ = await _dispatched(sessions, "ruzhou")
    async with sessions() as session, session.begin():
        await assignments.sign(session, await session.get(Ticket, ruzhou), RUZHOU_CLERK, now=T0 + HOUR)
        # The timeline's events carry the wall clock (``store.record_event`` takes no ``now``): move
        # them into the crafted month.
        await session.execute(update(TicketEvent).values(at=T0 + HOUR))
    return last


async def test_a_units_figures_score_and_rank(sessions):
    last = await _crafted_month(sessions)
    async with sessions() as session:
        rows = await unit_figures(session, DIRECTORY, start=START, end=END, now=last + timedelta(minutes=1))
    by_code = {r.code: r for r in rows}
    health = by_code["health"]
    # Six rounds: the four dispatches and the two 重办 (the ruled one withdrawn, the other still open).
    assert health.received == 6
    assert (health.signed_on_time.hits, health.signed_on_time.total) == (2, 3)  # on time, extended; late
    assert (health.answered_on_time.hits, health.answered_on_time.total) == (2, 3)
    assert health.returned.percent == pytest.approx(100 / 6) and health.extended.percent == pytest.approx(100 / 6)
    # Three surveys: satisfied; ruled unreasonable (counts as solved and satisfied); solved but unsatisfied.
    assert health.solved.percent == 100.0 and health.satisfied.percent == pytest.approx(200 / 3)
    assert health.overdue == 1 and health.supervision_notes == 1
    # 0.10·66.67 + 0.25·66.67 + 0.10·83.33 + 0.05·83.33 + 0.25·100 + 0.25·66.67
    assert health.score == pytest.approx(77.5)
    assert health.to_dict()["signed_on_time_pct"] == 66.67 and health.to_dict()["returned_pct"] == 16.67

    ruzhou = by_code["ruzhou"]
    # Signed on time but still open past its deadline; no survey yet: those rates count as 100 %.
    assert ruzhou.received == 1 and ruzhou.overdue == 1 and ruzhou.answered_on_time.percent == 0.0
    assert ruzhou.solved.percent is None and ruzhou.score == pytest.approx(75.0)
    assert [r.code for r in rows[:2]] == ["health", "ruzhou"] and (health.rank, ruzhou.rank) == (1, 2)
    idle = [r for r in rows if r.received == 0]
    assert idle and rows[-len(idle):] == idle and {r.rank for r in idle} == {0}
    assert len(rows) == len(DIRECTORY.units)


async def test_periods_and_the_horizon(sessions):
    last = await _crafted_month(sessions)
    async with sessions() as session:
        february = await unit_figures(session, DIRECTORY, start=START - 29 * DAY, end=START, now=last)
        # Read much later, the open 重办 is overdue and missed its signing: the month is judged by its end.
        later = await unit_figures(session, DIRECTORY, start=START, end=END, now=END + 60 * DAY)
    assert all(r.received == 0 and r.score == 100.0 for r in february)
    health = next(r for r in later if r.code == "health")
    # The open 重办's sign deadline passed before the month's end; its handling deadline falls after it.
    assert (health.signed_on_time.hits, health.signed_on_time.total) == (2, 4)
    assert health.overdue == 1 and health.answered_on_time.total == 3


async def test_operator_error_figures(sessions):
    last = await _crafted_month(sessions)
    async with sessions() as session:
        rows = await operator_errors(session, start=START, end=END)
    by_name = {r.username: r for r in rows}
    assert set(by_name) == {"zhao", "chen", "li"}  # the reviewing staff, not handlers or admins
    zhao = by_name["zhao"]
    # Dispatched five tickets and accepted three answers (four of the tickets); one wrong dispatch
    # (returned as not the unit's duty); one accepted answer rated unsatisfied — the unsolved one
    # was ruled unreasonable, so accepting it was no error.
    assert (zhao.reviewed, zhao.wrong_dispatches, zhao.bad_answers_approved) == (5, 1, 1)
    assert rows[0].username == "zhao" and zhao.errors == 2 and zhao.error_rate == pytest.approx(40.0)
    merged = with_corrections(rows, {"li": 3})
    assert merged[0].username == "li" and merged[0].errors == 3 and merged[0].error_rate is None
    async with sessions() as session:
        assert all(r.reviewed == 0 for r in await operator_errors(session, start=END, end=END + DAY))
    assert last < END
