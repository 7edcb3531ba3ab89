"""Automatic assignment of new tickets to the operators on shift, least loaded first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.models.accounts import User
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.tickets import store
from ticketing.tickets.lifecycle import Status


async def auto_assign(session: AsyncSession, ticket_id: int, *, now: datetime | None = None) -> str | None:
    """Round-robin: the on-shift operator assigned longest ago takes an unclaimed ticket.

    Safe to run in every gateway process at once: the conditional UPDATE lets one win.
    """
    now = now or utcnow()
    stmt = (
        select(User)
        .where(User.active.is_(True), User.on_shift.is_(True), User.role == "operator")
        .order_by(User.last_assigned_at.is_not(None), User.last_assigned_at, User.id)
        .limit(1)
    )
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        return None
    result = await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.assignee.is_(None), Ticket.status == Status.PENDING_REVIEW.value)
        .values(assignee=user.username, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    user.last_assigned_at = now
    ticket = await session.get(Ticket, ticket_id)
    await session.refresh(ticket, ["assignee"])
    await store.record_event(session, ticket, actor="system", action="auto_assign", field="assignee",
                             to_value=user.username)
    return user.username
