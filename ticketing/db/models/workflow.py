"""The handling loop after the hand-off: what units report, extensions, 督办单 and 一事一评.

The dispatches themselves (交办, one row per unit and round) live with the tickets
(:class:`ticketing.db.models.tickets.Dispatch`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.models.base import Base, BigId, utcnow


class UnitReport(Base):
    """What a unit wrote on a dispatched ticket: a progress note (办理进展), an assisting unit's
    opinion (协办意见), or the lead unit's answer (答复), which the platform reviews (审核)."""

    __tablename__ = "unit_reports"
    __table_args__ = (Index("ix_unit_reports_kind_review", "kind", "review_state"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    dispatch_id: Mapped[int] = mapped_column(ForeignKey("dispatches.id"), index=True)
    unit: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # progress | opinion | answer
    author: Mapped[str] = mapped_column(String(100))
    author_name: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Answers only: pending → accepted | rejected.
    review_state: Mapped[str | None] = mapped_column(String(16))
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    review_note: Mapped[str | None] = mapped_column(Text)
    # The citizen-facing entry an accepted answer became (delivered through the citizen's channel).
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))


class ExtensionRequest(Base):
    """延期: a unit asks for a later deadline; a dispatcher or supervisor decides."""

    __tablename__ = "extension_requests"
    __table_args__ = (Index("ix_extension_requests_state", "state", "requested_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    dispatch_id: Mapped[int] = mapped_column(ForeignKey("dispatches.id"), index=True)
    unit: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    previous_deadline: Mapped[datetime | None] = mapped_column()
    requested_deadline: Mapped[datetime] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | refused
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_note: Mapped[str | None] = mapped_column(Text)


class SupervisionNote(Base):
    """督办单: the platform presses a unit on a dispatch, with a new deadline; the unit must
    acknowledge it.  The n-th note of one dispatch (``seq``) may escalate to the unit's leader."""

    __tablename__ = "supervision_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    dispatch_id: Mapped[int] = mapped_column(ForeignKey("dispatches.id"), index=True)
    unit: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    issued_by: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    text: Mapped[str] = mapped_column(Text)
    new_deadline: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    escalated_to: Mapped[str | None] = mapped_column(String(255))


class Survey(Base):
    """一事一评: one evaluation per answered round, asked through the citizen's channel by a
    signed one-use link, or recorded by a callback seat (回访) after a phone call.

    ``outcome`` is what the answer led to: closed (solved and not unsatisfied), redo (重办),
    or ruled (a supervisor found the complaint unreasonable and closed it).
    """

    __tablename__ = "surveys"
    __table_args__ = (Index("ix_surveys_open", "responded_at", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("dispatches.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("unit_reports.id"))
    unit: Mapped[str | None] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    responded_at: Mapped[datetime | None] = mapped_column()
    source: Mapped[str | None] = mapped_column(String(16))  # link | callback
    solved: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(16))  # satisfied | basic | unsatisfied
    comment: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(100))
    callback_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_callback_at: Mapped[datetime | None] = mapped_column()
    callback_note: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(16))  # closed | redo | ruled
    ruled_by: Mapped[str | None] = mapped_column(String(100))
    ruled_at: Mapped[datetime | None] = mapped_column()
    ruling_reason: Mapped[str | None] = mapped_column(Text)
