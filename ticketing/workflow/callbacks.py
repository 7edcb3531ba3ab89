"""回访: the callback seats' queue — answered tickets whose citizen has not evaluated the answer
after ``directory.handling.callback_after_days`` days — and the supervisors' list of bad
evaluations they may rule unreasonable.

Citizens' numbers are masked in the queue; a callback seat needs the number to call, so
``reveal_for_callback`` shows it, and every reveal is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.directory import Directory
from ticketing.accounts.audit import audit
from ticketing.accounts.roles import Actor
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.db.models.workflow import Survey, UnitReport
from ticketing.errors import ConsoleError
from ticketing.tickets.lifecycle import Status
from ticketing.tickets.masking import mask_contacts_in_text, mask_phone
from ticketing.workflow.surveys import FAILED_CALLBACKS_FLAG

CALLBACK_ROLES = frozenset({"callback", "supervisor"})
EXCERPT_CHARS = 120
# A 重办 can still be ruled while the unit works on it again.
RULABLE_STATUSES = (Status.DISPATCHED.value, Status.HANDLING.value, Status.ANSWERED.value)


@dataclass(frozen=True)
class CallbackRow:
    survey: Survey
    ticket_no: str
    ticket_status: str
    citizen_name: str | None
    phone_masked: str | None
    has_phone: bool
    answer_excerpt: str | None

    @property
    def unreachable(self) -> bool:
        """多次联系未果: a supervisor decides what happens next."""
        return (self.survey.callback_attempts or 0) >= FAILED_CALLBACKS_FLAG


@dataclass(frozen=True)
class CallbackPage:
    rows: list[CallbackRow]
    total: int


def _excerpt(text: str | None) -> str | None:
    if not text:
        return None
    flat = " ".join(text.split())
    masked = mask_contacts_in_text(flat) or ""
    return masked if len(masked) <= EXCERPT_CHARS else masked[:EXCERPT_CHARS] + "…"


def _due(directory: Directory, now: datetime, at_once_channels: Collection[str]) -> ColumnElement[bool]:
    cutoff = now - timedelta(days=directory.handling.callback_after_days)
    if not at_once_channels:
        return Survey.created_at <= cutoff
    # A citizen the link cannot reach (a phone call, a letter) is called at once.
    return or_(Survey.created_at <= cutoff, Survey.channel.in_(tuple(at_once_channels)))


def _rows(found: Sequence) -> list[CallbackRow]:
    return [CallbackRow(survey=survey, ticket_no=number, ticket_status=status, citizen_name=name,
                        phone_masked=mask_phone(phone), has_phone=bool(phone), answer_excerpt=_excerpt(answer))
            for survey, number, status, name, phone, answer in found]


def _columns():
    return (select(Survey, Ticket.number, Ticket.status, Ticket.citizen_name, Ticket.citizen_phone, UnitReport.text)
            .join(Ticket, Ticket.id == Survey.ticket_id)
            .outerjoin(UnitReport, UnitReport.id == Survey.report_id))


async def callback_queue(session: AsyncSession, directory: Directory, *, now: datetime | None = None,
                         limit: int = 50, offset: int = 0, at_once_channels: Collection[str] = ()) -> CallbackPage:
    """Unanswered surveys due for a call, oldest first."""
    now = now or utcnow()
    where = (Survey.responded_at.is_(None), Survey.outcome.is_(None), _due(directory, now, at_once_channels))
    total = (await session.execute(select(func.count()).select_from(Survey).where(*where))).scalar_one()
    stmt = _columns().where(*where).order_by(Survey.created_at, Survey.id).limit(limit).offset(offset)
    return CallbackPage(_rows((await session.execute(stmt)).all()), total)


async def rulings_queue(session: AsyncSession, *, limit: int = 50, offset: int = 0) -> CallbackPage:
    """Evaluations that sent a ticket back (未解决 / 不满意) and that a supervisor may still rule
    unreasonable, newest first."""
    where = (Survey.outcome == "redo", Ticket.status.in_(RULABLE_STATUSES))
    count = select(func.count()).select_from(Survey).join(Ticket, Ticket.id == Survey.ticket_id).where(*where)
    total = (await session.execute(count)).scalar_one()
    stmt = _columns().where(*where).order_by(Survey.responded_at.desc(), Survey.id.desc()).limit(limit).offset(offset)
    return CallbackPage(_rows((await session.execute(stmt)).all()), total)


async def callback_row(session: AsyncSession, survey_id: int) -> CallbackRow:
    found = (await session.execute(_columns().where(Survey.id == survey_id))).all()
    if not found:
        raise ConsoleError(404, "survey_not_found", "没有这条回访记录")
    return _rows(found)[0]


async def reveal_for_callback(session: AsyncSession, survey: Survey, ticket: Ticket, actor: Actor) -> dict[str, str | None]:
    """The citizen's name and whole number for the callback; always audited."""
    if actor.role not in CALLBACK_ROLES:
        raise ConsoleError(403, "reveal_forbidden", "只有回访坐席或班长可以查看回访号码")
    if not ticket.citizen_phone:
        raise ConsoleError(404, "no_phone", "该工单没有群众的联系电话")
    await audit(session, actor=actor.username, action="reveal_contact", ticket_id=ticket.id, target=ticket.number,
                ip=actor.ip, detail={"fields": ["phone"], "purpose": "callback", "survey_id": survey.id})
    return {"name": ticket.citizen_name, "phone": ticket.citizen_phone}
