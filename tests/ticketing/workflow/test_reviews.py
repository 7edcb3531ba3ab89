"""The platform's review of a unit's answer."""

from __future__ import annotations

import pytest

from tests.ticketing.factories import DIRECTORY, HEALTH_CLERK, LI
from ticketing.db.models.tickets import Ticket
from ticketing.errors import ConsoleError
from ticketing.workflow import assignments, reports, reviews

ANSWER = "经核实，路灯线路老化，已于12月3日更换完毕，恢复照明。"


async def test_reject_sends_it_back_and_approve_ends_the_units_part_with_a_survey(sessions, with_unit):
    ticket_id = await with_unit(assists=("ruzhou",))
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        with pytest.raises(ConsoleError):
            await reviews.approve(session, ticket, LI, DIRECTORY)  # nothing to review yet
        await reports.submit_answer(session, ticket, HEALTH_CLERK, ANSWER)
        with pytest.raises(ConsoleError):
            await reviews.reject(session, ticket, LI, reason="")
        await reviews.reject(session, ticket, LI, reason="请写明整改完成时间和责任人")
        lead = await assignments.active_dispatch(session, ticket)
        assert ticket.status == "handling" and lead.state == "signed" and lead.answered_at is None
        await reports.submit_answer(session, ticket, HEALTH_CLERK, ANSWER + "责任人：张科长。")
        accepted = await reviews.approve(session, ticket, LI, DIRECTORY, text=ANSWER + "责任人：张科长。（已核）")
        assert ticket.status == "answered" and accepted.report.review_state == "accepted"
        assert accepted.report.text.endswith("（已核）") and accepted.survey.unit == "health"
        assert await assignments.active_dispatches(session, ticket) == []
        history = {(r.target, r.state) for r in await assignments.dispatch_history(session, ticket)}
        assert history == {("health", "accepted"), ("ruzhou", "withdrawn")}
