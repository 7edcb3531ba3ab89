"""考评: every unit's figures over a period, a weighted score and the ranking.

A dispatch belongs to the period in which it was made (``Dispatch.at`` in [start, end)); what
happened to it later (signing, answering, the citizen's evaluation) counts for that period, so a
month's figures settle as its work ends.  Only the lead unit's dispatches (``role == "lead"``)
are measured: an assisting unit answers to the lead, not to the platform.  A 重办 is a new round
and so counts as newly received work.

Everything is counted by the database (one aggregate query per table, grouped by unit): the
report must stay fast over a year of a city's tickets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import case

from config.directory import EVALUATION_RATES, Directory
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Dispatch
from ticketing.db.models.workflow import ExtensionRequest, SupervisionNote, Survey

RATE_LABELS = {
    "signed_on_time": "按时签收率",
    "answered_on_time": "按时答复率",
    "not_returned": "未退回率",
    "not_extended": "未延期率",
    "solved": "解决率",
    "satisfied": "满意率",
}
SATISFIED = ("satisfied", "basic")


@dataclass(frozen=True)
class Ratio:
    """``hits`` of ``total``; ``percent`` is None when there is nothing to measure."""

    hits: int
    total: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.hits / self.total if self.total else None

    def inverse(self) -> Ratio:
        return Ratio(self.total - self.hits, self.total)


@dataclass
class UnitFigures:
    code: str
    name: str
    kind: str  # department | region
    received: int = 0
    signed_on_time: Ratio = Ratio(0, 0)
    answered_on_time: Ratio = Ratio(0, 0)
    returned: Ratio = Ratio(0, 0)
    extended: Ratio = Ratio(0, 0)
    solved: Ratio = Ratio(0, 0)
    satisfied: Ratio = Ratio(0, 0)
    overdue: int = 0
    supervision_notes: int = 0
    score: float = 100.0
    rank: int = 0
    rates: dict[str, float | None] = field(default_factory=dict)

    def scored_rates(self) -> dict[str, Ratio]:
        """The six rates the weights apply to, each as a share of good outcomes."""
        return {"signed_on_time": self.signed_on_time, "answered_on_time": self.answered_on_time,
                "not_returned": self.returned.inverse(), "not_extended": self.extended.inverse(),
                "solved": self.solved, "satisfied": self.satisfied}

    def to_dict(self) -> dict[str, Any]:
        return {"unit": self.code, "name": self.name, "kind": self.kind, "rank": self.rank,
                "score": round(self.score, 2), "received": self.received,
                "signed_on_time_pct": _pct(self.signed_on_time), "answered_on_time_pct": _pct(self.answered_on_time),
                "returned_pct": _pct(self.returned), "extended_pct": _pct(self.extended),
                "solved_pct": _pct(self.solved), "satisfied_pct": _pct(self.satisfied),
                "returned": self.returned.hits, "extended": self.extended.hits,
                "surveys": self.solved.total, "overdue": self.overdue, "supervision_notes": self.supervision_notes}


def _pct(ratio: Ratio) -> float | None:
    return None if ratio.percent is None else round(ratio.percent, 2)


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def score(figures: UnitFigures, weights: dict[str, float]) -> float:
    """0–100: the weighted mean of the six rates.  A rate with nothing to measure (no signature
    due, no survey answered …) counts as 100 %: a unit is not marked down for work it was never
    given, and one unanswered survey cannot swing a small unit's score.  A unit that received
    nothing therefore scores 100; the ranking puts it after the units with work (see ``rank``)."""
    total = 0.0
    for rate, ratio in figures.scored_rates().items():
        total += weights.get(rate, 0.0) * (ratio.percent if ratio.percent is not None else 100.0)
    return total


def rank(rows: list[UnitFigures]) -> list[UnitFigures]:
    """Best score first; among equal scores the unit with more work first.  Equal scores share a
    rank (1, 2, 2, 4); units that received nothing come last, unranked (rank 0)."""
    rows.sort(key=lambda r: (r.received == 0, -round(r.score, 6), -r.received, r.code))
    for position, row in enumerate(rows, start=1):
        before = rows[position - 2] if position > 1 else None
        if row.received == 0:
            row.rank = 0
        elif before is not None and before.received and round(before.score, 6) == round(row.score, 6):
            row.rank = before.rank
        else:
            row.rank = position
    return rows


async def unit_figures(session: AsyncSession, directory: Directory, *, start: datetime, end: datetime,
                       now: datetime | None = None) -> list[UnitFigures]:
    """Every unit's figures for the dispatches made in [start, end), ranked.

    ``now`` is when the figures are read: a dispatch still open is overdue once its deadline is
    before ``min(end, now)`` (a current month is judged as of today, a past month as of its end);
    one answered, returned or withdrawn after its deadline is overdue whenever that happened."""
    now = now or utcnow()
    horizon = min(end, now)
    figures = {u.code: UnitFigures(u.code, u.name, u.kind) for u in directory.units}
    in_period = and_(Dispatch.role == "lead", Dispatch.at >= start, Dispatch.at < end)

    approved = (select(ExtensionRequest.dispatch_id).where(ExtensionRequest.state == "approved")
                .group_by(ExtensionRequest.dispatch_id).subquery())
    signed_on_time = and_(Dispatch.signed_at.is_not(None),
                          or_(Dispatch.sign_deadline.is_(None), Dispatch.signed_at <= Dispatch.sign_deadline))
    # Signing was due: signed, or the sign deadline passed while the dispatch was still unsigned and open.
    sign_due = or_(Dispatch.signed_at.is_not(None),
                   and_(Dispatch.sign_deadline.is_not(None),
                        Dispatch.sign_deadline < func.coalesce(Dispatch.ended_at, horizon),
                        Dispatch.sign_deadline < horizon))
    stopped = func.coalesce(Dispatch.answered_at, Dispatch.ended_at)
    overdue = and_(Dispatch.deadline.is_not(None),
                   or_(and_(stopped.is_not(None), stopped > Dispatch.deadline),
                       and_(stopped.is_(None), Dispatch.deadline < horizon)))
    answered_on_time = and_(Dispatch.answered_at.is_not(None),
                            or_(Dispatch.deadline.is_(None), Dispatch.answered_at <= Dispatch.deadline))
    answer_due = or_(Dispatch.answered_at.is_not(None), overdue)
    extended = or_(Dispatch.extended.is_(True), approved.c.dispatch_id.is_not(None))
    stmt = (select(Dispatch.target, func.count(), _count(signed_on_time), _count(sign_due),
                   _count(answered_on_time), _count(answer_due), _count(Dispatch.state == "returned"),
                   _count(extended), _count(overdue))
            .outerjoin(approved, approved.c.dispatch_id == Dispatch.id)
            .where(in_period).group_by(Dispatch.target))
    for unit, received, sign_ok, sign_n, answer_ok, answer_n, returned, extended_n, overdue_n in \
            await session.execute(stmt):
        if (row := figures.get(unit)) is None:
            continue  # a unit since removed from the directory
        row.received = received
        row.signed_on_time = Ratio(sign_ok, sign_n)
        row.answered_on_time = Ratio(answer_ok, answer_n)
        row.returned = Ratio(returned, received)
        row.extended = Ratio(extended_n, received)
        row.overdue = overdue_n

    # 一事一评 of the answers to the period's dispatches (a survey evaluates the dispatch whose answer
    # it asks about; one without a dispatch evaluates an answer the platform gave itself, no unit's).
    # A survey a supervisor ruled unreasonable (outcome "ruled") counts as solved and satisfied: the
    # ruling found the unit's answer sound, and an unreasonable complaint must not mark a unit down.
    ruled = Survey.outcome == "ruled"
    answered = or_(Survey.responded_at.is_not(None), ruled)
    stmt = (select(Dispatch.target, _count(answered), _count(or_(ruled, and_(answered, Survey.solved.is_(True)))),
                   _count(or_(ruled, and_(answered, Survey.satisfaction.in_(SATISFIED)))))
            .join(Survey, Survey.dispatch_id == Dispatch.id)
            .where(in_period).group_by(Dispatch.target))
    for unit, responded, solved, satisfied in await session.execute(stmt):
        if (row := figures.get(unit)) is not None:
            row.solved = Ratio(solved, responded)
            row.satisfied = Ratio(satisfied, responded)

    # 督办单 issued in the period (a press on the unit is an event of the month it happened in).
    stmt = (select(SupervisionNote.unit, func.count())
            .where(SupervisionNote.issued_at >= start, SupervisionNote.issued_at < end)
            .group_by(SupervisionNote.unit))
    for unit, notes in await session.execute(stmt):
        if (row := figures.get(unit)) is not None:
            row.supervision_notes = notes

    weights = directory.evaluation.weights
    for row in figures.values():
        row.score = score(row, weights)
        row.rates = {rate: ratio.percent for rate, ratio in row.scored_rates().items()}
    return rank(list(figures.values()))


__all__ = ["EVALUATION_RATES", "RATE_LABELS", "Ratio", "UnitFigures", "rank", "score", "unit_figures"]
