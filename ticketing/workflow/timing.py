"""How much of a dispatch's time is used: on time, nearly due (即将超期), or overdue (已超期)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from config.directory import Directory
from ticketing.tickets.deadlines import add_workdays

Due = Literal["ok", "warning", "overdue"]

DUE_LABELS: dict[str, str] = {"ok": "正常", "warning": "即将超期", "overdue": "已超期"}


def due_state(start: datetime, deadline: datetime | None, now: datetime, *, warn_at: float = 0.8) -> Due:
    """``warning`` once ``warn_at`` of the time from ``start`` to ``deadline`` is used."""
    if deadline is None:
        return "ok"
    if now > deadline:
        return "overdue"
    total = (deadline - start).total_seconds()
    if total <= 0 or (now - start).total_seconds() >= warn_at * total:
        return "warning"
    return "ok"


def warning_at(start: datetime, deadline: datetime, warn_at: float = 0.8) -> datetime:
    """The moment a dispatch turns 即将超期."""
    return start + (deadline - start) * warn_at


def sign_deadline(directory: Directory, dispatched_at: datetime) -> datetime:
    """签收时限: the end of the n-th working day after the dispatch (n = 0: the same day)."""
    return add_workdays(dispatched_at, directory.handling.sign_within_workdays)


@dataclass(frozen=True)
class Timing:
    """What a queue row shows about one dispatch's time."""

    handle: Due
    sign: Due | None  # None once signed

    @property
    def label(self) -> str:
        if self.sign == "overdue":
            return "超时未签收"
        return DUE_LABELS[self.handle]
