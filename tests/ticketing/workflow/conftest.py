"""A ticket the health commission holds, for the loop's domain tests."""

from __future__ import annotations

import pytest

from tests.ticketing.factories import DIRECTORY, HEALTH_CLERK, ZHAO, handoff_ticket
from ticketing.db.models.tickets import Ticket
from ticketing.workflow import assignments


@pytest.fixture
def with_unit(sessions):
    """``await with_unit(signed=True, assists=())``: a dispatched (and signed) ticket's id."""

    async def make(*, signed: bool = True, assists: tuple[str, ...] = ()) -> int:
        ticket_id = await handoff_ticket(sessions, request_type="complaint")
        async with sessions() as session, session.begin():
            ticket = await session.get(Ticket, ticket_id)
            await assignments.dispatch(session, ticket, ZHAO, DIRECTORY, target="health", assists=assists)
            if signed:
                await assignments.sign(session, ticket, HEALTH_CLERK)
        return ticket_id

    return make
