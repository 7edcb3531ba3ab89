import asyncio

from tests.ticketing.factories import LI, WANG, handoff_ticket
from ticketing.accounts.roles import Actor
from ticketing.db.models.tickets import Ticket
from ticketing.errors import ConsoleError
from ticketing.tickets import claims


async def test_concurrent_claims_have_one_winner(sessions):
    ticket_id = await handoff_ticket(sessions)

    async def try_claim(actor):
        async with sessions() as session:
            try:
                async with session.begin():
                    await claims.claim(session, await session.get(Ticket, ticket_id), actor)
                return actor.username
            except ConsoleError as exc:
                assert exc.status == 409
                return None

    results = await asyncio.gather(*(try_claim(actor) for actor in (LI, WANG, Actor("zhao", "赵", "operator"))))
    winners = [result for result in results if result]
    assert len(winners) == 1
    async with sessions() as session:
        assert (await session.get(Ticket, ticket_id)).assignee == winners[0]
