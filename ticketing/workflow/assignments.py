"""交办 (dispatch) to a lead unit and assisting units, 签收 (sign), 退回 (return), 改派 (re-dispatch),
重办 (redo after a bad evaluation), and deadline changes with a reason.

The caller holds the ticket's row lock (``claims.lock_ticket``) for the whole transaction, so
two actions on one ticket never interleave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.directory import Directory, Unit
from ticketing.accounts.roles import Actor
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Dispatch, Ticket
from ticketing.errors import ConsoleError
from ticketing.inputs import MAX_TEXT
from ticketing.tickets import store
from ticketing.tickets.classification import set_classification
from ticketing.tickets.deadlines import deadline_for
from ticketing.tickets.lifecycle import Action, Status
from ticketing.tickets.replies import add_note
from ticketing.workflow.timing import sign_deadline

MAX_ASSISTS = 5
# A dispatch row is open while the unit still owes something.
OPEN_STATES = ("pending_sign", "signed", "answered")


@dataclass(frozen=True)
class DispatchTarget:
    kind: str  # department | region
    code: str
    name: str


def dispatch_targets(directory: Directory) -> list[DispatchTarget]:
    return [DispatchTarget(u.kind, u.code, u.name) for u in directory.units]


def _unit(directory: Directory, code: object) -> Unit:
    unit = directory.unit(code) if isinstance(code, str) else None
    if unit is None:
        raise ConsoleError(400, "invalid_target", "交办对象必须是承办部门或县（市、区）远端坐席")
    return unit


def _text(value: object, limit: int = MAX_TEXT) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def dispatch(
    session: AsyncSession,
    ticket: Ticket,
    actor: Actor,
    directory: Directory,
    *,
    target_kind: str | None = None,
    target: str,
    assists: Sequence[str] = (),
    note: str | None = None,
    deadline: datetime | None = None,
    deadline_reason: str | None = None,
    now: datetime | None = None,
) -> Dispatch:
    """交办 a reviewed ticket (or 改派 a returned one) to a lead unit, optionally with assisting
    units (协办).  The deadline comes from the request type in working days, unless the national
    platform fixed one, or the dispatcher sets one with a reason."""
    now = now or utcnow()
    lead = _unit(directory, target)
    if target_kind is not None and target_kind != lead.kind:
        raise ConsoleError(400, "invalid_target", "交办对象必须是承办部门或县（市、区）远端坐席")
    helpers = [_unit(directory, code) for code in dict.fromkeys(assists)]
    if any(u.code == lead.code for u in helpers):
        raise ConsoleError(400, "invalid_assist", "协办单位不能与主办单位相同")
    if len(helpers) > MAX_ASSISTS:
        raise ConsoleError(400, "too_many_assists", f"协办单位最多 {MAX_ASSISTS} 个")
    if not ticket.request_type:
        raise ConsoleError(400, "request_type_required", "请先确认诉求类型，才能计算办理时限")
    if deadline is not None:
        if not _text(deadline_reason):
            raise ConsoleError(400, "reason_required", "自定办理时限须填写理由")
        if deadline <= now:
            raise ConsoleError(400, "deadline_in_past", "办理时限须晚于当前时间")
    redispatch = ticket.status == Status.RETURNED
    # Forwarding is also a classification: the lead unit becomes the confirmed department/region.
    values = {"department": lead.code} if lead.kind == "department" else {"region": lead.code}
    await set_classification(session, ticket, actor, directory, values=values)
    await store.transition(session, ticket, Action.DISPATCH, actor=actor.username, note=note)
    await _withdraw_open(session, ticket, now)
    due = deadline or ticket.external_deadline or deadline_for(directory, ticket.request_type, now,
                                                                urgent=ticket.urgent)
    await _set_ticket_deadline(session, ticket, actor, due, reason=_text(deadline_reason) or None)
    ticket.unit = lead.code
    round_ = await _next_round(session, ticket)
    sign_by = sign_deadline(directory, now)
    clean_note = _text(note) or None
    rows = [Dispatch(ticket_id=ticket.id, target_kind=unit.kind, target=unit.code, at=now, actor=actor.username,
                     deadline=due, note=clean_note, active=True, meta={}, role=role, round=round_,
                     state="pending_sign", sign_deadline=sign_by, extended=False)
            for unit, role in [(lead, "lead"), *((u, "assist") for u in helpers)]]
    session.add_all(rows)
    await session.flush()
    await store.record_event(session, ticket, actor=actor.username, action="redispatch" if redispatch else "forward",
                             to_value=lead.code, public=False,
                             detail={"target_kind": lead.kind, "unit_name": lead.name, "round": round_,
                                     "assists": [u.code for u in helpers], "deadline": _iso(due),
                                     "sign_deadline": _iso(sign_by)})
    if clean_note:
        await add_note(session, ticket, actor, f"交办说明：{clean_note}")
    return rows[0]


async def _next_round(session: AsyncSession, ticket: Ticket) -> int:
    current = (await session.execute(select(func.max(Dispatch.round)).where(Dispatch.ticket_id == ticket.id))).scalar()
    return (current or 0) + 1


async def _withdraw_open(session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    for row in await active_dispatches(session, ticket):
        row.active = False
        row.ended_at = now
        if row.state in OPEN_STATES:
            row.state = "withdrawn"


async def _set_ticket_deadline(session: AsyncSession, ticket: Ticket, actor: Actor, deadline: datetime | None,
                               *, reason: str | None = None) -> None:
    if deadline == ticket.deadline:
        return
    await store.record_event(session, ticket, actor=actor.username, action="update", field="deadline",
                             from_value=_iso(ticket.deadline), to_value=_iso(deadline),
                             detail={"reason": reason} if reason else None)
    ticket.deadline = deadline


# --------------------------------------------------------------------------- reading

async def active_dispatches(session: AsyncSession, ticket: Ticket) -> list[Dispatch]:
    stmt = (select(Dispatch).where(Dispatch.ticket_id == ticket.id, Dispatch.active.is_(True))
            .order_by(Dispatch.id))
    return list((await session.execute(stmt)).scalars())


async def active_dispatch(session: AsyncSession, ticket: Ticket) -> Dispatch | None:
    """The lead unit's open dispatch, if the ticket is with a unit."""
    stmt = (select(Dispatch).where(Dispatch.ticket_id == ticket.id, Dispatch.active.is_(True),
                                   Dispatch.role == "lead")
            .order_by(Dispatch.id.desc()).limit(1))
    return (await session.execute(stmt)).scalar_one_or_none()


