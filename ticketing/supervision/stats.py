"""Supervisors' figures per operator: handled, first response, average handling time."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ticketing.accounts.roles import CONSOLE_ROLES
from ticketing.db.models.accounts import User
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import ClassificationChange, Ticket, TicketEvent
from ticketing.tickets.lifecycle import OPEN_STATUSES, Action

# --------------------------------------------------------------------------- supervisor figures

@dataclass
class OperatorStats:
    username: str
    display_name: str
    role: str
    on_shift: bool
    handled: int = 0
    replies: int = 0
    first_reply_seconds: list[float] = field(default_factory=list)
    corrected_by_others: int = 0
    corrections_made: int = 0
    reopened: int = 0
    open_assigned: int = 0

    @property
    def median_first_reply_seconds(self) -> float | None:
        return statistics.median(self.first_reply_seconds) if self.first_reply_seconds else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username, "display_name": self.display_name, "role": self.role,
            "on_shift": self.on_shift, "handled": self.handled, "replies": self.replies,
            "median_first_reply_seconds": self.median_first_reply_seconds,
            "corrected_by_others": self.corrected_by_others, "corrections_made": self.corrections_made,
            "reopened": self.reopened, "open_assigned": self.open_assigned,
        }


HANDLING_ACTIONS = (Action.ANSWER.value, Action.DISPATCH.value, Action.MERGE.value)


async def operator_stats(session: AsyncSession, *, since: datetime,
                         until: datetime | None = None) -> list[OperatorStats]:
    """Per operator, over [since, until): tickets handled, median time to the first reply,
    corrections others made to their classifications, their tickets reopened afterwards.

    These back the seed's rule that staff with many errors are reported to their unit.
    """
    until = until or utcnow()
    users = list((await session.execute(
        select(User).where(User.role.in_(tuple(CONSOLE_ROLES))).order_by(User.username))).scalars())
    stats = {u.username: OperatorStats(u.username, u.display_name, u.role, u.on_shift) for u in users}

    def get(name: str) -> OperatorStats | None:
        return stats.get(name)

    in_window = and_(TicketEvent.at >= since, TicketEvent.at < until)
    rows = await session.execute(
        select(TicketEvent.actor, func.count(func.distinct(TicketEvent.ticket_id)))
        .where(TicketEvent.action.in_(HANDLING_ACTIONS), in_window).group_by(TicketEvent.actor))
    for actor, n in rows:
        if (s := get(actor)) is not None:
            s.handled = n
    rows = await session.execute(
        select(TicketEvent.actor, func.count()).where(TicketEvent.action == "reply", in_window)
        .group_by(TicketEvent.actor))
    for actor, n in rows:
        if (s := get(actor)) is not None:
            s.replies = n

    # First operator reply of each ticket created in the window, and who wrote it.
    first = (select(TicketEvent.ticket_id, func.min(TicketEvent.id).label("first_id"))
             .where(TicketEvent.action == "reply").group_by(TicketEvent.ticket_id).subquery())
    ev = aliased(TicketEvent)
    rows = await session.execute(
        select(ev.actor, ev.at, Ticket.created_at)
        .join(first, first.c.first_id == ev.id)
        .join(Ticket, Ticket.id == ev.ticket_id)
        .where(Ticket.created_at >= since, Ticket.created_at < until))
    for actor, at, created in rows:
        if (s := get(actor)) is not None:
            s.first_reply_seconds.append(max(0.0, (at - created).total_seconds()))

    cc_window = and_(ClassificationChange.at >= since, ClassificationChange.at < until,
                     ClassificationChange.field.is_not(None))
    rows = await session.execute(
        select(ClassificationChange.previous_by, func.count())
        .where(cc_window, ClassificationChange.previous_by != ClassificationChange.actor)
        .group_by(ClassificationChange.previous_by))
    for owner, n in rows:
        if owner and (s := get(owner)) is not None:
            s.corrected_by_others = n
    rows = await session.execute(
        select(ClassificationChange.actor, func.count())
        .where(cc_window, or_(ClassificationChange.previous_by.is_(None),
                              ClassificationChange.previous_by != ClassificationChange.actor))
        .group_by(ClassificationChange.actor))
    for actor, n in rows:
        if (s := get(actor)) is not None:
            s.corrections_made = n

    handled = aliased(TicketEvent)
    reopened = aliased(TicketEvent)
    rows = await session.execute(
        select(handled.actor, func.count(func.distinct(handled.ticket_id)))
        .join(reopened, and_(reopened.ticket_id == handled.ticket_id, reopened.action == Action.REOPEN.value,
                             reopened.id > handled.id))
        .where(handled.action.in_((Action.ANSWER.value, Action.DISPATCH.value)),
               handled.at >= since, handled.at < until)
        .group_by(handled.actor))
    for actor, n in rows:
        if (s := get(actor)) is not None:
            s.reopened = n

    rows = await session.execute(
        select(Ticket.assignee, func.count()).where(
            Ticket.assignee.is_not(None), Ticket.status.in_([s.value for s in OPEN_STATUSES]))
        .group_by(Ticket.assignee))
    for actor, n in rows:
        if (s := get(actor)) is not None:
            s.open_assigned = n
    return list(stats.values())
