"""The ticket lifecycle: which action moves a ticket from which status to which.

    pending_review ──answer──► answered ──close──► closed
          │  ▲                    │                  │
    dispatch │ return            reopen ◄────────────┘
          ▼  │                    │
       dispatched ──answer──►     ▼
                             pending_review
    bot_answered (the bot fully answered) ──close / reopen──►
    pending_review ──merge──► merged (a duplicate folded into another ticket)
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING_REVIEW = "pending_review"
    DISPATCHED = "dispatched"
    ANSWERED = "answered"
    BOT_ANSWERED = "bot_answered"
    CLOSED = "closed"
    MERGED = "merged"


class Action(StrEnum):
    ANSWER = "answer"
    DISPATCH = "dispatch"
    RETURN = "return"
    CLOSE = "close"
    REOPEN = "reopen"
    MERGE = "merge"


STATUS_LABELS = {
    Status.PENDING_REVIEW: "待审核",
    Status.DISPATCHED: "已转办",
    Status.ANSWERED: "已答复",
    Status.BOT_ANSWERED: "智能客服已答复",
    Status.CLOSED: "已办结",
    Status.MERGED: "已合并",
}

ACTION_LABELS = {
    Action.ANSWER: "答复",
    Action.DISPATCH: "转办",
    Action.RETURN: "退回",
    Action.CLOSE: "办结",
    Action.REOPEN: "重新打开",
    Action.MERGE: "合并",
}

TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.PENDING_REVIEW, Action.ANSWER): Status.ANSWERED,
    (Status.PENDING_REVIEW, Action.DISPATCH): Status.DISPATCHED,
    (Status.PENDING_REVIEW, Action.MERGE): Status.MERGED,
    (Status.DISPATCHED, Action.ANSWER): Status.ANSWERED,
    (Status.DISPATCHED, Action.RETURN): Status.PENDING_REVIEW,
    (Status.ANSWERED, Action.CLOSE): Status.CLOSED,
    (Status.ANSWERED, Action.REOPEN): Status.PENDING_REVIEW,
    (Status.BOT_ANSWERED, Action.CLOSE): Status.CLOSED,
    (Status.BOT_ANSWERED, Action.REOPEN): Status.PENDING_REVIEW,
    (Status.CLOSED, Action.REOPEN): Status.PENDING_REVIEW,
}

# A citizen's follow-up joins a ticket in one of these statuses instead of opening a new one.
OPEN_STATUSES = frozenset({Status.PENDING_REVIEW, Status.DISPATCHED, Status.ANSWERED})


def status_label(value: str | None) -> str:
    try:
        return STATUS_LABELS[Status(value)]
    except ValueError:
        return value or ""


def next_status(current: str, action: str) -> Status | None:
    """The status after ``action``, or None when the lifecycle forbids it."""
    try:
        return TRANSITIONS.get((Status(current), Action(action)))
    except ValueError:
        return None
