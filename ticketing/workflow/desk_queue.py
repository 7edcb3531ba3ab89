"""A unit's queue on its handling desk: the tabs (待签收 / 办理中 / 即将超期 / 已超期 / 已退回 / 已办结),
their counts, and one page of rows.

Rows are dispatches (one per unit and round), read through ``ix_dispatches_target_active_state``:
the open tabs are the unit's active rows, the two history tabs its ended rows of the last
``HISTORY_DAYS``.  The six counts come from one aggregate query over the same rows.  The time
tabs are about what the unit still owes (a row waiting for its signature or its answer); an
answer under the platform's review is counted 办理中, neither nearly due nor overdue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.models.tickets import Dispatch, Ticket
from ticketing.db.models.workflow import SupervisionNote
from ticketing.workflow.timing import Due, Timing, due_state

TABS: dict[str, str] = {
    "pending_sign": "待签收",
    "handling": "办理中",
    "warning": "即将超期",
    "overdue": "已超期",
    "returned": "已退回",
    "done": "已办结",
}
HISTORY_DAYS = 90
OWING = ("pending_sign", "signed")  # the unit still has to act
OPEN = ("pending_sign", "signed", "answered")
RETURNED = ("returned", "declined")
MAX_LIMIT = 200


@dataclass(frozen=True)
class QueueRow:
    dispatch_id: int
    number: str
    title: str | None
    request_type: str | None
    status: str
    role: str  # lead (主办) | assist (协办)
    round: int
    redo: bool
    state: str
    dispatched_at: datetime
    sign_deadline: datetime | None
    deadline: datetime | None
    ended_at: datetime | None
    timing: Timing | None  # None for ended rows
    unacknowledged: int  # 督办单 not yet acknowledged


@dataclass(frozen=True)
class QueuePage:
    tab: str
    rows: list[QueueRow]
    counts: dict[str, int]
    offset: int
    limit: int

    @property
    def total(self) -> int:
        return self.counts[self.tab]


def _epoch(session: AsyncSession, column: Any) -> ColumnElement[float]:
    """Seconds since 1970 of a timestamp column, in SQL (the warning threshold is arithmetic)."""
    if session.bind.dialect.name == "postgresql":
        return func.extract("epoch", column)
    return (func.julianday(column) - 2440587.5) * 86400.0


def _conditions(session: AsyncSession, now: datetime, warn_at: float) -> dict[str, ColumnElement[bool]]:
    active = Dispatch.active == true()
    owing = and_(active, Dispatch.state.in_(OWING))
    overdue = and_(owing, or_(Dispatch.deadline < now,
                              and_(Dispatch.state == "pending_sign", Dispatch.sign_deadline < now)))
    # warn_at of the time from the dispatch to the deadline is used: at + warn·(deadline − at) ≤ now.
    threshold = _epoch(session, Dispatch.at) * (1 - warn_at) + _epoch(session, Dispatch.deadline) * warn_at
    warning = and_(owing, Dispatch.deadline.is_not(None), Dispatch.deadline >= now,
                   or_(Dispatch.sign_deadline.is_(None), Dispatch.state != "pending_sign",
                       Dispatch.sign_deadline >= now),
                   threshold <= literal(now.timestamp()))
    since = now - timedelta(days=HISTORY_DAYS)
    return {
        "pending_sign": and_(active, Dispatch.state == "pending_sign"),
        "handling": and_(active, Dispatch.state.in_(("signed", "answered"))),
        "warning": warning,
        "overdue": overdue,
        "returned": and_(Dispatch.active == false(), Dispatch.state.in_(RETURNED), Dispatch.ended_at >= since),
        "done": and_(Dispatch.active == false(), Dispatch.state == "accepted", Dispatch.ended_at >= since),
    }


def _scope(unit: str, now: datetime) -> ColumnElement[bool]:
    """The unit's rows any tab can show (both arms ride the (target, active, state) index)."""
    since = now - timedelta(days=HISTORY_DAYS)
    return and_(Dispatch.target == unit, or_(
        and_(Dispatch.active == true(), Dispatch.state.in_(OPEN)),
        and_(Dispatch.active == false(), Dispatch.state.in_((*RETURNED, "accepted")), Dispatch.ended_at >= since)))


async def tab_counts(session: AsyncSession, unit: str, *, now: datetime, warn_at: float) -> dict[str, int]:
    conditions = _conditions(session, now, warn_at)
    stmt = select(*(func.coalesce(func.sum(case((cond, 1), else_=0)), 0).label(tab)
                    for tab, cond in conditions.items())).where(_scope(unit, now))
    row = (await session.execute(stmt)).one()
    return {tab: int(row._mapping[tab]) for tab in TABS}


async def unit_queue(session: AsyncSession, unit: str, *, tab: str, now: datetime, warn_at: float = 0.8,
                     offset: int = 0, limit: int = 50) -> QueuePage:
    """One page of ``tab`` (open tabs by deadline, soonest first; history tabs latest first)."""
    if tab not in TABS:
        raise ValueError(f"unknown tab {tab!r}")
    limit, offset = max(1, min(limit, MAX_LIMIT)), max(0, offset)
    condition = _conditions(session, now, warn_at)[tab]
    unacknowledged = (select(func.count(SupervisionNote.id))
                      .where(SupervisionNote.dispatch_id == Dispatch.id, SupervisionNote.acknowledged_at.is_(None))
                      .correlate(Dispatch).scalar_subquery())
    if tab in ("returned", "done"):
        order = (Dispatch.ended_at.desc(), Dispatch.id.desc())
    else:
        order = (Dispatch.deadline.is_(None), Dispatch.deadline, Dispatch.id)
    stmt = (select(Dispatch, Ticket.number, Ticket.title, Ticket.request_type, Ticket.status,
                   unacknowledged.label("unacknowledged"))
            .join(Ticket, Ticket.id == Dispatch.ticket_id)
            .where(_scope(unit, now), condition)
            .order_by(*order).offset(offset).limit(limit))
    rows = [_row(d, number, title, request_type, status, unacked, now, warn_at)
            for d, number, title, request_type, status, unacked in (await session.execute(stmt)).all()]
    counts = await tab_counts(session, unit, now=now, warn_at=warn_at)
    return QueuePage(tab, rows, counts, offset, limit)


def row_timing(dispatch: Dispatch, now: datetime, warn_at: float) -> Timing | None:
    if not dispatch.active:
        return None
    handle: Due = due_state(dispatch.at, dispatch.deadline, now, warn_at=warn_at)
    if dispatch.state == "answered":
        handle = "ok"  # the answer is with the platform: nothing left for the unit to be late with
    sign: Due | None = None
    if dispatch.state == "pending_sign":
        sign = "overdue" if dispatch.sign_deadline is not None and now > dispatch.sign_deadline else "ok"
    return Timing(handle, sign)


def _row(d: Dispatch, number: str, title: str | None, request_type: str | None, status: str, unacked: int,
         now: datetime, warn_at: float) -> QueueRow:
    return QueueRow(dispatch_id=d.id, number=number, title=title, request_type=request_type, status=status,
                    role=d.role, round=d.round, redo=bool((d.meta or {}).get("redo")), state=d.state,
                    dispatched_at=d.at, sign_deadline=d.sign_deadline, deadline=d.deadline, ended_at=d.ended_at,
                    timing=row_timing(d, now, warn_at), unacknowledged=int(unacked or 0))
