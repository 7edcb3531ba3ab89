"""延期 requests and decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from config.local_time import LOCAL_TZ
from tests.ticketing.factories import HEALTH_CLERK, RUZHOU_CLERK, ZHAO
from ticketing.db.models.tickets import Ticket
from ticketing.errors import ConsoleError
from ticketing.workflow import assignments, extensions


async def test_an_approved_extension_moves_the_deadline_and_marks_the_dispatch(sessions, with_unit):
    ticket_id = await with_unit()
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        later = (ticket.deadline + timedelta(days=10)).astimezone(LOCAL_TZ).date()
        with pytest.raises(ConsoleError) as exc:
            await extensions.request_extension(session, ticket, HEALTH_CLERK, until=later, reason=" ")
        assert exc.value.code == "reason_required"
        with pytest.raises(ConsoleError) as exc:
            await extensions.request_extension(session, ticket, RUZHOU_CLERK, until=later, reason="需现场勘查")
        assert exc.value.status == 404
        request = await extensions.request_extension(session, ticket, HEALTH_CLERK, until=later,
                                                     reason="需协调供电部门现场勘查")
        with pytest.raises(ConsoleError) as exc:
            await extensions.request_extension(session, ticket, HEALTH_CLERK, until=later, reason="再次")
        assert exc.value.code == "already_requested"
        await extensions.decide(session, ticket, ZHAO, approve=True)
        lead = await assignments.active_dispatch(session, ticket)
        assert request.state == "approved" and lead.extended
        assert ticket.deadline == lead.deadline == request.requested_deadline
        assert ticket.deadline.astimezone(LOCAL_TZ).date() == later


async def test_a_refusal_needs_a_reason(sessions, with_unit):
    ticket_id = await with_unit()
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        before = ticket.deadline
        later = (before + timedelta(days=5)).astimezone(LOCAL_TZ).date()
        await extensions.request_extension(session, ticket, HEALTH_CLERK, until=later, reason="人手不足")
        with pytest.raises(ConsoleError):
            await extensions.decide(session, ticket, ZHAO, approve=False)
        request = await extensions.decide(session, ticket, ZHAO, approve=False, note="时限内可以办结")
        assert request.state == "refused" and ticket.deadline == before
