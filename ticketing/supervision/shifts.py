"""The network hotline's shift (长白班): whether operators are on duty now, and when next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from config.directory import Directory
from ticketing.db.models.base import utcnow


@dataclass(frozen=True)
class ShiftInfo:
    on_duty: bool
    start: str
    end: str
    next_start: datetime | None  # aware UTC, when off duty


def shift_status(directory: Directory, now: datetime | None = None) -> ShiftInfo:
    """Whether the network hotline's long day shift (长白班) is on now (local time)."""
    nh = directory.network_hotline
    tz = ZoneInfo(nh.timezone)
    local = (now or utcnow()).astimezone(tz)
    start = time.fromisoformat(nh.shift_start)
    end = time.fromisoformat(nh.shift_end)
    on = start <= local.time() < end
    next_start = None
    if not on:
        day = local.date() if local.time() < start else local.date() + timedelta(days=1)
        next_start = datetime.combine(day, start, tzinfo=tz).astimezone(ZoneInfo("UTC"))
    return ShiftInfo(on, nh.shift_start, nh.shift_end, next_start)


def arrived_off_hours(directory: Directory, at: datetime) -> bool:
    return not shift_status(directory, at).on_duty
