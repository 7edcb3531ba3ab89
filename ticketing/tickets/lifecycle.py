"""The ticket lifecycle: which action moves a ticket from which status to which.

Intake (the network-hotline operators)::

    pending_review ──answer (直接答复)──► answered ──close──► closed
          │                                  ▲
          ├──merge──► merged (a duplicate folded into another ticket)
          └──dispatch (交办)──► dispatched

The handling loop after the hand-off (a department or a county's remote seat)::

    dispatched (待签收) ──sign (签收)──► handling (办理中) ──submit (提交答复)──► answer_review
        │  ▲                               │   ▲                                  │      │
        │  └──────── dispatch (改派) ─┐    │   └────────── reject (审核退回) ─────┘      │
        └──return (退回)──► returned ◄┘◄───┘ return                                  approve (审核通过)
                               │ close (dispatcher)                                        ▼
                               ▼                              answered (已答复, awaiting 一事一评)
                             closed ◄── close (solved & satisfied, or a supervisor's ruling) ┘
                                                              │ redo (重办: 未解决/不满意)
                                                              ▼
                                                          dispatched (the same unit, a new round)
                                                              │ rule (裁定办结: a supervisor finds
                                                              ▼  the complaint unreasonable)
                                                            closed

    bot_answered (the bot fully answered) ──close / reopen──►

    gathering (a chat ticket whose details the bot is still asking for, hidden from the queue)
        ──hand_over (answered, skipped, timed out, or an operator took over)──► pending_review
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING_REVIEW = "pending_review"
    DISPATCHED = "dispatched"
    HANDLING = "handling"
    RETURNED = "returned"
    ANSWER_REVIEW = "answer_review"
    ANSWERED = "answered"
    BOT_ANSWERED = "bot_answered"
    CLOSED = "closed"
    MERGED = "merged"
    GATHERING = "gathering"


class Action(StrEnum):
    ANSWER = "answer"
    DISPATCH = "dispatch"
    SIGN = "sign"
    RETURN = "return"
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    REDO = "redo"
    RULE = "rule"
    CLOSE = "close"
    REOPEN = "reopen"
    MERGE = "merge"
    HAND_OVER = "hand_over"


STATUS_LABELS = {
    Status.PENDING_REVIEW: "待审核",
    Status.DISPATCHED: "已交办待签收",
    Status.HANDLING: "办理中",
    Status.RETURNED: "已退回",
    Status.ANSWER_REVIEW: "答复待审核",
    Status.ANSWERED: "已答复",
    Status.BOT_ANSWERED: "智能客服已答复",
    Status.CLOSED: "已办结",
    Status.MERGED: "已合并",
    Status.GATHERING: "智能客服补充信息中",
}

ACTION_LABELS = {
    Action.ANSWER: "答复",
    Action.DISPATCH: "交办",
    Action.SIGN: "签收",
    Action.RETURN: "退回",
    Action.SUBMIT: "提交答复",
    Action.APPROVE: "答复审核通过",
    Action.REJECT: "答复审核退回",
    Action.REDO: "重办",
    Action.RULE: "裁定办结",
    Action.CLOSE: "办结",
    Action.REOPEN: "重新打开",
    Action.MERGE: "合并",
    Action.HAND_OVER: "转人工审核",
}

TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.PENDING_REVIEW, Action.ANSWER): Status.ANSWERED,
    (Status.PENDING_REVIEW, Action.DISPATCH): Status.DISPATCHED,
    (Status.PENDING_REVIEW, Action.MERGE): Status.MERGED,
    (Status.DISPATCHED, Action.SIGN): Status.HANDLING,
    (Status.DISPATCHED, Action.RETURN): Status.RETURNED,
    (Status.HANDLING, Action.RETURN): Status.RETURNED,
    (Status.HANDLING, Action.SUBMIT): Status.ANSWER_REVIEW,
    (Status.ANSWER_REVIEW, Action.APPROVE): Status.ANSWERED,
    (Status.ANSWER_REVIEW, Action.REJECT): Status.HANDLING,
    (Status.RETURNED, Action.DISPATCH): Status.DISPATCHED,
    (Status.RETURNED, Action.ANSWER): Status.ANSWERED,
    (Status.RETURNED, Action.CLOSE): Status.CLOSED,
    (Status.ANSWERED, Action.CLOSE): Status.CLOSED,
    (Status.ANSWERED, Action.REDO): Status.DISPATCHED,
    (Status.ANSWERED, Action.REOPEN): Status.PENDING_REVIEW,
    # A supervisor rules a bad evaluation unreasonable (with a reason): closed, even mid-重办.
    (Status.ANSWERED, Action.RULE): Status.CLOSED,
    (Status.DISPATCHED, Action.RULE): Status.CLOSED,
    (Status.HANDLING, Action.RULE): Status.CLOSED,
    (Status.BOT_ANSWERED, Action.CLOSE): Status.CLOSED,
    (Status.BOT_ANSWERED, Action.REOPEN): Status.PENDING_REVIEW,
    (Status.CLOSED, Action.REOPEN): Status.PENDING_REVIEW,
    (Status.GATHERING, Action.HAND_OVER): Status.PENDING_REVIEW,
}

# Statuses in which a unit holds the ticket (the handling desk's work).
WITH_UNIT = frozenset({Status.DISPATCHED, Status.HANDLING, Status.ANSWER_REVIEW})

# A citizen's follow-up joins a ticket in one of these statuses instead of opening a new one.
OPEN_STATUSES = frozenset({Status.GATHERING, Status.PENDING_REVIEW, Status.DISPATCHED, Status.HANDLING, Status.RETURNED,
                           Status.ANSWER_REVIEW, Status.ANSWERED})


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
