"""The daily rollups and their incremental refresh.

Why a periodic job and not the intake transaction: a ticket's department, region and type
change after intake (operators correct the bot, dispatchers re-route), so a counter bumped at
intake would drift.  Instead the job finds the local days whose tickets changed since the
last run (``tickets.updated_at`` and new bot answers in ``entries.created_at``) and rebuilds
those days' rows from the tickets themselves (consecutive days in one read), delete-then-insert in
one transaction, then the months they belong to from their days.  A day holds a few thousand
tickets, so a rebuild takes milliseconds; rebuilding a day twice gives
the same rows, so re-reading a margin before the watermark (transactions that committed late)
is harmless, and two workers racing on one day end with the same rows (on PostgreSQL the loser
fails its insert on the primary key and retries next period).  The worker runs it under a
Redis lock anyway (:mod:`gateway.worker.analytics`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, Integer, case, cast, delete, exists, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.local_time import LOCAL_TZ
from ticketing.db.models.analytics import (
    HOURS,
    NONE,
    DailyBotAnswers,
    DailyChannelVolume,
    DailyVolume,
    MonthlyPlaceVolume,
    MonthlyVolume,
    RollupState,
)
from ticketing.db.models.tickets import ClassificationChange, Entry, Prediction, Ticket

# Transactions that committed up to this long after their rows' timestamps are still seen.
LATE_COMMIT_MARGIN = timedelta(minutes=5)
COUNTS = ("tickets", "emergencies", "predicted", "corrected", *HOURS)
DIMENSIONS = ("channel", "department", "region", "request_type")
TICKETS_MARK = "tickets"
ENTRIES_MARK = "entries"


def local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TZ).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of one local day."""
    return (datetime.combine(day, time(), LOCAL_TZ), datetime.combine(day + timedelta(days=1), time(), LOCAL_TZ))


@dataclass(frozen=True)
class Refresh:
    days: tuple[date, ...]


async def _mark(session: AsyncSession, name: str) -> datetime | None:
    row = await session.get(RollupState, name)
    return row.value if row is not None else None


async def _set_mark(session: AsyncSession, name: str, value: datetime) -> None:
    row = await session.get(RollupState, name)
    if row is None:
        session.add(RollupState(name=name, value=value))
    elif value > row.value:
        row.value = value


async def changed_days(session: AsyncSession, *, margin: timedelta = LATE_COMMIT_MARGIN,
                       ) -> tuple[set[date], datetime | None, datetime | None]:
    """The local days to rebuild, and the new watermarks (None: nothing seen)."""
    days: set[date] = set()
    ticket_mark, entry_mark = await _mark(session, TICKETS_MARK), await _mark(session, ENTRIES_MARK)
    if ticket_mark is None:
        # First run: every day that has tickets.
        first, last, newest = (await session.execute(
            select(func.min(Ticket.created_at), func.max(Ticket.created_at), func.max(Ticket.updated_at)))).one()
        new_ticket_mark = newest
        if first is not None:
            days.update(_days_between(local_day(first), local_day(last)))
    else:
        rows = (await session.execute(select(Ticket.created_at, Ticket.updated_at)
                                      .where(Ticket.updated_at > ticket_mark - margin))).all()
        days.update(local_day(created) for created, _ in rows)
        new_ticket_mark = max((updated for _, updated in rows), default=None)
    bot_answers = select(Entry.created_at).where(Entry.author == "bot", Entry.ticket_id.is_(None))
    if entry_mark is not None:
        bot_answers = bot_answers.where(Entry.created_at > entry_mark - margin)
    entry_times = list((await session.execute(bot_answers)).scalars())
    days.update(local_day(at) for at in entry_times)
    return days, new_ticket_mark, max(entry_times, default=None)


