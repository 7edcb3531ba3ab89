"""一事一评: signed one-use links, and what an evaluation does to the ticket."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.ticketing.factories import CHEN, DIRECTORY, HEALTH_CLERK, ZHAO, handoff_ticket
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.db.models.workflow import Survey
from ticketing.errors import ConsoleError
from ticketing.tickets import store
from ticketing.tickets.lifecycle import Action
from ticketing.workflow import assignments, surveys
from ticketing.workflow.surveys import SurveyLinkError

SECRET = b"0123456789abcdef0123456789abcdef"


async def _answered(sessions) -> tuple[int, int]:
    """A ticket the health commission answered and the platform accepted; its id and survey id."""
    ticket_id = await handoff_ticket(sessions)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        row = await assignments.dispatch(session, ticket, ZHAO, DIRECTORY, target="health")
        await assignments.sign(session, ticket, HEALTH_CLERK)
        await store.transition(session, ticket, Action.SUBMIT, actor=HEALTH_CLERK.username)
        await store.transition(session, ticket, Action.APPROVE, actor=ZHAO.username)
        survey = await surveys.create_survey(session, ticket, DIRECTORY, dispatch=row, report=None)
        return ticket_id, survey.id


async def test_a_link_is_signed_one_use_and_expires(sessions):
    _, survey_id = await _answered(sessions)
    async with sessions() as session, session.begin():
        survey = await session.get(Survey, survey_id)
        token = surveys.token_for(SECRET, survey)
        assert (await surveys.survey_for_token(session, SECRET, token)).id == survey_id
        for forged in (token[:-2] + "AA", f"{survey_id + 1}.{token.split('.')[1]}", "1", "x.y", None, "9" * 90):
            with pytest.raises(SurveyLinkError) as exc:
                await surveys.survey_for_token(session, SECRET, forged)
            assert exc.value.kind == "invalid"
        with pytest.raises(SurveyLinkError) as exc:
            await surveys.survey_for_token(session, b"another-deployment-secret-key!!", token)
        assert exc.value.kind == "invalid"
        with pytest.raises(SurveyLinkError) as exc:
            await surveys.survey_for_token(session, SECRET, token, now=utcnow() + timedelta(days=16))
        assert exc.value.kind == "expired"
        await surveys.respond(session, survey, DIRECTORY, solved=True, satisfaction="satisfied")
        with pytest.raises(SurveyLinkError) as exc:
            await surveys.survey_for_token(session, SECRET, token)
        assert exc.value.kind == "used"


async def test_solved_and_satisfied_closes_the_ticket(sessions):
    ticket_id, survey_id = await _answered(sessions)
    async with sessions() as session, session.begin():
        survey = await session.get(Survey, survey_id)
        await surveys.respond(session, survey, DIRECTORY, solved=True, satisfaction="basic", comment="  辛苦了 ")
        ticket = await session.get(Ticket, ticket_id)
        assert ticket.status == "closed" and survey.outcome == "closed" and survey.comment == "辛苦了"
        with pytest.raises(ConsoleError) as exc:
            await surveys.respond(session, survey, DIRECTORY, solved=True, satisfaction="basic")
        assert exc.value.status == 409


async def test_unsolved_goes_back_to_the_unit_unless_a_supervisor_rules_it_unreasonable(sessions):
    ticket_id, survey_id = await _answered(sessions)
    async with sessions() as session, session.begin():
        survey = await session.get(Survey, survey_id)
        with pytest.raises(ConsoleError):
            await surveys.respond(session, survey, DIRECTORY, solved="yes", satisfaction="satisfied")
        await surveys.respond(session, survey, DIRECTORY, solved=False, satisfaction="unsatisfied")
        ticket = await session.get(Ticket, ticket_id)
        rows = await assignments.active_dispatches(session, ticket)
        assert ticket.status == "dispatched" and survey.outcome == "redo"
        assert [(r.target, r.round, r.state, r.meta) for r in rows] == [("health", 2, "pending_sign", {"redo": True})]
        with pytest.raises(ConsoleError):
            await surveys.rule_unreasonable(session, survey, ticket, supervisor=CHEN.username, reason="")
        await surveys.rule_unreasonable(session, survey, ticket, supervisor=CHEN.username,
                                        reason="诉求超出政策规定，单位已依法答复")
        assert ticket.status == "closed" and survey.outcome == "ruled"
        assert await assignments.active_dispatches(session, ticket) == []
