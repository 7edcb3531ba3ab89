"""督办单: issue, acknowledge, escalate."""

from __future__ import annotations

from datetime import timedelta

import pytest

from config.local_time import LOCAL_TZ
from tests.ticketing.factories import DIRECTORY, HEALTH_CLERK, ZHAO
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.errors import ConsoleError
from ticketing.workflow import supervision_notes


async def test_the_second_note_escalates_to_the_leader_and_each_must_be_acknowledged(sessions, with_unit):
    ticket_id = await with_unit()
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        soon = (utcnow() + timedelta(days=2)).astimezone(LOCAL_TZ).date()
        first = await supervision_notes.issue(session, ticket, ZHAO, DIRECTORY, text="请加快办理", until=soon)
        assert first.seq == 1 and first.escalated_to is None
        assert ticket.deadline.astimezone(LOCAL_TZ).date() == soon
        second = await supervision_notes.issue(session, ticket, ZHAO, DIRECTORY, text="再次督办，请于两日内答复")
        assert second.seq == 2 and second.escalated_to == DIRECTORY.unit("health").leader_email
        await supervision_notes.acknowledge(session, ticket, HEALTH_CLERK, first.id)
        with pytest.raises(ConsoleError) as exc:
            await supervision_notes.acknowledge(session, ticket, HEALTH_CLERK, first.id)
        assert exc.value.status == 409
        assert first.acknowledged_by == HEALTH_CLERK.username
