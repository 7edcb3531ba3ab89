"""Ticket deadlines in working days: the State Council's calendar with its make-up days, plus the
city's override (``config/holidays.yaml``)."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

from config.directory import Directory
from config.holidays import HolidayOverride, load_holiday_override
from config.local_time import LOCAL_TZ

log = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def _warn_unknown_year(year: int) -> None:
    log.warning("chinesecalendar does not know %d: counting Monday to Friday plus config/holidays.yaml "
                "(upgrade the package once the State Council has published that year's calendar)", year)


def is_workday(day: date, override: HolidayOverride | None = None) -> bool:
    """The city's override first, then the national calendar; a year the package does not know
    yet counts Monday to Friday."""
    override = override if override is not None else load_holiday_override()
    if day in override.makeup_workdays:
        return True
    if day in override.holidays:
        return False
    return _national_workday(day)


# The package validates every date against its whole table (min/max over all its holidays) on
# each call: a queue of 50 overdue tickets asked it ~13,000 times, over a second of CPU
# (bench/console.py).  Its calendar never changes in a running process.
@lru_cache(maxsize=8192)
def _national_workday(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        _warn_unknown_year(day.year)
        return day.weekday() < 5


def add_workdays(start: datetime, days: int, override: HolidayOverride | None = None) -> datetime:
    """End of the ``days``-th working day after ``start`` (local time), as aware UTC."""
    override = override if override is not None else load_holiday_override()
    local = start.astimezone(LOCAL_TZ).date()
    counted = 0
    while counted < days:
        local += timedelta(days=1)
        if is_workday(local, override):
            counted += 1
    return _end_of_day(local)


def workdays_left(deadline: datetime, now: datetime, override: HolidayOverride | None = None) -> int:
    """Whole working days after today up to the deadline's day (0: due today); negative once overdue,
    by the working days since the deadline's day. Deadlines end a local day, so days are what count."""
    override = override if override is not None else load_holiday_override()
    today = now.astimezone(LOCAL_TZ).date()
    due_day = deadline.astimezone(LOCAL_TZ).date()
    first, last, sign = (today, due_day, 1) if due_day >= today else (due_day, today, -1)
    days = sum(is_workday(first + timedelta(days=n), override) for n in range(1, (last - first).days + 1))
    if sign < 0 and now > deadline:
        return -max(days, 1)  # overdue across a holiday is still overdue
    return sign * days


def end_of_local_day(day: date) -> datetime:
    """23:59:59 of ``day`` in the city's time, as aware UTC (deadlines are whole local days)."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=LOCAL_TZ).astimezone(ZoneInfo("UTC"))


_end_of_day = end_of_local_day


def deadline_for(directory: Directory, request_type: str | None, start: datetime, *,
                 urgent: bool = False) -> datetime | None:
    if urgent and directory.time_limits.urgent_same_day:
        return _end_of_day(start.astimezone(LOCAL_TZ).date())
    if not request_type:
        return None
    days = getattr(directory.time_limits, request_type, None)
    return add_workdays(start, days) if days else None
