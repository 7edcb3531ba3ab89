"""Answering, closing, reopening and merging tickets."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts.roles import Actor
from ticketing.db.models.tickets import Dispatch, Ticket, TicketEvent
from ticketing.errors import ConsoleError
from ticketing.tickets import claims, store
from ticketing.tickets.lifecycle import Action, Status

# --------------------------------------------------------------------------- lifecycle actions

async def answer(session: AsyncSession, ticket: Ticket, actor: Actor, note: str | None = None) -> Ticket:
    """直接办结: the operator answered the citizen directly (status ``answered``); a returned
    ticket answered this way leaves the units' loop (no unit's evaluation waits for it)."""
    if ticket.status == Status.RETURNED:
        await store.update_fields(session, ticket, actor=actor.username, unit=None)
    return await store.transition(session, ticket, Action.ANSWER, actor=actor.username, note=note)


async def close(session: AsyncSession, ticket: Ticket, actor: Actor, note: str | None = None) -> Ticket:
    if ticket.unit is not None and ticket.status == Status.ANSWERED:
        # Closed by evidence: the citizen's 一事一评 (or a supervisor's ruling), not an operator's word.
        raise ConsoleError(409, "evaluation_required", "已交办单位办理的工单，须经群众评价（一事一评）或班长裁定后办结")
    return await store.transition(session, ticket, Action.CLOSE, actor=actor.username, note=note)


async def reopen(session: AsyncSession, ticket: Ticket, actor: Actor, reason: str | None = None) -> Ticket:
    """Back to review; the ticket returns to the shared queue (anyone may take it)."""
    await store.transition(session, ticket, Action.REOPEN, actor=actor.username, note=reason)
    if ticket.assignee is not None:
        await store.record_event(session, ticket, actor=actor.username, action="release", field="assignee",
                                 from_value=ticket.assignee)
        ticket.assignee = None
    for row in (await session.execute(select(Dispatch).where(Dispatch.ticket_id == ticket.id,
                                                             Dispatch.active.is_(True)))).scalars():
        row.active = False
    return ticket


async def merge(session: AsyncSession, source: Ticket, target: Ticket, actor: Actor) -> Ticket:
    """Fold a duplicate into another ticket: the duplicate becomes ``merged`` and points there.
    Neither may be held by another operator (a supervisor may merge anything)."""
    if source.id == target.id:
        raise ConsoleError(400, "same_ticket", "不能把工单合并到它自己")
    await claims.ensure_not_anothers(session, source, actor, what="merge")
    await claims.ensure_not_anothers(session, target, actor, what="merge_into")
    if target.status == Status.MERGED:
        raise ConsoleError(409, "target_merged", f"目标工单 {target.number} 本身已被合并，请合并到最终工单")
    await store.transition(session, source, Action.MERGE, actor=actor.username, note=f"合并到 {target.number}")
    await store.record_event(session, source, actor=actor.username, action="merged_into",
                             to_value=target.number, public=True)
    await store.record_event(session, target, actor=actor.username, action="merged_from",
                             from_value=source.number)
    conv = await store.conversation_of(session, target)
    await store.add_entry(session, conversation=conv, ticket=target, author="system", channel=target.channel,
                          text=f"工单 {source.number} 已作为重复件合并到本工单（{actor.display_name}）。",
                          public=False, meta={"merged_from": source.number})
    if target.urgent is False and source.urgent:
        await store.update_fields(session, target, actor=actor.username, urgent=True)
    await _carry_contact(session, source, target, actor)
    return source


# The main ticket may have come in without a way to reach its citizen (a phone call, an anonymous
# chat); the duplicate's contact then lets the answer reach someone, and /progress find it.
_CONTACT_FIELDS = ("citizen_name", "citizen_phone", "citizen_email", "citizen_wechat_openid")


async def _carry_contact(session: AsyncSession, source: Ticket, target: Ticket, actor: Actor) -> None:
    for field in _CONTACT_FIELDS:
        value = getattr(source, field)
        if value and not getattr(target, field):
            setattr(target, field, value)
            await store.record_event(session, target, actor=actor.username, action="update", field=field,
                                     to_value=value, detail={"merged_from": source.number})


# --------------------------------------------------------------------------- merged tickets

MAX_MERGE_DEPTH = 10  # a main ticket merged on again; guards against a cycle in bad data


async def main_ticket_of(session: AsyncSession, ticket: Ticket) -> Ticket:
    """The ticket a merged duplicate is now handled in (following merges of merges); itself otherwise."""
    current = ticket
    for _ in range(MAX_MERGE_DEPTH):
        if current.status != Status.MERGED:
            break
        stmt = (select(TicketEvent.to_value).where(TicketEvent.ticket_id == current.id,
                                                  TicketEvent.action == "merged_into")
                .order_by(TicketEvent.id.desc()).limit(1))
        number = (await session.execute(stmt)).scalar_one_or_none()
        target = await store.ticket_by_number(session, number) if number else None
        if target is None:
            break
        current = target
    return current


async def merged_duplicates(session: AsyncSession, ticket: Ticket) -> list[Ticket]:
    """Every ticket merged into this one, directly or through another duplicate (direct ones first)."""
    found: list[Ticket] = []
    seen = {ticket.id}
    frontier = [ticket.id]
    for _ in range(MAX_MERGE_DEPTH):
        if not frontier:
            break
        stmt = (select(Ticket).join(TicketEvent, TicketEvent.from_value == Ticket.number)
                .where(TicketEvent.ticket_id.in_(frontier), TicketEvent.action == "merged_from",
                       Ticket.status == Status.MERGED)
                .order_by(Ticket.id))
        rows = [t for t in (await session.execute(stmt)).scalars().unique() if t.id not in seen]
        seen.update(t.id for t in rows)
        found.extend(rows)
        frontier = [t.id for t in rows]
    return found
