from datetime import timedelta

import pytest

from tests.ticketing.factories import DIRECTORY, HEALTH_CLERK, LI, RUZHOU_CLERK, ZHAO, handoff_ticket
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.errors import ConsoleError
from ticketing.tickets.deadlines import deadline_for
from ticketing.workflow import assignments


async def test_dispatch_deadline_and_external_deadline_wins(sessions):
    ticket_id = await handoff_ticket(sessions, request_type="suggestion")
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        now = utcnow()
        row = await assignments.dispatch(session, ticket, LI, DIRECTORY, target_kind="region", target="lushan", now=now)
        assert row.deadline == deadline_for(DIRECTORY, "suggestion", now) == ticket.deadline
        assert ticket.status == "dispatched" and ticket.region == "lushan"
    fixed_id = await handoff_ticket(sessions, request_type="consult")
    fixed = utcnow() + timedelta(days=30)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, fixed_id)
        ticket.external_deadline = fixed
        row = await assignments.dispatch(session, ticket, LI, DIRECTORY, target_kind="department", target="health")
        assert row.deadline == fixed


async def _dispatched(sessions, **kwargs) -> int:
    ticket_id = await handoff_ticket(sessions, request_type="complaint")
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await assignments.dispatch(session, ticket, ZHAO, DIRECTORY, target="health", **kwargs)
    return ticket_id


async def test_dispatch_with_assisting_units_sets_the_lead_unit_and_sign_deadlines(sessions):
    ticket_id = await _dispatched(sessions, assists=["ruzhou", "ruzhou"], note="请卫健委牵头")
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        rows = await assignments.active_dispatches(session, ticket)
    assert ticket.unit == "health" and ticket.status == "dispatched"
    assert [(r.target, r.role, r.state, r.round) for r in rows] == [("health", "lead", "pending_sign", 1),
                                                                    ("ruzhou", "assist", "pending_sign", 1)]
    assert all(r.sign_deadline is not None and r.sign_deadline < r.deadline for r in rows)


async def test_bad_dispatches_are_refused(sessions):
    ticket_id = await handoff_ticket(sessions)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        for kwargs, code in [({"target": "nowhere"}, "invalid_target"),
                             ({"target": "health", "assists": ["health"]}, "invalid_assist"),
                             ({"target": "health", "deadline": utcnow() + timedelta(days=3)}, "reason_required"),
                             ({"target": "health", "deadline": utcnow() - timedelta(days=1),
                               "deadline_reason": "急"}, "deadline_in_past")]:
            with pytest.raises(ConsoleError) as exc:
                await assignments.dispatch(session, ticket, ZHAO, DIRECTORY, **kwargs)
            assert exc.value.code == code


async def test_a_unit_signs_only_its_own_tickets_and_once(sessions):
    ticket_id = await _dispatched(sessions)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        with pytest.raises(ConsoleError) as exc:
            await assignments.sign(session, ticket, RUZHOU_CLERK)
        assert exc.value.status == 404  # another unit's ticket looks like no ticket at all
        row = await assignments.sign(session, ticket, HEALTH_CLERK)
        assert row.state == "signed" and ticket.status == "handling"
        with pytest.raises(ConsoleError) as exc:
            await assignments.sign(session, ticket, HEALTH_CLERK)
        assert exc.value.status == 409


async def test_return_then_redispatch_counts_a_new_round(sessions):
    ticket_id = await _dispatched(sessions, assists=["ruzhou"])
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        with pytest.raises(ConsoleError):
            await assignments.return_ticket(session, ticket, HEALTH_CLERK, DIRECTORY, reason="bogus", text="x")
        await assignments.return_ticket(session, ticket, HEALTH_CLERK, DIRECTORY, reason="not_our_duty",
                                        text="属于供水单位职责")
        assert ticket.status == "returned" and await assignments.active_dispatches(session, ticket) == []
        row = await assignments.dispatch(session, ticket, ZHAO, DIRECTORY, target="utilities")
        assert row.round == 2 and ticket.unit == "utilities" and ticket.status == "dispatched"
        history = await assignments.dispatch_history(session, ticket)
    assert [(r.target, r.state) for r in history] == [("health", "returned"), ("ruzhou", "withdrawn"),
                                                      ("utilities", "pending_sign")]


async def test_set_deadline_needs_a_reason_and_a_unit(sessions):
    ticket_id = await _dispatched(sessions)
    later = utcnow() + timedelta(days=40)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        with pytest.raises(ConsoleError):
            await assignments.set_deadline(session, ticket, ZHAO, later, reason=" ")
        row = await assignments.set_deadline(session, ticket, ZHAO, later, reason="涉及多部门协调")
        assert row.deadline == later == ticket.deadline
