"""What a unit writes on its ticket: progress notes (办理进展), an assisting unit's opinion (协办意见),
and the lead unit's answer (答复), which waits for the platform's review (审核)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts.roles import Actor
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Attachment, Ticket
from ticketing.db.models.workflow import UnitReport
from ticketing.errors import ConsoleError
from ticketing.inputs import MAX_TEXT
from ticketing.tickets import store
from ticketing.tickets.lifecycle import Action
from ticketing.workflow.assignments import unit_dispatch

MIN_ANSWER_CHARS = 10  # "已处理" is no answer a citizen can evaluate
MAX_ATTACHMENTS = 10

KIND_LABELS = {"progress": "办理进展", "opinion": "协办意见", "answer": "答复"}
REVIEW_LABELS = {"pending": "待审核", "accepted": "审核通过", "rejected": "审核退回"}


def _clean(text: object, what: str, minimum: int = 1) -> str:
    if not isinstance(text, str) or len(text.strip()) < minimum:
        raise ConsoleError(400, "text_required", f"请填写{what}" + (f"（至少 {minimum} 个字）" if minimum > 1 else ""))
    if len(text) > MAX_TEXT:
        raise ConsoleError(400, "text_too_long", f"{what}最多 {MAX_TEXT} 字")
    return text.strip()


async def _attach(session: AsyncSession, ticket: Ticket, report: UnitReport,
                  attachments: Sequence[Attachment]) -> None:
    if len(attachments) > MAX_ATTACHMENTS:
        raise ConsoleError(400, "too_many_attachments", f"附件最多 {MAX_ATTACHMENTS} 个")
    for item in attachments:
        item.ticket_id, item.report_id = ticket.id, report.id
        session.add(item)


async def add_progress(session: AsyncSession, ticket: Ticket, actor: Actor, text: object, *,
                       attachments: Sequence[Attachment] = (), now: datetime | None = None) -> UnitReport:
    """A progress note (lead) or the assisting unit's opinion; the ticket's status stays."""
    row = await unit_dispatch(session, ticket, actor)
    if row.state == "pending_sign":
        raise ConsoleError(409, "sign_first", "请先签收，再填写办理情况")
    kind = "progress" if row.role == "lead" else "opinion"
    report = UnitReport(ticket_id=ticket.id, dispatch_id=row.id, unit=row.target, kind=kind,
                        author=actor.username, author_name=actor.display_name,
                        text=_clean(text, KIND_LABELS[kind]), created_at=now or utcnow())
    session.add(report)
    await session.flush()
    await _attach(session, ticket, report, attachments)
    await store.record_event(session, ticket, actor=actor.username, action=f"unit_{kind}", to_value=row.target,
                             detail={"report_id": report.id})
    return report


async def submit_answer(session: AsyncSession, ticket: Ticket, actor: Actor, text: object, *,
                        attachments: Sequence[Attachment] = (), now: datetime | None = None) -> UnitReport:
    """The lead unit's answer (答复), to be reviewed by the platform before the citizen sees it."""
    now = now or utcnow()
    row = await unit_dispatch(session, ticket, actor)
    if row.role != "lead":
        raise ConsoleError(403, "lead_only", "只有主办单位可以提交答复，协办单位请填写协办意见")
    if row.state == "pending_sign":
        raise ConsoleError(409, "sign_first", "请先签收，再提交答复")
    body = _clean(text, "答复内容", MIN_ANSWER_CHARS)
    await store.transition(session, ticket, Action.SUBMIT, actor=actor.username)
    row.state, row.answered_at = "answered", now
    report = UnitReport(ticket_id=ticket.id, dispatch_id=row.id, unit=row.target, kind="answer",
                        author=actor.username, author_name=actor.display_name, text=body, created_at=now,
                        review_state="pending")
    session.add(report)
    await session.flush()
    await _attach(session, ticket, report, attachments)
    late = row.deadline is not None and now > row.deadline
    await store.record_event(session, ticket, actor=actor.username, action="unit_answer", to_value=row.target,
                             detail={"report_id": report.id, "round": row.round, "late": late})
    return report


async def reports_of(session: AsyncSession, ticket: Ticket, *, unit: str | None = None) -> list[UnitReport]:
    """The ticket's reports, oldest first (``unit``: only that unit's, for its desk)."""
    stmt = select(UnitReport).where(UnitReport.ticket_id == ticket.id)
    if unit is not None:
        stmt = stmt.where(UnitReport.unit == unit)
    return list((await session.execute(stmt.order_by(UnitReport.id))).scalars())


async def pending_answer(session: AsyncSession, ticket: Ticket) -> UnitReport | None:
    stmt = (select(UnitReport).where(UnitReport.ticket_id == ticket.id, UnitReport.kind == "answer",
                                     UnitReport.review_state == "pending")
            .order_by(UnitReport.id.desc()).limit(1))
    return (await session.execute(stmt)).scalar_one_or_none()