def _days_between(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _local(column: Any, dialect: str) -> tuple[Any, Any]:
    """SQL for the local day and the local hour of a UTC timestamp column.

    PostgreSQL converts with the zone's rules; SQLite stores UTC text and only knows fixed offsets,
    so it adds the zone's current offset (the city's zone, Asia/Shanghai, has had no daylight
    saving time since 1991)."""
    if dialect == "postgresql":
        local = func.timezone(str(LOCAL_TZ), column)
        return cast(local, Date), cast(func.extract("hour", local), Integer)
    offset = datetime.now(LOCAL_TZ).utcoffset() or timedelta(0)
    shift = f"{int(offset.total_seconds() // 60):+d} minutes"
    return func.date(column, shift), cast(func.strftime("%H", column, shift), Integer)


def _ones(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


async def rebuild_days(session: AsyncSession, first: date, last: date) -> None:
    """Replace the rollup rows of the local days ``first``…``last`` by counts over their tickets and
    bot answers, aggregated inside the database (one statement per table for the whole run)."""
    start, _ = day_bounds(first)
    _, end = day_bounds(last)
    dialect = session.get_bind().dialect.name
    day, hour = _local(Ticket.created_at, dialect)
    predicted = exists().where(Prediction.ticket_id == Ticket.id)
    # An operator changed a field the bot had filled, to something else.
    corrected = exists().where(ClassificationChange.ticket_id == Ticket.id, ClassificationChange.previous_by == "bot",
                               ClassificationChange.field.is_not(None),
                               ClassificationChange.to_value.is_distinct_from(ClassificationChange.predicted_value))
    dims = (Ticket.channel, func.coalesce(Ticket.department, NONE), func.coalesce(Ticket.region, NONE),
            func.coalesce(Ticket.request_type, NONE))
    cube = (select(day, *dims, func.count(), _ones(Ticket.urgent.is_(True)), _ones(predicted), _ones(corrected),
                   *(_ones(hour == n) for n in range(24)))
            .where(Ticket.created_at >= start, Ticket.created_at < end).group_by(day, *dims))
    answer_day, _ = _local(Entry.created_at, dialect)
    answers = (select(answer_day, Entry.channel, func.count())
               .where(Entry.author == "bot", Entry.ticket_id.is_(None), Entry.created_at >= start,
                      Entry.created_at < end).group_by(answer_day, Entry.channel))
    for model in (DailyVolume, DailyChannelVolume, DailyBotAnswers):
        await session.execute(delete(model).where(model.day >= first, model.day <= last))
    await session.execute(insert(DailyVolume).from_select(["day", *DIMENSIONS, *COUNTS], cube))
    await session.execute(insert(DailyChannelVolume).from_select(
        ["day", "channel", *COUNTS],
        select(DailyVolume.day, DailyVolume.channel, *(func.sum(getattr(DailyVolume, name)) for name in COUNTS))
        .where(DailyVolume.day >= first, DailyVolume.day <= last).group_by(DailyVolume.day, DailyVolume.channel)))
    await session.execute(insert(DailyBotAnswers).from_select(["day", "channel", "answers"], answers))


async def rebuild_day(session: AsyncSession, day: date) -> None:
    await rebuild_days(session, day, day)


def _runs(days: list[date], longest: int = 31) -> Iterable[tuple[date, date]]:
    """Sorted days as runs of consecutive days (at most ``longest`` each)."""
    first = previous = None
    for day in days:
        if first is not None and previous is not None and day == previous + timedelta(days=1) \
                and (day - first).days < longest:
            previous = day
            continue
        if first is not None and previous is not None:
            yield first, previous
        first = previous = day
    if first is not None and previous is not None:
        yield first, previous


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)




async def rebuild_month(session: AsyncSession, month: date) -> None:
    """Replace one month's cube by the sum of its days' (after those were rebuilt)."""
    await session.execute(delete(MonthlyVolume).where(MonthlyVolume.month == month))
    dims = [getattr(DailyVolume, name) for name in DIMENSIONS]
    summed = (select(literal(month, Date()), *dims, *(func.sum(getattr(DailyVolume, name)) for name in COUNTS))
              .where(DailyVolume.day >= month, DailyVolume.day < next_month(month)).group_by(*dims))
    await session.execute(insert(MonthlyVolume).from_select(["month", *DIMENSIONS, *COUNTS], summed))
    await session.execute(delete(MonthlyPlaceVolume).where(MonthlyPlaceVolume.month == month))
    places = [MonthlyVolume.department, MonthlyVolume.region, MonthlyVolume.request_type]
    await session.execute(insert(MonthlyPlaceVolume).from_select(
        ["month", "department", "region", "request_type", "tickets"],
        select(MonthlyVolume.month, *places, func.sum(MonthlyVolume.tickets))
        .where(MonthlyVolume.month == month).group_by(MonthlyVolume.month, *places)))


async def refresh(session: AsyncSession, *, margin: timedelta = LATE_COMMIT_MARGIN) -> Refresh:
    """Rebuild the days changed since the last refresh and move the watermarks, in the caller's
    transaction.  The first run rebuilds every day that has tickets (a backfill)."""
    days, ticket_mark, entry_mark = await changed_days(session, margin=margin)
    ordered = sorted(days)
    for first, last in _runs(ordered):
        await rebuild_days(session, first, last)
    for month in sorted({month_of(day) for day in ordered}):
        await rebuild_month(session, month)
    if ticket_mark is not None:
        await _set_mark(session, TICKETS_MARK, ticket_mark)
    if entry_mark is not None:
        await _set_mark(session, ENTRIES_MARK, entry_mark)
    return Refresh(tuple(ordered))


async def rebuild_all(session: AsyncSession) -> Refresh:
    """Drop the watermarks and rebuild every day (after a directory change, or by hand)."""
    await session.execute(delete(RollupState))
    for model in (DailyVolume, MonthlyVolume, MonthlyPlaceVolume, DailyChannelVolume, DailyBotAnswers):
        await session.execute(delete(model))
    return await refresh(session)


async def last_refresh(session: AsyncSession) -> datetime | None:
    """The newest ticket change the rollups include (None: never refreshed)."""
    return await _mark(session, TICKETS_MARK)


__all__ = ["COUNTS", "DIMENSIONS", "LATE_COMMIT_MARGIN", "Refresh", "changed_days", "day_bounds", "last_refresh",
           "local_day", "month_of", "next_month", "rebuild_all", "rebuild_day", "rebuild_days", "rebuild_month",
           "refresh"]
