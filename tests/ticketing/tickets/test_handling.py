from tests.ticketing.factories import DIRECTORY, LI, WANG, handoff_ticket
from ticketing.db.models.tickets import Ticket
from ticketing.tickets import claims, dispatching, handling


async def test_reopen_returns_to_the_queue_and_ends_the_dispatch(sessions):
    ticket_id = await handoff_ticket(sessions)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await claims.claim(session, ticket, LI)
        await dispatching.dispatch(session, ticket, LI, DIRECTORY, target_kind="department", target="health")
        await handling.answer(session, ticket, LI)
        await handling.reopen(session, ticket, WANG, "群众不满意")
        assert ticket.status == "pending_review" and ticket.assignee is None
        assert await dispatching.active_dispatch(session, ticket) is None
