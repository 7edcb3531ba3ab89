from datetime import timedelta

from tests.ticketing.factories import DIRECTORY, LI, handoff_ticket
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.tickets import dispatching
from ticketing.tickets.deadlines import deadline_for


async def test_dispatch_deadline_and_external_deadline_wins(sessions):
    ticket_id = await handoff_ticket(sessions, request_type="suggestion")
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        now = utcnow()
        row = await dispatching.dispatch(session, ticket, LI, DIRECTORY, target_kind="region", target="lushan", now=now)
        assert row.deadline == deadline_for(DIRECTORY, "suggestion", now) == ticket.deadline
        assert ticket.status == "dispatched" and ticket.region == "lushan"
    fixed_id = await handoff_ticket(sessions, request_type="consult")
    fixed = utcnow() + timedelta(days=30)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, fixed_id)
        ticket.external_deadline = fixed
        row = await dispatching.dispatch(session, ticket, LI, DIRECTORY, target_kind="department", target="health")
        assert row.deadline == fixed