async def dispatch_history(session: AsyncSession, ticket: Ticket) -> list[Dispatch]:
    stmt = select(Dispatch).where(Dispatch.ticket_id == ticket.id).order_by(Dispatch.id)
    return list((await session.execute(stmt)).scalars())


async def unit_dispatch(session: AsyncSession, ticket: Ticket, actor: Actor) -> Dispatch:
    """The handler's unit's open dispatch of this ticket.  A ticket of another unit answers
    exactly like a missing one: a unit learns nothing about other units' work."""
    if not actor.unit:
        raise ConsoleError(403, "forbidden", "只有承办单位经办人可以办理")
    stmt = (select(Dispatch).where(Dispatch.ticket_id == ticket.id, Dispatch.target == actor.unit,
                                   Dispatch.active.is_(True))
            .order_by(Dispatch.id.desc()).limit(1))
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise ConsoleError(404, "ticket_not_found", f"未找到工单 {ticket.number}")
    return row


async def ever_dispatched_to(session: AsyncSession, ticket: Ticket, unit: str) -> bool:
    """Whether ``unit`` ever had the ticket (a unit may read its past work, read-only)."""
    stmt = select(Dispatch.id).where(Dispatch.ticket_id == ticket.id, Dispatch.target == unit).limit(1)
    return (await session.execute(stmt)).first() is not None


# --------------------------------------------------------------------------- the unit's moves

async def sign(session: AsyncSession, ticket: Ticket, actor: Actor, *, now: datetime | None = None) -> Dispatch:
    """签收: the unit takes responsibility.  The lead's sign moves the ticket to 办理中."""
    now = now or utcnow()
    row = await unit_dispatch(session, ticket, actor)
    if row.state != "pending_sign":
        raise ConsoleError(409, "already_signed", "该工单已签收")
    row.state, row.signed_at, row.signed_by = "signed", now, actor.username
    late = row.sign_deadline is not None and now > row.sign_deadline
    if row.role == "lead":
        await store.transition(session, ticket, Action.SIGN, actor=actor.username)
    await store.record_event(session, ticket, actor=actor.username, action="unit_sign", to_value=row.target,
                             detail={"role": row.role, "round": row.round, "late": late})
    return row


