"""The console's 未读 marker: a ticket is unread for a user when a citizen wrote to it (or its
unit did something on the desk) after what the user last saw on the ticket's page.

Only activity someone at the console has to act on counts: citizens' messages and the units'
steps (签收, 退回, 办理进展, 答复, 延期申请, 督办单签收).  Operators' own replies, notes and status
changes do not make a ticket unread.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.models.read_markers import ReadMarker
from ticketing.db.models.tickets import Dispatch, Entry, Ticket, TicketEvent
from ticketing.tickets.lifecycle import Status

# Desk steps that the console must notice (``unit_*`` covers sign, return, progress, assist, answer).
UNIT_EVENT_PREFIX = "unit_"
UNIT_EVENTS = ("extension_requested", "supervision_acknowledged")
# A ticket in these states is with a unit: a citizen's follow-up there is for the operator who
# handled it to pass on ("我的工单").
WITH_UNIT = (Status.DISPATCHED.value, Status.HANDLING.value, Status.ANSWER_REVIEW.value, Status.ANSWERED.value)


def _unit_event():
    return or_(TicketEvent.action.like(UNIT_EVENT_PREFIX + "%"), TicketEvent.action.in_(UNIT_EVENTS))


def is_activity(*, author: str | None = None, action: str | None = None) -> bool:
    """Whether an entry (by its author) or an event (by its action) counts for the marker."""
    if author is not None:
        return author == "citizen"
    return bool(action) and (action.startswith(UNIT_EVENT_PREFIX) or action in UNIT_EVENTS)


async def last_activity(session: AsyncSession, ticket_ids: Sequence[int]) -> dict[int, datetime]:
    """The newest citizen message or unit step of each ticket: two grouped queries for a page."""
    if not ticket_ids:
        return {}
    found: dict[int, datetime] = {}
    citizen = (select(Entry.ticket_id, func.max(Entry.created_at))
               .where(Entry.ticket_id.in_(ticket_ids), Entry.author == "citizen").group_by(Entry.ticket_id))
    unit = (select(TicketEvent.ticket_id, func.max(TicketEvent.at))
            .where(TicketEvent.ticket_id.in_(ticket_ids), _unit_event()).group_by(TicketEvent.ticket_id))
    for stmt in (citizen, unit):
        for ticket_id, at in await session.execute(stmt):
            if at is not None and (ticket_id not in found or at > found[ticket_id]):
                found[ticket_id] = at
    return found


async def read_times(session: AsyncSession, username: str, ticket_ids: Sequence[int]) -> dict[int, datetime]:
    if not ticket_ids:
        return {}
    stmt = select(ReadMarker.ticket_id, ReadMarker.read_at).where(ReadMarker.username == username,
                                                                  ReadMarker.ticket_id.in_(ticket_ids))
    return {ticket_id: at for ticket_id, at in await session.execute(stmt)}


async def unread(session: AsyncSession, username: str, ticket_ids: Sequence[int]) -> set[int]:
    """The tickets among ``ticket_ids`` with activity newer than ``username`` last saw (three
    index look-ups for the whole page, whatever its size)."""
    activity = await last_activity(session, ticket_ids)
    seen = await read_times(session, username, list(activity))
    return {tid for tid, at in activity.items() if tid not in seen or at > seen[tid]}


def newest_seen(ticket: Ticket) -> datetime:
    """The newest activity on a ticket loaded with its entries and events (what its page shows).

    Marking read up to this, not up to the clock, keeps a message that arrives while the page
    is being rendered unread."""
    times: Iterable[datetime] = [e.created_at for e in ticket.entries if is_activity(author=e.author)]
    times = [*times, *(ev.at for ev in ticket.events if is_activity(action=ev.action))]
    return max(times, default=ticket.created_at)


async def mark_read(session: AsyncSession, username: str, ticket_id: int, seen: datetime) -> None:
    """Record that ``username`` saw the ticket up to ``seen``; the time only moves forward.
    The caller commits."""
    dialect = session.bind.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(ReadMarker).values(username=username, ticket_id=ticket_id, read_at=seen)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ReadMarker.username, ReadMarker.ticket_id],
        set_={"read_at": case((ReadMarker.read_at < stmt.excluded.read_at, stmt.excluded.read_at),
                              else_=ReadMarker.read_at)},
    )
    await session.execute(stmt)


def followup_after_dispatch(username: str):
    """SQL condition on ``Ticket``: it is with a unit and its citizen wrote after the lead
    dispatch, and after ``username`` last saw it."""
    # Correlated by hand: the inner look-up sits two levels down, where SQLAlchemy would
    # otherwise add its own ``tickets`` to the FROM list (a cross join over every ticket).
    seen_since = (select(ReadMarker.ticket_id)
                  .where(ReadMarker.ticket_id == Ticket.id, ReadMarker.username == username,
                         ReadMarker.read_at >= Entry.created_at)
                  .correlate(Ticket, Entry).exists())
    later_message = (select(Entry.id)
                     .join(Dispatch, (Dispatch.ticket_id == Entry.ticket_id) & (Dispatch.role == "lead"))
                     .where(Entry.ticket_id == Ticket.id, Entry.author == "citizen", Entry.created_at > Dispatch.at,
                            ~seen_since)
                     .correlate(Ticket).exists())
    return Ticket.status.in_(WITH_UNIT) & later_message
