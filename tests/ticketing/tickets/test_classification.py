from datetime import timedelta

from tests.ticketing.factories import DIRECTORY, LI, WANG, handoff_ticket
from ticketing.accounts.users import create_user
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.nlu_workspace import suggestions as nlu_workspace_suggestions
from ticketing.supervision import stats as supervision_stats
from ticketing.tickets import classification
from ticketing.tickets.deadlines import deadline_for


async def test_corrections_feed_suggestions_and_the_owner_figures(sessions):
    ticket_id = await handoff_ticket(sessions)
    async with sessions() as session, session.begin():
        await create_user(session, "li", role="operator", password="long-enough-1")
        await create_user(session, "wang", role="operator", password="long-enough-1")
    async with sessions() as session, session.begin():
        changes = await classification.set_classification(session, await session.get(Ticket, ticket_id), LI,
                                                          DIRECTORY, values={})
        assert changes == []
    async with sessions() as session, session.begin():
        changes = await classification.set_classification(session, await session.get(Ticket, ticket_id), WANG,
                                                          DIRECTORY, values={"department": "transport", "urgent": True})
        assert {(c.field, c.previous_by) for c in changes} == {("department", "li"), ("urgent", "li")}
    async with sessions() as session:
        suggestions = await nlu_workspace_suggestions.suggestions(session)
        assert [(s.field, s.predicted, s.chosen, s.operator) for s in suggestions] == [
            ("department", "urban_management", "transport", "wang")]
        ticket = await session.get(Ticket, ticket_id)
        # urgent: same-day deadline
        assert ticket.deadline == deadline_for(DIRECTORY, "complaint", ticket.created_at, urgent=True)
        stats = {s.username: s for s in await supervision_stats.operator_stats(session, since=utcnow() - timedelta(days=1))}
    assert stats["li"].corrected_by_others == 2 and stats["wang"].corrections_made == 2
