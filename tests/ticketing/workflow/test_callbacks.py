"""回访: which surveys reach the callback seats, the rulings list, the audited reveal, and a
callback nobody answered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.ticketing.factories import CHEN, DIRECTORY, HEALTH_CLERK, LI, ZHAO, handoff_ticket
from ticketing.accounts.roles import Actor
from ticketing.db.models.accounts import AuditLog
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.db.models.workflow import Survey
from ticketing.errors import ConsoleError
from ticketing.tickets import store
from ticketing.tickets.lifecycle import Action
from ticketing.workflow import assignments, callbacks, surveys

SEAT = Actor("hf", "回访坐席", "callback", ip="10.0.0.9")


async def _answered(sessions, *, days_ago: float, channel: str = "web", phone: str | None = "13837512345") -> int:
    """An answered ticket whose survey was sent ``days_ago``; the survey id."""
    ticket_id = await handoff_ticket(sessions)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        ticket.channel, ticket.citizen_phone = channel, phone
        row = await assignments.dispatch(session, ticket, ZHAO, DIRECTORY, target="health")
        await assignments.sign(session, ticket, HEALTH_CLERK)
        await store.transition(session, ticket, Action.SUBMIT, actor=HEALTH_CLERK.username)
        await store.transition(session, ticket, Action.APPROVE, actor=ZHAO.username)
        survey = await surveys.create_survey(session, ticket, DIRECTORY, dispatch=row, report=None,
                                             now=utcnow() - timedelta(days=days_ago))
        return survey.id


async def test_the_queue_lists_unanswered_surveys_after_n_days_oldest_first(sessions):
    recent = await _answered(sessions, days_ago=1)
    due = await _answered(sessions, days_ago=3.5)
    oldest = await _answered(sessions, days_ago=10)
    called = await _answered(sessions, days_ago=0, channel="phone")
    done = await _answered(sessions, days_ago=5)
    async with sessions() as session, session.begin():
        survey = await session.get(Survey, done)
        await surveys.respond(session, survey, DIRECTORY, solved=True, satisfaction="satisfied")
    async with sessions() as session:
        page = await callbacks.callback_queue(session, DIRECTORY)
        assert [r.survey.id for r in page.rows] == [oldest, due] and page.total == 2
        assert page.rows[0].phone_masked == "138****2345" and page.rows[0].has_phone
        with_phone = await callbacks.callback_queue(session, DIRECTORY, at_once_channels={"phone"})
        assert [r.survey.id for r in with_phone.rows] == [oldest, due, called]
        later = await callbacks.callback_queue(session, DIRECTORY, now=utcnow() + timedelta(days=3))
        assert [r.survey.id for r in later.rows] == [oldest, due, recent, called]
        second = await callbacks.callback_queue(session, DIRECTORY, limit=1, offset=1)
        assert [r.survey.id for r in second.rows] == [due] and second.total == 2


async def test_three_calls_nobody_answered_flag_the_row(sessions):
    survey_id = await _answered(sessions, days_ago=4)
    for _ in range(3):
        async with sessions() as session, session.begin():
            survey = await session.get(Survey, survey_id)
            await surveys.record_failed_callback(session, survey, recorded_by=SEAT.username, note=" 无人接听 ")
    async with sessions() as session, session.begin():
        row = await callbacks.callback_row(session, survey_id)
        assert row.survey.callback_attempts == 3 and row.survey.callback_note == "无人接听" and row.unreachable
        with pytest.raises(ConsoleError) as exc:
            await surveys.record_failed_callback(session, row.survey, recorded_by=SEAT.username, note="x" * 501)
        assert exc.value.status == 400
        await surveys.respond(session, row.survey, DIRECTORY, solved=True, satisfaction="basic", source="callback",
                              recorded_by=SEAT.username)
        with pytest.raises(ConsoleError) as exc:
            await surveys.record_failed_callback(session, row.survey, recorded_by=SEAT.username)
        assert exc.value.status == 409


async def test_bad_evaluations_wait_for_a_ruling_until_ruled(sessions):
    survey_id = await _answered(sessions, days_ago=4)
    async with sessions() as session, session.begin():
        survey = await session.get(Survey, survey_id)
        await surveys.respond(session, survey, DIRECTORY, solved=False, satisfaction="unsatisfied")
    async with sessions() as session, session.begin():
        page = await callbacks.rulings_queue(session)
        assert [r.survey.id for r in page.rows] == [survey_id]
        survey = page.rows[0].survey
        ticket = await session.get(Ticket, survey.ticket_id)
        await surveys.rule_unreasonable(session, survey, ticket, supervisor=CHEN.username, reason="超出政策规定")
    async with sessions() as session:
        assert (await callbacks.rulings_queue(session)).total == 0


async def test_the_number_is_shown_to_callback_seats_and_supervisors_only_and_audited(sessions):
    survey_id = await _answered(sessions, days_ago=4)
    async with sessions() as session, session.begin():
        survey = await session.get(Survey, survey_id)
        ticket = await session.get(Ticket, survey.ticket_id)
        with pytest.raises(ConsoleError) as exc:
            await callbacks.reveal_for_callback(session, survey, ticket, LI)
        assert exc.value.status == 403
        shown = await callbacks.reveal_for_callback(session, survey, ticket, SEAT)
        assert shown["phone"] == "13837512345"
        await callbacks.reveal_for_callback(session, survey, ticket, CHEN)
    async with sessions() as session:
        rows = (await session.execute(select(AuditLog).where(AuditLog.action == "reveal_contact")
                                      .order_by(AuditLog.id))).scalars().all()
        assert [(r.actor, r.ip, r.detail["survey_id"]) for r in rows] == [("hf", "10.0.0.9", survey_id),
                                                                          ("chen", None, survey_id)]
    no_phone = await _answered(sessions, days_ago=4, phone=None)
    async with sessions() as session:
        survey = await session.get(Survey, no_phone)
        with pytest.raises(ConsoleError) as exc:
            await callbacks.reveal_for_callback(session, survey, await session.get(Ticket, survey.ticket_id), SEAT)
        assert exc.value.status == 404
