"""What the bot adds to its receipt outside the operators' shift."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from config.directory import Directory
from ticketing.supervision.shifts import shift_status


def off_hours_note(directory: Directory, at: datetime | None = None) -> str | None:
    """What the bot can add to its receipt outside the network hotline's shift, else None."""
    shift = shift_status(directory, at)
    if shift.on_duty or shift.next_start is None:
        return None
    when = shift.next_start.astimezone(ZoneInfo(directory.network_hotline.timezone))
    return (f"现在是非工作时间（网络热线人工服务时间 {shift.start}—{shift.end}），"
            f"工作人员将于 {when.month}月{when.day}日 {shift.start} 后依次处理您的诉求。")