async def return_ticket(session: AsyncSession, ticket: Ticket, actor: Actor, directory: Directory, *,
                        reason: object, text: object, now: datetime | None = None) -> Dispatch:
    """退回: the lead unit sends the ticket back to the platform, which re-dispatches or closes it.
    An assisting unit declines its part instead; the ticket stays with the lead."""
    now = now or utcnow()
    row = await unit_dispatch(session, ticket, actor)
    chosen = directory.return_reason(reason) if isinstance(reason, str) else None
    if chosen is None:
        raise ConsoleError(400, "invalid_reason", "请选择退回原因")
    detail = _text(text)
    if not detail:
        raise ConsoleError(400, "text_required", "请填写退回说明")
    if row.state not in ("pending_sign", "signed"):
        raise ConsoleError(409, "cannot_return", "答复已提交，不能退回")
    row.active, row.ended_at = False, now
    row.returned_by, row.return_reason, row.return_text = actor.username, chosen.code, detail
    if row.role == "lead":
        row.state = "returned"
        await store.transition(session, ticket, Action.RETURN, actor=actor.username,
                               note=f"{chosen.name}：{detail}")
        await _withdraw_open(session, ticket, now)  # the assisting units' part ends with it
    else:
        row.state = "declined"
    await store.record_event(session, ticket, actor=actor.username, action="unit_return", from_value=row.target,
                             detail={"role": row.role, "round": row.round, "reason": chosen.code,
                                     "reason_label": chosen.name, "text": detail})
    return row


# --------------------------------------------------------------------------- the platform's moves

async def redo(session: AsyncSession, ticket: Ticket, directory: Directory, *, actor: str, reason: str,
               now: datetime | None = None) -> Dispatch:
    """重办: the citizen was not satisfied; the same lead unit gets the ticket again, in a new
    round with a fresh deadline, and must sign for it again."""
    now = now or utcnow()
    if not ticket.unit:
        raise ConsoleError(409, "no_unit", "该工单未交办单位，不能重办")
    previous = (await session.execute(
        select(Dispatch).where(Dispatch.ticket_id == ticket.id, Dispatch.role == "lead")
        .order_by(Dispatch.id.desc()).limit(1))).scalar_one_or_none()
    await store.transition(session, ticket, Action.REDO, actor=actor, note=reason)
    await _withdraw_open(session, ticket, now)
    due = deadline_for(directory, ticket.request_type, now, urgent=ticket.urgent) or ticket.deadline
    if due != ticket.deadline:
        await store.record_event(session, ticket, actor=actor, action="update", field="deadline",
                                 from_value=_iso(ticket.deadline), to_value=_iso(due), detail={"reason": "重办"})
        ticket.deadline = due
    unit = _unit(directory, ticket.unit)
    row = Dispatch(ticket_id=ticket.id, target_kind=unit.kind, target=unit.code, at=now, actor=actor,
                   deadline=due, note=reason, active=True, meta={"redo": True}, role="lead",
                   round=await _next_round(session, ticket), state="pending_sign",
                   sign_deadline=sign_deadline(directory, now), extended=False)
    session.add(row)
    await session.flush()
    await store.record_event(session, ticket, actor=actor, action="redo_dispatch", to_value=unit.code,
                             detail={"round": row.round, "reason": reason, "deadline": _iso(due),
                                     "previous_dispatch": previous.id if previous else None})
    return row


async def set_deadline(session: AsyncSession, ticket: Ticket, actor: Actor, deadline: datetime, *,
                       reason: object, now: datetime | None = None) -> Dispatch:
    """A dispatcher moves the lead unit's deadline, with a reason (audited on the timeline)."""
    now = now or utcnow()
    why = _text(reason)
    if not why:
        raise ConsoleError(400, "reason_required", "修改办理时限须填写理由")
    if deadline <= now:
        raise ConsoleError(400, "deadline_in_past", "办理时限须晚于当前时间")
    row = await active_dispatch(session, ticket)
    if row is None:
        raise ConsoleError(409, "not_with_unit", "该工单不在承办单位办理中，无需修改时限")
    await _set_ticket_deadline(session, ticket, actor, deadline, reason=why)
    row.deadline = deadline
    # A new deadline starts the reminders afresh.
    row.reminded_at = row.overdue_flagged_at = None
    return row
