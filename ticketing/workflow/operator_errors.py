"""Per-operator error figures (工作失误) for the evaluation, as the integration plan requires:
staff who make many mistakes are reported to their unit.

Counted here, over a period, for the platform's reviewing staff (operators, dispatchers,
supervisors): tickets they reviewed, dispatches a unit returned as not its duty (a wrong
dispatch), and unit answers they accepted that the citizen then rated 未解决 or 不满意.  The
corrections others made to their classifications are the supervisors' existing figure
(``ticketing.supervision.stats``, ``corrected_by_others``); that package sits beside this one, so
the caller merges it in (:func:`with_corrections`) rather than this module counting it twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts.roles import DISPATCH_ROLES
from ticketing.db.models.accounts import User
from ticketing.db.models.tickets import Dispatch, TicketEvent
from ticketing.db.models.workflow import Survey, UnitReport
from ticketing.tickets.lifecycle import Action

# A review is any decision on a ticket's way: the intake review (answer, dispatch, merge) and the
# review of a unit's answer (accept or send back).
REVIEW_ACTIONS = (Action.ANSWER.value, Action.DISPATCH.value, Action.MERGE.value, Action.APPROVE.value,
                  Action.REJECT.value)
WRONG_DISPATCH_REASON = "not_our_duty"


@dataclass
class OperatorErrors:
    username: str
    display_name: str
    role: str
    reviewed: int = 0
    corrected_by_others: int = 0
    wrong_dispatches: int = 0
    bad_answers_approved: int = 0

    @property
    def errors(self) -> int:
        return self.corrected_by_others + self.wrong_dispatches + self.bad_answers_approved

    @property
    def error_rate(self) -> float | None:
        """Errors per 100 reviewed tickets; None when the person reviewed nothing."""
        return 100.0 * self.errors / self.reviewed if self.reviewed else None

    def to_dict(self) -> dict[str, Any]:
        rate = self.error_rate
        return {"username": self.username, "display_name": self.display_name, "role": self.role,
                "reviewed": self.reviewed, "corrected_by_others": self.corrected_by_others,
                "wrong_dispatches": self.wrong_dispatches, "bad_answers_approved": self.bad_answers_approved,
                "errors": self.errors, "error_rate_pct": None if rate is None else round(rate, 2)}


async def operator_errors(session: AsyncSession, *, start: datetime, end: datetime) -> list[OperatorErrors]:
    """The reviewing staff's figures over [start, end), most errors first."""
    users = (await session.execute(
        select(User).where(User.role.in_(tuple(DISPATCH_ROLES))).order_by(User.username))).scalars()
    rows = {u.username: OperatorErrors(u.username, u.display_name, u.role) for u in users}

    reviewed = (select(TicketEvent.actor, func.count(func.distinct(TicketEvent.ticket_id)))
                .where(TicketEvent.action.in_(REVIEW_ACTIONS), TicketEvent.at >= start, TicketEvent.at < end)
                .group_by(TicketEvent.actor))
    for actor, n in await session.execute(reviewed):
        if (row := rows.get(actor)) is not None:
            row.reviewed = n

    # A unit (lead or assisting) sent back a dispatch made in the period as not its duty.
    wrong = (select(Dispatch.actor, func.count())
             .where(Dispatch.at >= start, Dispatch.at < end, Dispatch.return_reason == WRONG_DISPATCH_REASON)
             .group_by(Dispatch.actor))
    for actor, n in await session.execute(wrong):
        if (row := rows.get(actor)) is not None:
            row.wrong_dispatches = n

    # An answer accepted in the period that the citizen rated 未解决 or 不满意, unless a supervisor
    # ruled that complaint unreasonable (then accepting the answer was right).
    bad = (select(UnitReport.reviewed_by, func.count(func.distinct(UnitReport.id)))
           .join(Survey, Survey.report_id == UnitReport.id)
           .where(UnitReport.kind == "answer", UnitReport.review_state == "accepted",
                  UnitReport.reviewed_at >= start, UnitReport.reviewed_at < end,
                  Survey.responded_at.is_not(None), or_(Survey.outcome.is_(None), Survey.outcome != "ruled"),
                  or_(Survey.solved.is_(False), Survey.satisfaction == "unsatisfied"))
           .group_by(UnitReport.reviewed_by))
    for actor, n in await session.execute(bad):
        if actor and (row := rows.get(actor)) is not None:
            row.bad_answers_approved = n
    return sort_by_errors(list(rows.values()))


def with_corrections(rows: list[OperatorErrors], corrected_by_others: Mapping[str, int]) -> list[OperatorErrors]:
    """Merge in the supervisors' "classification corrected by others" count per username."""
    for row in rows:
        row.corrected_by_others = corrected_by_others.get(row.username, 0)
    return sort_by_errors(rows)


def sort_by_errors(rows: list[OperatorErrors]) -> list[OperatorErrors]:
    return sorted(rows, key=lambda r: (-r.errors, -(r.error_rate or 0.0), r.username))
