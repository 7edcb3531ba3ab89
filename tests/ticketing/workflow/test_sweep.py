"""The deadline sweep on a frozen clock: each rule once per dispatch, never for work a unit is done with."""

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from tests.ticketing.factories import DIRECTORY, HEALTH_CLERK, ZHAO, handoff_ticket
from ticketing.db.models.tickets import Dispatch, Ticket, TicketEvent
from ticketing.workflow import assignments
from ticketing.workflow.sweep import local_text, sweep
from ticketing.workflow.timing import warning_at

# Monday 2 November 2026, 10:00 in Pingdingshan: no holiday near, so the deadlines are plain.
DISPATCHED = datetime(2026, 11, 2, 2, tzinfo=timezone.utc)


async def _dispatched(sessions, *, assists=(), at=DISPATCHED) -> tuple[int, str]:
    ticket_id = await handoff_ticket(sessions, request_type="complaint", at=at)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await assignments.dispatch(session, ticket, ZHAO, DIRECTORY, target="health", assists=list(assists), now=at)
        return ticket_id, ticket.number


async def _lead(sessions, ticket_id) -> Dispatch:
    async with sessions() as session:
        return (await session.execute(select(Dispatch).where(Dispatch.ticket_id == ticket_id,
                                                             Dispatch.role == "lead"))).scalar_one()


async def _sweep(sessions, now):
    async with sessions() as session, session.begin():
        return await sweep(session, DIRECTORY, now=now)


async def _sweep_events(sessions, ticket_id) -> list[str]:
    async with sessions() as session:
        return list((await session.execute(
            select(TicketEvent.action).where(TicketEvent.ticket_id == ticket_id, TicketEvent.actor == "system")
            .order_by(TicketEvent.id))).scalars())


async def test_an_unsigned_dispatch_is_flagged_once_when_its_sign_deadline_passes(sessions):
    ticket_id, number = await _dispatched(sessions)
    row = await _lead(sessions, ticket_id)
    # 签收时限: the end of the next working day, Tuesday 3 November 23:59:59 local.
    assert local_text(row.sign_deadline) == "2026年11月3日 23:59"

    assert await _sweep(sessions, row.sign_deadline) == []  # not yet: the whole last second is the unit's
    after = row.sign_deadline + timedelta(minutes=1)
    notices = await _sweep(sessions, after)
    assert [(n.unit, n.ticket_no, n.kind) for n in notices] == [("health", number, "sign_overdue")]
    notice = notices[0]
    assert notice.subject == f"【超时未签收】工单 {number}"
    assert notice.body.startswith(f"{DIRECTORY.unit('health').name}：")
    assert number in notice.body and "2026年11月3日 23:59" in notice.body
    assert f"/desk/tickets/{number}" in notice.body

    assert await _sweep(sessions, after) == []  # the same moment again
    assert await _sweep(sessions, after + timedelta(hours=2)) == []  # and later: flagged already
    assert (await _lead(sessions, ticket_id)).sign_flagged_at == after
    assert await _sweep_events(sessions, ticket_id) == ["sign_overdue"]


async def test_a_reminder_at_80_percent_then_overdue_each_once(sessions):
    ticket_id, number = await _dispatched(sessions)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await assignments.sign(session, ticket, HEALTH_CLERK, now=DISPATCHED + timedelta(hours=1))
    row = await _lead(sessions, ticket_id)
    warn = warning_at(row.at, row.deadline, DIRECTORY.handling.warn_at_fraction)
    assert row.at < warn < row.deadline

    assert await _sweep(sessions, warn - timedelta(seconds=1)) == []
    reminders = await _sweep(sessions, warn)
    assert [(n.kind, n.ticket_no) for n in reminders] == [("deadline_reminder", number)]
    assert "即将超期" in reminders[0].subject and local_text(row.deadline) in reminders[0].body
    assert local_text(row.deadline).endswith("23:59")
    assert await _sweep(sessions, warn + timedelta(hours=1)) == []

    assert await _sweep(sessions, row.deadline) == []
    overdue = await _sweep(sessions, row.deadline + timedelta(seconds=1))
    assert [(n.kind, n.ticket_no) for n in overdue] == [("overdue", number)]
    assert overdue[0].subject == f"【已超期】工单 {number}" and "已超期" in overdue[0].subject
    assert await _sweep(sessions, row.deadline + timedelta(days=3)) == []
    assert await _sweep_events(sessions, ticket_id) == ["deadline_reminder", "overdue"]
    fresh = await _lead(sessions, ticket_id)
    assert fresh.reminded_at == warn and fresh.overdue_flagged_at == row.deadline + timedelta(seconds=1)


