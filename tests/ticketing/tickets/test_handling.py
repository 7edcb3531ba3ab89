from tests.ticketing.factories import DIRECTORY, HEALTH_CLERK, LI, WANG, handoff_ticket
from ticketing.db.models.tickets import Ticket
from ticketing.tickets import claims, handling
from ticketing.workflow import assignments


async def test_reopen_returns_to_the_queue_and_ends_the_dispatch(sessions):
    ticket_id = await handoff_ticket(sessions)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await claims.claim(session, ticket, LI)
        await assignments.dispatch(session, ticket, LI, DIRECTORY, target_kind="department", target="health")
        await assignments.return_ticket(session, ticket, HEALTH_CLERK, DIRECTORY, reason="not_our_duty",
                                        text="应由供水单位处理")
        await handling.answer(session, ticket, LI)  # the operator answers the returned ticket directly
        assert ticket.unit is None
        await handling.reopen(session, ticket, WANG, "群众不满意")
        assert ticket.status == "pending_review" and ticket.assignee is None
        assert await assignments.active_dispatch(session, ticket) is None


async def test_a_duplicate_of_a_duplicate_leads_to_the_final_ticket_and_back(sessions):
    first, second, final = [await handoff_ticket(sessions) for _ in range(3)]
    async with sessions() as session, session.begin():
        first_t, second_t, final_t = [await session.get(Ticket, i) for i in (first, second, final)]
        await handling.merge(session, first_t, second_t, LI)
        await handling.merge(session, second_t, final_t, LI)  # the main ticket is itself merged on later
        assert (await handling.main_ticket_of(session, first_t)).id == final
        assert (await handling.main_ticket_of(session, final_t)).id == final
        assert [t.id for t in await handling.merged_duplicates(session, final_t)] == [second, first]
        assert await handling.merged_duplicates(session, first_t) == []
