"""审核: the platform accepts a unit's answer (it then reaches the citizen, with the 一事一评 link)
or sends it back to the unit with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from config.directory import Directory
from ticketing.accounts.roles import Actor
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Dispatch, Ticket
from ticketing.db.models.workflow import Survey, UnitReport
from ticketing.errors import ConsoleError
from ticketing.inputs import MAX_TEXT
from ticketing.tickets import store
from ticketing.tickets.lifecycle import Action, Status
from ticketing.workflow import surveys
from ticketing.workflow.assignments import active_dispatch, active_dispatches
from ticketing.workflow.reports import pending_answer


@dataclass(frozen=True)
class Accepted:
    """An accepted answer: what the citizen is sent, and the evaluation that goes with it."""

    report: UnitReport
    dispatch: Dispatch
    survey: Survey


async def _under_review(session: AsyncSession, ticket: Ticket) -> tuple[UnitReport, Dispatch]:
    if ticket.status != Status.ANSWER_REVIEW:
        raise ConsoleError(409, "not_in_review", "该工单没有待审核的答复")
    report = await pending_answer(session, ticket)
    row = await active_dispatch(session, ticket)
    if report is None or row is None or report.dispatch_id != row.id:
        raise ConsoleError(409, "not_in_review", "该工单没有待审核的答复")
    return report, row


async def approve(session: AsyncSession, ticket: Ticket, actor: Actor, directory: Directory, *,
                  text: object = None, now: datetime | None = None) -> Accepted:
    """Accept the answer; ``text`` may correct its wording for the citizen (the unit's original
    stays on the report's history).  The units' part of this round ends here."""
    now = now or utcnow()
    report, row = await _under_review(session, ticket)
    if isinstance(text, str) and text.strip() and text.strip() != report.text:
        if len(text) > MAX_TEXT:
            raise ConsoleError(400, "text_too_long", f"答复最多 {MAX_TEXT} 字")
        await store.record_event(session, ticket, actor=actor.username, action="answer_edited",
                                 detail={"report_id": report.id, "original": report.text})
        report.text = text.strip()
    await store.transition(session, ticket, Action.APPROVE, actor=actor.username)
    report.review_state, report.reviewed_by, report.reviewed_at = "accepted", actor.username, now
    for dispatch in await active_dispatches(session, ticket):
        dispatch.active, dispatch.ended_at = False, now
        dispatch.state = "accepted" if dispatch.state in ("signed", "answered") else "withdrawn"
    survey = await surveys.create_survey(session, ticket, directory, dispatch=row, report=report, now=now)
    return Accepted(report, row, survey)


async def reject(session: AsyncSession, ticket: Ticket, actor: Actor, *, reason: object,
                 now: datetime | None = None) -> UnitReport:
    """Send the answer back to the unit (审核退回): it stays 办理中 with the same deadline."""
    now = now or utcnow()
    why = reason.strip()[:MAX_TEXT] if isinstance(reason, str) else ""
    if not why:
        raise ConsoleError(400, "reason_required", "退回答复须填写理由")
    report, row = await _under_review(session, ticket)
    await store.transition(session, ticket, Action.REJECT, actor=actor.username, note=why)
    report.review_state, report.reviewed_by, report.reviewed_at, report.review_note = "rejected", actor.username, now, why
    row.state, row.answered_at = "signed", None  # a rejected answer is no answer (for 考评 too)
    await store.record_event(session, ticket, actor=actor.username, action="answer_rejected", to_value=row.target,
                             detail={"report_id": report.id, "reason": why})
    return report
