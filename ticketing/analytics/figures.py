"""The dashboard's figures for a period of local days and optional filters, read from the daily
rollups (:mod:`ticketing.analytics.rollup`), except the backlog, which is the tickets' state now.

Every function takes the same :class:`Scope`; each answers with plain counts keyed by the
directory's codes ("" for a ticket not yet classified), so the web layer adds the Chinese names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.models.analytics import HOURS, DailyBotAnswers, DailyVolume
from ticketing.db.models.tickets import Ticket
from ticketing.tickets.lifecycle import Status

# The work still to do: the bot's hand-offs not yet reviewed and everything a unit holds.
BACKLOG_STATUSES = (Status.PENDING_REVIEW, Status.DISPATCHED, Status.HANDLING, Status.RETURNED,
                    Status.ANSWER_REVIEW)
# Age buckets of the backlog: (label, lower bound in days), youngest first.
AGE_BUCKETS = (("1天内", 0), ("1-3天", 1), ("3-7天", 3), ("7-15天", 7), ("15-30天", 15), ("30天以上", 30))


@dataclass(frozen=True)
class Scope:
    """Local days ``first``…``last`` (both included) and the filters (None: all)."""

    first: date
    last: date
    channel: str | None = None
    department: str | None = None
    region: str | None = None
    request_type: str | None = None

    def filters(self) -> dict[str, str]:
        return {k: v for k, v in (("channel", self.channel), ("department", self.department), ("region", self.region),
                                  ("request_type", self.request_type)) if v is not None}


def _scoped(stmt: Select, scope: Scope) -> Select:
    stmt = stmt.where(DailyVolume.day >= scope.first, DailyVolume.day <= scope.last)
    for name, value in scope.filters().items():
        stmt = stmt.where(getattr(DailyVolume, name) == value)
    return stmt


def _days(scope: Scope) -> list[date]:
    return [scope.first + timedelta(days=n) for n in range((scope.last - scope.first).days + 1)]


async def volume_by_day(session: AsyncSession, scope: Scope) -> dict[str, Any]:
    """``{"days": [...], "channels": {code: [count per day]}}`` (every day of the period)."""
    rows = (await session.execute(_scoped(
        select(DailyVolume.day, DailyVolume.channel, func.sum(DailyVolume.tickets))
        .group_by(DailyVolume.day, DailyVolume.channel), scope))).all()
    days = _days(scope)
    index = {day: n for n, day in enumerate(days)}
    channels: dict[str, list[int]] = {}
    for day, channel, count in rows:
        channels.setdefault(channel, [0] * len(days))[index[day]] = int(count)
    return {"days": [day.isoformat() for day in days], "channels": dict(sorted(channels.items()))}


async def volume_by_hour(session: AsyncSession, scope: Scope) -> dict[str, list[int]]:
    """Tickets per local hour of day (0…23) by channel, summed over the period."""
    rows = (await session.execute(_scoped(
        select(DailyVolume.channel, *(func.sum(getattr(DailyVolume, hour)) for hour in HOURS))
        .group_by(DailyVolume.channel), scope))).all()
    return {row[0]: [int(value or 0) for value in row[1:]] for row in sorted(rows)}


async def heat_map(session: AsyncSession, scope: Scope) -> list[tuple[str, str, int]]:
    """(department, region, tickets) for every pair with tickets."""
    rows = (await session.execute(_scoped(
        select(DailyVolume.department, DailyVolume.region, func.sum(DailyVolume.tickets))
        .group_by(DailyVolume.department, DailyVolume.region), scope))).all()
    return sorted((department, region, int(count)) for department, region, count in rows)


async def request_types(session: AsyncSession, scope: Scope) -> dict[str, int]:
    rows = (await session.execute(_scoped(
        select(DailyVolume.request_type, func.sum(DailyVolume.tickets)).group_by(DailyVolume.request_type),
        scope))).all()
    return {request_type: int(count) for request_type, count in sorted(rows)}


async def bot_share(session: AsyncSession, scope: Scope) -> dict[str, Any]:
    """What the bot did: FAQ answered without a ticket, emergencies redirected, hand-offs to the
    operators (tickets that are not emergencies), and how often operators corrected its
    pre-classification.  FAQ answers have no department, region or type: only the channel filter
    applies to them."""
    tickets, emergencies, predicted, corrected = (await session.execute(_scoped(
        select(*(func.coalesce(func.sum(column), 0) for column in (
            DailyVolume.tickets, DailyVolume.emergencies, DailyVolume.predicted, DailyVolume.corrected))),
        scope))).one()
    faq = select(func.coalesce(func.sum(DailyBotAnswers.answers), 0)).where(
        DailyBotAnswers.day >= scope.first, DailyBotAnswers.day <= scope.last)
    if scope.channel is not None:
        faq = faq.where(DailyBotAnswers.channel == scope.channel)
    if scope.department or scope.region or scope.request_type:
        faq_answers = None  # not attributable to a department, region or type
    else:
        faq_answers = int((await session.execute(faq)).scalar_one())
    handoffs = int(tickets) - int(emergencies)
    handled = (faq_answers or 0) + int(tickets)
    return {"faq_answers": faq_answers, "emergencies": int(emergencies), "handoffs": handoffs,
            "tickets": int(tickets),
            "bot_share_pct": _pct((faq_answers or 0) + int(emergencies), handled) if faq_answers is not None else None,
            "predicted": int(predicted), "corrected": int(corrected),
            "correction_rate_pct": _pct(int(corrected), int(predicted))}


def _pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100.0 * part / whole, 2)


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def backlog(session: AsyncSession, scope: Scope, *, now: datetime) -> dict[str, Any]:
    """The tickets open now (within the filters; the period does not apply): how many, how many
    past their deadline, and their ages."""
    bounds = [now - timedelta(days=days) for _, days in AGE_BUCKETS]
    buckets = []
    for n, (label, _) in enumerate(AGE_BUCKETS):
        younger_than = bounds[n]
        condition = Ticket.created_at <= younger_than
        if n + 1 < len(bounds):
            condition = condition & (Ticket.created_at > bounds[n + 1])
        buckets.append((label, _count(condition)))
    stmt = select(func.count(), _count(Ticket.deadline < now), *(expr for _, expr in buckets)).where(
        Ticket.status.in_([s.value for s in BACKLOG_STATUSES]))
    for name, value in scope.filters().items():
        stmt = stmt.where(getattr(Ticket, name) == value)
    total, overdue, *ages = (await session.execute(stmt)).one()
    return {"open": int(total), "overdue": int(overdue),
            "ages": [{"label": label, "count": int(count)} for (label, _), count in zip(AGE_BUCKETS, ages, strict=True)]}


__all__ = ["AGE_BUCKETS", "BACKLOG_STATUSES", "Scope", "backlog", "bot_share", "heat_map", "request_types",
           "volume_by_day", "volume_by_hour"]
