"""Turning stored values into what the citizen pages show (local time, Chinese labels)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from config.directory import Directory
from config.local_time import LOCAL_TZ

REPLY_AUTHORS = {"operator": "工作人员答复", "bot": "系统回复"}


def local_time(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO timestamp (or datetime) as Pingdingshan local time; '' when absent or unreadable."""
    if not value:
        return ""
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    if at.tzinfo is None:  # stored values are UTC; a naive one came from SQLite
        at = at.replace(tzinfo=ZoneInfo("UTC"))
    return at.astimezone(LOCAL_TZ).strftime(fmt)


def progress_view(progress: dict[str, Any]) -> dict[str, Any]:
    """The public progress of a ticket, shaped for the template (times already formatted)."""
    return {
        "ticket_no": progress["ticket_no"],
        "status": progress["status"],
        "status_label": progress["status_label"],
        "merged_into": progress.get("merged_into"),
        "created_at": local_time(progress.get("created_at")),
        "deadline": local_time(progress.get("deadline"), "%Y年%m月%d日"),
        "timeline": [
            {"at": local_time(step.get("at")), "label": step.get("label") or step.get("status") or ""}
            for step in progress.get("timeline") or ()
        ],
        "replies": [
            {"at": local_time(r.get("at")), "author": REPLY_AUTHORS.get(r.get("author"), "答复"),
             "official": r.get("author") == "operator", "text": r.get("text") or ""}
            for r in progress.get("replies") or ()
        ],
    }


def region_options(directory: Directory) -> list[dict[str, str]]:
    # Districts and zones first, then the counties and county-level cities, as the city lists them.
    order = {"district": 0, "zone": 1, "remote_seat": 2}
    regions = sorted(directory.regions, key=lambda r: order.get(r.role, 3))
    return [{"code": r.code, "name": r.name} for r in regions]


def emergency_numbers(directory: Directory) -> list[dict[str, str]]:
    return [{"number": e.number, "name": e.name, "description": e.description} for e in directory.emergency_numbers]


def separate_hotlines(directory: Directory) -> list[dict[str, str]]:
    """Hotlines the city did not merge into 12345: citizens must still dial them directly."""
    return [{"name": h.name, "hotline": h.hotline} for h in directory.non_integrated_hotlines]
