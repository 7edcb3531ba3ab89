"""The daily rollups and their incremental refresh.

Why a periodic job and not the intake transaction: a ticket's department, region and type
change after intake (operators correct the bot, dispatchers re-route), so a counter bumped at
intake would drift.  Instead the job finds the local days whose tickets changed since the
last run (``tickets.updated_at`` and new bot answers in ``entries.created_at``) and rebuilds
those days' rows from the tickets themselves, delete-then-insert in one transaction.  A day
holds a few thousand tickets, so a rebuild takes milliseconds; rebuilding a day twice gives
the same rows, so re-reading a margin before the watermark (transactions that committed late)
is harmless, and two workers racing on one day end with the same rows (on PostgreSQL the loser
fails its insert on the primary key and retries next period).  The worker runs it under a
Redis lock anyway (:mod:`gateway.worker.analytics`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Date, delete, exists, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.local_time import LOCAL_TZ
from ticketing.db.models.analytics import (
    HOURS,
    NONE,
    DailyBotAnswers,
    DailyChannelVolume,
    DailyVolume,
    MonthlyVolume,
    RollupState,
)
from ticketing.db.models.tickets import ClassificationChange, Entry, Prediction, Ticket

# Transactions that committed up to this long after their rows' timestamps are still seen.
LATE_COMMIT_MARGIN = timedelta(minutes=5)
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


async def rebuild_day(session: AsyncSession, day: date) -> None:
    """Replace the rollup rows of one local day by counts over its tickets and bot answers."""
    start, end = day_bounds(day)
    predicted = exists().where(Prediction.ticket_id == Ticket.id)
    # An operator changed a field the bot had filled, to something else.
    corrected = exists().where(ClassificationChange.ticket_id == Ticket.id, ClassificationChange.previous_by == "bot",
                               ClassificationChange.field.is_not(None),
                               ClassificationChange.to_value.is_distinct_from(ClassificationChange.predicted_value))
    rows = (await session.execute(
        select(Ticket.created_at, Ticket.channel, Ticket.department, Ticket.region, Ticket.request_type,
               Ticket.urgent, predicted, corrected)
        .where(Ticket.created_at >= start, Ticket.created_at < end))).all()
    cells: dict[tuple[str, str, str, str], dict[str, int]] = defaultdict(
        lambda: {"tickets": 0, "emergencies": 0, "predicted": 0, "corrected": 0} | dict.fromkeys(HOURS, 0))
    for created, channel, department, region, request_type, urgent, was_predicted, was_corrected in rows:
        cell = cells[(channel, department or NONE, region or NONE, request_type or NONE)]
        cell["tickets"] += 1
        cell["emergencies"] += bool(urgent)
        cell["predicted"] += bool(was_predicted)
        cell["corrected"] += bool(was_corrected)
        cell[HOURS[created.astimezone(LOCAL_TZ).hour]] += 1
    answers = (await session.execute(
        select(Entry.channel, func.count()).where(Entry.author == "bot", Entry.ticket_id.is_(None),
                                                  Entry.created_at >= start, Entry.created_at < end)
        .group_by(Entry.channel))).all()
    await session.execute(delete(DailyVolume).where(DailyVolume.day == day))
    await session.execute(delete(DailyChannelVolume).where(DailyChannelVolume.day == day))
    await session.execute(delete(DailyBotAnswers).where(DailyBotAnswers.day == day))
    if cells:
        await session.execute(insert(DailyVolume), [
            {"day": day, "channel": key[0], "department": key[1], "region": key[2], "request_type": key[3], **cell}
            for key, cell in cells.items()])
        per_channel: dict[str, int] = defaultdict(int)
        for key, cell in cells.items():
            per_channel[key[0]] += cell["tickets"]
        await session.execute(insert(DailyChannelVolume), [
            {"day": day, "channel": channel, "tickets": count} for channel, count in per_channel.items()])
    if answers:
        await session.execute(insert(DailyBotAnswers),
                              [{"day": day, "channel": channel, "answers": count} for channel, count in answers])


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


COUNTS = ("tickets", "emergencies", "predicted", "corrected", *HOURS)
DIMENSIONS = ("channel", "department", "region", "request_type")


async def rebuild_month(session: AsyncSession, month: date) -> None:
    """Replace one month's cube by the sum of its days' (after those were rebuilt)."""
    await session.execute(delete(MonthlyVolume).where(MonthlyVolume.month == month))
    dims = [getattr(DailyVolume, name) for name in DIMENSIONS]
    summed = (select(literal(month, Date()), *dims, *(func.sum(getattr(DailyVolume, name)) for name in COUNTS))
              .where(DailyVolume.day >= month, DailyVolume.day < next_month(month)).group_by(*dims))
    await session.execute(insert(MonthlyVolume).from_select(["month", *DIMENSIONS, *COUNTS], summed))


async def refresh(session: AsyncSession, *, margin: timedelta = LATE_COMMIT_MARGIN) -> Refresh:
    """Rebuild the days changed since the last refresh and move the watermarks, in the caller's
    transaction.  The first run rebuilds every day that has tickets (a backfill)."""
    days, ticket_mark, entry_mark = await changed_days(session, margin=margin)
    ordered = sorted(days)
    for day in ordered:
        await rebuild_day(session, day)
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
    for model in (DailyVolume, MonthlyVolume, DailyChannelVolume, DailyBotAnswers):
        await session.execute(delete(model))
    return await refresh(session)


async def last_refresh(session: AsyncSession) -> datetime | None:
    """The newest ticket change the rollups include (None: never refreshed)."""
    return await _mark(session, TICKETS_MARK)


__all__ = ["COUNTS", "DIMENSIONS", "LATE_COMMIT_MARGIN", "Refresh", "changed_days", "day_bounds", "last_refresh",
           "local_day", "month_of", "next_month", "rebuild_all", "rebuild_day", "rebuild_month", "refresh"]
