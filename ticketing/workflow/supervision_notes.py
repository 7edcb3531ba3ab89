"""督办单: the platform presses a unit on a ticket, optionally with a new deadline; the unit must
acknowledge it, and the n-th note on one dispatch goes to the unit's leader as well."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.directory import Directory
from ticketing.accounts.roles import Actor
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.db.models.workflow import SupervisionNote
from ticketing.errors import ConsoleError
from ticketing.inputs import MAX_TEXT
from ticketing.tickets import store
from ticketing.tickets.deadlines import end_of_local_day
from ticketing.workflow.assignments import active_dispatch, unit_dispatch


async def issue(session: AsyncSession, ticket: Ticket, actor: Actor, directory: Directory, *, text: object,
                until: date | None = None, now: datetime | None = None) -> SupervisionNote:
    """A 督办单 on the lead unit's open dispatch.  ``escalated_to`` is set when this note must also
    reach the unit's leader (the caller sends the mail after the commit)."""
    now = now or utcnow()
    body = text.strip()[:MAX_TEXT] if isinstance(text, str) else ""
    if not body:
        raise ConsoleError(400, "text_required", "请填写督办意见")
    row = await active_dispatch(session, ticket)
    if row is None or row.state not in ("pending_sign", "signed"):
        raise ConsoleError(409, "not_with_unit", "只有承办单位正在办理（未答复）的工单可以督办")
    new_deadline = end_of_local_day(until) if until is not None else None
    if new_deadline is not None and new_deadline <= now:
        raise ConsoleError(400, "deadline_in_past", "督办时限须晚于当前时间")
    count = (await session.execute(select(func.count(SupervisionNote.id))
                                   .where(SupervisionNote.dispatch_id == row.id))).scalar_one()
    seq = count + 1
    unit = directory.unit(row.target)
    escalate = seq >= directory.handling.escalate_after_supervisions and unit is not None and unit.leader_email
    note = SupervisionNote(ticket_id=ticket.id, dispatch_id=row.id, unit=row.target, seq=seq,
                           issued_by=actor.username, issued_at=now, text=body, new_deadline=new_deadline,
                           escalated_to=unit.leader_email if escalate and unit else None)
    session.add(note)
    await session.flush()
    if new_deadline is not None and new_deadline != ticket.deadline:
        await store.record_event(session, ticket, actor=actor.username, action="update", field="deadline",
                                 from_value=ticket.deadline.isoformat() if ticket.deadline else None,
                                 to_value=new_deadline.isoformat(), detail={"reason": "督办"})
        ticket.deadline = row.deadline = new_deadline
        row.reminded_at = row.overdue_flagged_at = None
    await store.record_event(session, ticket, actor=actor.username, action="supervision", to_value=row.target,
                             detail={"note_id": note.id, "seq": seq, "escalated_to": note.escalated_to})
    return note


async def acknowledge(session: AsyncSession, ticket: Ticket, actor: Actor, note_id: object, *,
                      now: datetime | None = None) -> SupervisionNote:
    """The unit confirms it has read the 督办单 (签收督办)."""
    row = await unit_dispatch(session, ticket, actor)
    note = await session.get(SupervisionNote, note_id) if isinstance(note_id, int) else None
    if note is None or note.ticket_id != ticket.id or note.unit != row.target:
        raise ConsoleError(404, "not_found", "没有这份督办单")
    if note.acknowledged_at is not None:
        raise ConsoleError(409, "already_acknowledged", "督办单已签收")
    note.acknowledged_by, note.acknowledged_at = actor.username, now or utcnow()
    await store.record_event(session, ticket, actor=actor.username, action="supervision_acknowledged",
                             to_value=row.target, detail={"note_id": note.id})
    return note


async def notes_of(session: AsyncSession, ticket: Ticket, *, unit: str | None = None) -> list[SupervisionNote]:
    stmt = select(SupervisionNote).where(SupervisionNote.ticket_id == ticket.id)
    if unit is not None:
        stmt = stmt.where(SupervisionNote.unit == unit)
    return list((await session.execute(stmt.order_by(SupervisionNote.id))).scalars())
