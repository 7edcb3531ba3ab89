"""The dashboard's figures for a period of local days and optional filters, read from the rollups
(:mod:`ticketing.analytics.rollup`): whole calendar months from the monthly cube, the days around
them from the daily one; except the backlog, which is the tickets' state now.

Every function takes the same :class:`Scope`; each answers with plain counts keyed by the
directory's codes ("" for a ticket not yet classified), so the web layer adds the Chinese names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.analytics.rollup import month_of, next_month
from ticketing.db.models.analytics import (
    HOURS,
    DailyBotAnswers,
    DailyChannelVolume,
    DailyVolume,
    MonthlyPlaceVolume,
    MonthlyVolume,
)
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


Piece = tuple[Any, Any, int]  # (table, condition on its period column, +1 to add or -1 to take away)


def _days_piece(first: date, last: date, sign: int = 1) -> Piece:
    return DailyVolume, (DailyVolume.day >= first) & (DailyVolume.day <= last), sign


def _month_piece(first_month: date, end_month: date, monthly: Any = MonthlyVolume) -> Piece:
    return monthly, (monthly.month >= first_month) & (monthly.month < end_month), 1


def _pieces(scope: Scope, monthly: Any = MonthlyVolume) -> list[Piece]:
    """Where the period's counts are, reading as few rows as possible: whole calendar months in the
    monthly cube; a month mostly inside the period as the month minus its days outside (the
    monthly rows are the sums of the daily ones); the rest as days."""
    month_start, month_end = month_of(scope.first), next_month(month_of(scope.last))
    pieces: list[Piece] = []
    whole_from = None
    month = month_start
    while month < month_end:
        following = next_month(month)
        first, last = max(month, scope.first), min(following - timedelta(days=1), scope.last)
        inside = (last - first).days + 1
        outside = (following - month).days - inside
        if outside == 0:
            whole_from = whole_from or month
        else:
            if whole_from is not None:
                pieces.append(_month_piece(whole_from, month, monthly))
                whole_from = None
            if outside < inside:
                pieces.append(_month_piece(month, following, monthly))
                if first > month:
                    pieces.append(_days_piece(month, first - timedelta(days=1), -1))
                if last < following - timedelta(days=1):
                    pieces.append(_days_piece(last + timedelta(days=1), following - timedelta(days=1), -1))
            else:
                pieces.append(_days_piece(first, last))
        month = following
    if whole_from is not None:
        pieces.append(_month_piece(whole_from, month_end, monthly))
    return pieces


async def _cube_sums(session: AsyncSession, scope: Scope, group: tuple[str, ...],
                     values: tuple[str, ...]) -> dict[tuple, list[int]]:
    """SUM(values) GROUP BY group over the period and the filters, merged over the cube pieces."""
    merged: dict[tuple, list[int]] = {}
    pieces: list[Piece]
    if set(group) <= {"channel"} and set(scope.filters()) <= {"channel"}:
        # Neither grouped nor filtered by department, region or type: the small per-channel table.
        days = (DailyChannelVolume.day >= scope.first) & (DailyChannelVolume.day <= scope.last)
        pieces = [(DailyChannelVolume, days, 1)]
    elif "channel" not in group and "channel" not in scope.filters() and set(values) <= {"tickets"}:
        # Ticket counts by place and type, all channels: whole months from the smaller table.
        pieces = _pieces(scope, MonthlyPlaceVolume)
    else:
        pieces = _pieces(scope)
    for cube, period, sign in pieces:
        stmt = select(*(getattr(cube, g) for g in group), *(func.sum(getattr(cube, v)) for v in values)).where(period)
        for name, value in scope.filters().items():
            stmt = stmt.where(getattr(cube, name) == value)
        if group:
            stmt = stmt.group_by(*(getattr(cube, g) for g in group))
        for row in (await session.execute(stmt)).all():
            key, sums = tuple(row[:len(group)]), [sign * int(v or 0) for v in row[len(group):]]
            if key in merged:
                merged[key] = [a + b for a, b in zip(merged[key], sums, strict=True)]
            else:
                merged[key] = sums
    # A cell whose counts were all taken away again (tickets only outside the period) is no cell.
    return {key: sums for key, sums in merged.items() if any(sums)}


def _days(scope: Scope) -> list[date]:
    return [scope.first + timedelta(days=n) for n in range((scope.last - scope.first).days + 1)]


async def volume_by_day(session: AsyncSession, scope: Scope) -> dict[str, Any]:
    """``{"days": [...], "channels": {code: [count per day]}}`` (every day of the period)."""
    if scope.department is None and scope.region is None and scope.request_type is None:
        # Only the channel matters: the small per-day-and-channel table.
        stmt = (select(DailyChannelVolume.day, DailyChannelVolume.channel, DailyChannelVolume.tickets)
                .where(DailyChannelVolume.day >= scope.first, DailyChannelVolume.day <= scope.last))
        if scope.channel is not None:
            stmt = stmt.where(DailyChannelVolume.channel == scope.channel)
    else:
        stmt = select(DailyVolume.day, DailyVolume.channel, func.sum(DailyVolume.tickets)).where(
            DailyVolume.day >= scope.first, DailyVolume.day <= scope.last)
        for name, value in scope.filters().items():
            stmt = stmt.where(getattr(DailyVolume, name) == value)
        stmt = stmt.group_by(DailyVolume.day, DailyVolume.channel)
    rows = (await session.execute(stmt)).all()
    days = _days(scope)
    index = {day: n for n, day in enumerate(days)}
    channels: dict[str, list[int]] = {}
    for day, channel, count in rows:
        channels.setdefault(channel, [0] * len(days))[index[day]] = int(count)
    return {"days": [day.isoformat() for day in days], "channels": dict(sorted(channels.items()))}


async def volume_by_hour(session: AsyncSession, scope: Scope) -> dict[str, list[int]]:
    """Tickets per local hour of day (0…23) by channel, summed over the period."""
    sums = await _cube_sums(session, scope, ("channel",), HOURS)
    return {key[0]: values for key, values in sorted(sums.items())}


async def heat_map(session: AsyncSession, scope: Scope) -> list[tuple[str, str, int]]:
    """(department, region, tickets) for every pair with tickets."""
    sums = await _cube_sums(session, scope, ("department", "region"), ("tickets",))
    return sorted((department, region, values[0]) for (department, region), values in sums.items() if values[0])


async def request_types(session: AsyncSession, scope: Scope) -> dict[str, int]:
    sums = await _cube_sums(session, scope, ("request_type",), ("tickets",))
    return {key[0]: values[0] for key, values in sorted(sums.items()) if values[0]}


async def bot_share(session: AsyncSession, scope: Scope) -> dict[str, Any]:
    """What the bot did: FAQ answered without a ticket, emergencies redirected, hand-offs to the
    operators (tickets that are not emergencies), and how often operators corrected its
    pre-classification.  FAQ answers have no department, region or type: only the channel filter
    applies to them."""
    sums = await _cube_sums(session, scope, (), ("tickets", "emergencies", "predicted", "corrected"))
    tickets, emergencies, predicted, corrected = sums.get((), [0, 0, 0, 0])
    faq = select(func.coalesce(func.sum(DailyBotAnswers.answers), 0)).where(
        DailyBotAnswers.day >= scope.first, DailyBotAnswers.day <= scope.last)
    if scope.channel is not None:
        faq = faq.where(DailyBotAnswers.channel == scope.channel)
    if scope.department or scope.region or scope.request_type:
        faq_answers = None  # not attributable to a department, region or type
    else:
        faq_answers = int((await session.execute(faq)).scalar_one())
    handoffs = tickets - emergencies
    handled = (faq_answers or 0) + tickets
    return {"faq_answers": faq_answers, "emergencies": emergencies, "handoffs": handoffs, "tickets": tickets,
            "bot_share_pct": _pct((faq_answers or 0) + emergencies, handled) if faq_answers is not None else None,
            "predicted": predicted, "corrected": corrected, "correction_rate_pct": _pct(corrected, predicted)}


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
            "ages": [{"label": label, "count": int(count)}
                     for (label, _), count in zip(AGE_BUCKETS, ages, strict=True)]}


__all__ = ["AGE_BUCKETS", "BACKLOG_STATUSES", "Scope", "backlog", "bot_share", "heat_map", "request_types",
           "volume_by_day", "volume_by_hour"]
