"""Who handles a ticket: lookup with row locks, claim, release, assign, and revealing the contact."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts.audit import audit
from ticketing.accounts.roles import CONSOLE_ROLES, Actor
from ticketing.db.models.accounts import User
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.errors import ConsoleError
from ticketing.tickets import store
from ticketing.tickets.lifecycle import OPEN_STATUSES


async def get_ticket(session: AsyncSession, number: str, *, full: bool = False) -> Ticket:
    ticket = await store.ticket_by_number(session, (number or "").strip().upper(), full=full)
    if ticket is None:
        raise ConsoleError(404, "ticket_not_found", f"未找到工单 {number}")
    return ticket


async def lock_ticket(session: AsyncSession, ticket: Ticket) -> Ticket:
    """Re-read the ticket under a row lock so concurrent actions serialise.

    SQLite has no row lock: a no-op write takes the database's write lock instead, so a concurrent
    action on this ticket waits here and then reads what the first one committed."""
    stmt = select(Ticket).where(Ticket.id == ticket.id).execution_options(populate_existing=True)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    elif session.bind.dialect.name == "sqlite":
        await session.execute(update(Ticket).where(Ticket.id == ticket.id).values(id=Ticket.id)
                              .execution_options(synchronize_session=False))
    return (await session.execute(stmt)).scalar_one()


# --------------------------------------------------------------------------- claiming

async def claim(session: AsyncSession, ticket: Ticket, actor: Actor) -> Ticket:
    """Take a ticket.  One conditional UPDATE: of two operators racing, exactly one wins."""
    if ticket.assignee == actor.username:
        return ticket
    if ticket.status not in {s.value for s in OPEN_STATUSES}:
        raise ConsoleError(409, "not_claimable", "该工单已办结或已合并，不能认领")
    now = utcnow()
    result = await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.assignee.is_(None))
        .values(assignee=actor.username, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        await session.refresh(ticket, ["assignee"])
        if ticket.assignee == actor.username:
            return ticket
        raise ConsoleError(409, "already_claimed", f"该工单已由 {ticket.assignee} 认领")
    await session.refresh(ticket, ["assignee", "updated_at"])
    await store.record_event(session, ticket, actor=actor.username, action="claim", field="assignee",
                             to_value=actor.username)
    return ticket


async def release(session: AsyncSession, ticket: Ticket, actor: Actor) -> Ticket:
    if ticket.assignee is None:
        return ticket
    if ticket.assignee != actor.username and not actor.supervisor:
        raise ConsoleError(403, "not_assignee", "只能释放自己认领的工单")
    before = ticket.assignee
    ticket.assignee = None
    ticket.updated_at = utcnow()
    await store.record_event(session, ticket, actor=actor.username, action="release", field="assignee",
                             from_value=before)
    return ticket


async def assign(session: AsyncSession, ticket: Ticket, actor: Actor, to_username: str | None) -> Ticket:
    """A supervisor gives a ticket to an operator (or back to the queue with None)."""
    if not actor.supervisor:
        raise ConsoleError(403, "supervisor_only", "只有班长可以改派工单")
    if to_username:
        user = (await session.execute(select(User).where(User.username == to_username))).scalar_one_or_none()
        if user is None or not user.active or user.role not in CONSOLE_ROLES:
            raise ConsoleError(400, "unknown_operator", f"没有可接收工单的坐席 {to_username}")
    before = ticket.assignee
    if before == (to_username or None):
        return ticket
    ticket.assignee = to_username or None
    ticket.updated_at = utcnow()
    await store.record_event(session, ticket, actor=actor.username, action="assign", field="assignee",
                             from_value=before, to_value=to_username or None)
    await audit(session, actor=actor.username, action="reassign", ticket_id=ticket.id, target=ticket.number,
                ip=actor.ip, detail={"from": before, "to": to_username or None})
    return ticket


async def ensure_handler(session: AsyncSession, ticket: Ticket, actor: Actor) -> Ticket:
    """The actor may work on the ticket: theirs, free (claimed now, atomically), or a
    supervisor stepping in (written to the audit log)."""
    if ticket.assignee == actor.username:
        return ticket
    if ticket.assignee is None and ticket.status in {s.value for s in OPEN_STATUSES}:
        return await claim(session, ticket, actor)
    if actor.supervisor:
        await audit(session, actor=actor.username, action="override", ticket_id=ticket.id, target=ticket.number,
                    ip=actor.ip, detail={"assignee": ticket.assignee})
        return ticket
    if ticket.assignee is None:
        raise ConsoleError(409, "not_claimed", "请先认领该工单")
    raise ConsoleError(409, "claimed_by_other", f"该工单正由 {ticket.assignee} 处理")


async def ensure_not_anothers(session: AsyncSession, ticket: Ticket, actor: Actor, *, what: str,
                              audited: bool = True) -> Ticket:
    """The actor may touch the ticket without taking it (a note, being the target of a merge): it
    is free or theirs; a ticket another operator holds is theirs alone, except for a supervisor
    stepping in (written to the audit log unless ``audited`` is False), as for replies
    (``ensure_handler``)."""
    if ticket.assignee is None or ticket.assignee == actor.username:
        return ticket
    if actor.supervisor:
        if not audited:
            return ticket
        await audit(session, actor=actor.username, action="override", ticket_id=ticket.id, target=ticket.number,
                    ip=actor.ip, detail={"assignee": ticket.assignee, "what": what})
        return ticket
    raise ConsoleError(409, "claimed_by_other", f"该工单正由 {ticket.assignee} 处理")


def may_reveal(ticket: Ticket, actor: Actor) -> bool:
    return actor.supervisor or (ticket.assignee is not None and ticket.assignee == actor.username)


async def reveal_contact(session: AsyncSession, ticket: Ticket, actor: Actor) -> dict[str, str | None]:
    """Full contact details, for the handling operator and supervisors; always audited."""
    if not may_reveal(ticket, actor):
        raise ConsoleError(403, "reveal_forbidden", "只有正在处理该工单的坐席或班长可以查看完整联系方式")
    await audit(session, actor=actor.username, action="reveal_contact", ticket_id=ticket.id, target=ticket.number,
                ip=actor.ip, detail={"fields": [f for f in ("phone", "email", "wechat_openid")
                                                if getattr(ticket, f"citizen_{f}")]})
    return {"name": ticket.citizen_name, "phone": ticket.citizen_phone, "email": ticket.citizen_email,
            "wechat_openid": ticket.citizen_wechat_openid}
