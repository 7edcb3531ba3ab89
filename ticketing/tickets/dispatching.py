"""Forwarding (转办) a ticket to a department or a county's remote seat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.directory import Directory
from ticketing.accounts.roles import Actor
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Dispatch, Ticket
from ticketing.errors import ConsoleError
from ticketing.inputs import MAX_TEXT
from ticketing.tickets import store
from ticketing.tickets.classification import set_classification
from ticketing.tickets.deadlines import deadline_for
from ticketing.tickets.lifecycle import Action
from ticketing.tickets.replies import add_note


@dataclass(frozen=True)
class DispatchTarget:
    kind: str  # department | region
    code: str
    name: str


def dispatch_targets(directory: Directory) -> list[DispatchTarget]:
    out = [DispatchTarget("department", d.code, d.name) for d in directory.departments]
    out += [DispatchTarget("region", r.code, f"{r.name}12345远端坐席") for r in directory.regions
            if r.role == "remote_seat"]
    return out


async def dispatch(
    session: AsyncSession,
    ticket: Ticket,
    actor: Actor,
    directory: Directory,
    *,
    target_kind: str,
    target: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Dispatch:
    """Forward to a department or a county's remote seat, with a deadline from the request type."""
    now = now or utcnow()
    valid = {(t.kind, t.code) for t in dispatch_targets(directory)}
    if (target_kind, target) not in valid:
        raise ConsoleError(400, "invalid_target", "转办对象必须是承办部门或县（市、区）远端坐席")
    if not ticket.request_type:
        raise ConsoleError(400, "request_type_required", "请先确认诉求类型，才能计算办理时限")
    # Forwarding is also a classification: the target becomes the confirmed department/region.
    values = {"department": target} if target_kind == "department" else {"region": target}
    await set_classification(session, ticket, actor, directory, values=values)
    await store.transition(session, ticket, Action.DISPATCH, actor=actor.username, note=note)
    deadline = ticket.external_deadline or deadline_for(directory, ticket.request_type, now, urgent=ticket.urgent)
    if deadline != ticket.deadline:
        await store.record_event(session, ticket, actor=actor.username, action="update", field="deadline",
                                 from_value=ticket.deadline.isoformat() if ticket.deadline else None,
                                 to_value=deadline.isoformat() if deadline else None)
        ticket.deadline = deadline
    row = Dispatch(ticket_id=ticket.id, target_kind=target_kind, target=target, at=now, actor=actor.username,
                   deadline=deadline, note=(note or "").strip()[:MAX_TEXT] or None, active=True, meta={})
    session.add(row)
    await store.record_event(session, ticket, actor=actor.username, action="forward",
                             to_value=target, public=False,
                             detail={"target_kind": target_kind,
                                     "deadline": deadline.isoformat() if deadline else None})
    if note and note.strip():
        await add_note(session, ticket, actor, f"转办说明：{note.strip()}")
    return row


async def active_dispatch(session: AsyncSession, ticket: Ticket) -> Dispatch | None:
    stmt = (select(Dispatch).where(Dispatch.ticket_id == ticket.id, Dispatch.active.is_(True))
            .order_by(Dispatch.id.desc()).limit(1))
    return (await session.execute(stmt)).scalar_one_or_none()