async def test_a_dispatch_first_swept_long_after_its_deadline_gets_no_stale_reminder(sessions):
    ticket_id, number = await _dispatched(sessions, assists=["ruzhou"])
    row = await _lead(sessions, ticket_id)
    notices = await _sweep(sessions, row.deadline + timedelta(days=1))
    # Both units: unsigned and overdue, but not "nearly due".
    assert sorted((n.unit, n.kind) for n in notices) == [("health", "overdue"), ("health", "sign_overdue"),
                                                         ("ruzhou", "overdue"), ("ruzhou", "sign_overdue")]
    assert all(n.ticket_no == number for n in notices)
    assistant = next(n for n in notices if n.unit == "ruzhou" and n.kind == "overdue")
    assert "（协办）" in assistant.body and DIRECTORY.unit("ruzhou").name in assistant.body
    assert await _sweep(sessions, row.deadline + timedelta(days=2)) == []


async def test_answered_returned_and_withdrawn_dispatches_are_never_flagged(sessions):
    # Returned by the lead (its assisting unit's part is withdrawn with it).
    returned_id, _ = await _dispatched(sessions, assists=["ruzhou"])
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, returned_id)
        await assignments.return_ticket(session, ticket, HEALTH_CLERK, DIRECTORY, reason="not_our_duty",
                                        text="属于供水单位职责", now=DISPATCHED + timedelta(hours=2))
    # Answered: the unit has done its part; what is left is the platform's review.
    answered_id, _ = await _dispatched(sessions)
    async with sessions() as session, session.begin():
        row = (await session.execute(select(Dispatch).where(Dispatch.ticket_id == answered_id))).scalar_one()
        row.state, row.answered_at = "answered", DISPATCHED + timedelta(hours=3)
    far = DISPATCHED + timedelta(days=60)
    assert await _sweep(sessions, far) == []
    async with sessions() as session:
        flagged = (await session.execute(select(Dispatch).where(
            (Dispatch.sign_flagged_at.is_not(None)) | (Dispatch.reminded_at.is_not(None))
            | (Dispatch.overdue_flagged_at.is_not(None))))).scalars().all()
    assert flagged == []
    assert await _sweep_events(sessions, returned_id) == [] and await _sweep_events(sessions, answered_id) == []


async def test_a_new_deadline_starts_the_reminders_afresh(sessions):
    ticket_id, _ = await _dispatched(sessions)
    row = await _lead(sessions, ticket_id)
    late = row.deadline + timedelta(hours=1)
    assert {n.kind for n in await _sweep(sessions, late)} == {"sign_overdue", "overdue"}
    later = row.deadline + timedelta(days=10)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await assignments.set_deadline(session, ticket, ZHAO, later, reason="涉及多部门协调", now=late)
    assert await _sweep(sessions, late + timedelta(minutes=1)) == []
    # Unsigned still, but that was said once; the new deadline gets its own overdue notice.
    assert [n.kind for n in await _sweep(sessions, later + timedelta(seconds=1))] == ["overdue"]


async def test_many_open_dispatches_are_swept_in_batches(sessions):
    ids = [(await _dispatched(sessions))[0] for _ in range(7)]
    row = await _lead(sessions, ids[0])
    async with sessions() as session, session.begin():
        notices = await sweep(session, DIRECTORY, now=row.sign_deadline + timedelta(hours=1), batch=3)
    assert sorted(n.ticket_no for n in notices) == sorted({n.ticket_no for n in notices})
    assert len(notices) == 7 and {n.kind for n in notices} == {"sign_overdue"}
