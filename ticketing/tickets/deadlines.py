"""Ticket deadlines in working days, following the national holiday calendar with make-up days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from config.directory import Directory
from config.local_time import LOCAL_TZ

CALENDAR_PATH = Path(__file__).resolve().parents[2] / "config" / "holidays.yaml"


@lru_cache(maxsize=4)
def load_calendar(path: Path = CALENDAR_PATH) -> tuple[frozenset[date], frozenset[date]]:
    """(holidays, make-up workdays) from the calendar file the city maintains."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    holidays = {date.fromisoformat(str(d)) for d in data.get("holidays", [])}
    workdays = {date.fromisoformat(str(d)) for d in data.get("makeup_workdays", [])}
    return frozenset(holidays), frozenset(workdays)


def is_workday(day: date, calendar: tuple[frozenset[date], frozenset[date]] | None = None) -> bool:
    holidays, makeup = calendar or load_calendar()
    if day in makeup:
        return True
    if day in holidays:
        return False
    return day.weekday() < 5


def add_workdays(start: datetime, days: int) -> datetime:
    """End of the ``days``-th working day after ``start`` (local time), as aware UTC."""
    local = start.astimezone(LOCAL_TZ).date()
    calendar = load_calendar()
    counted = 0
    while counted < days:
        local += timedelta(days=1)
        if is_workday(local, calendar):
            counted += 1
    end = datetime.combine(local, time(23, 59, 59), tzinfo=LOCAL_TZ)
    return end.astimezone(ZoneInfo("UTC"))


def deadline_for(directory: Directory, request_type: str | None, start: datetime, *, urgent: bool = False) -> datetime | None:
    if urgent and directory.time_limits.urgent_same_day:
        local = start.astimezone(LOCAL_TZ).date()
        return datetime.combine(local, time(23, 59, 59), tzinfo=LOCAL_TZ).astimezone(ZoneInfo("UTC"))
    if not request_type:
        return None
    days = getattr(directory.time_limits, request_type, None)
    return add_workdays(start, days) if days else None
