"""Tickets and the conversations they come from: entries, attachments, predictions, events,
classification changes, dispatches and the daily number counter."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ticketing.db.models.base import Base, BigId, utcnow


class Conversation(Base):
    """All messages of one citizen on one channel (WeChat openid, web session, email address)."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "sender_id", name="uq_conversation_sender"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    sender_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)

    entries: Mapped[list[Entry]] = relationship(back_populates="conversation", order_by="Entry.id")


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_created", "status", "created_at"),
        Index("ix_tickets_conversation_status", "conversation_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    channel: Mapped[str] = mapped_column(String(32))
    origin_hotline: Mapped[str | None] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(200))
    request_type: Mapped[str | None] = mapped_column(String(32))
    department: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))
    # unclassified (no NLU) → predicted (fields copied from the bot) → confirmed (by an operator)
    classification: Mapped[str] = mapped_column(String(16), default="unclassified")
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # No index of its own: the (status, …) indexes below serve lookups by status alone.
    status: Mapped[str] = mapped_column(String(32))
    deadline: Mapped[datetime | None] = mapped_column()
    external_deadline: Mapped[datetime | None] = mapped_column()  # kept from the national platform
    citizen_name: Mapped[str | None] = mapped_column(String(100))
    citizen_phone: Mapped[str | None] = mapped_column(String(32), index=True)
    citizen_wechat_openid: Mapped[str | None] = mapped_column(String(128))
    citizen_email: Mapped[str | None] = mapped_column(String(255))
    assignee: Mapped[str | None] = mapped_column(String(100))
    # The lead unit (a department or a county's remote seat) the ticket is dispatched to; kept
    # after the loop ends, for the unit's evaluation and analysis.
    unit: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    # What the bot gathered in the chat (issue #19): the place beyond the region code (street,
    # community, landmark) and when the event happened, as the citizen said it.
    location_detail: Mapped[str | None] = mapped_column(String(200))
    event_time: Mapped[str | None] = mapped_column(String(100))
    # While the status is ``gathering``: when the ticket goes to the queue even without an answer.
    gathering_until: Mapped[datetime | None] = mapped_column(index=True)
    # The details still missing when the ticket reached the operators: [{"slot", "reason"}].
    gathering_gaps: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)

    conversation: Mapped[Conversation | None] = relationship()
    entries: Mapped[list[Entry]] = relationship(back_populates="ticket", order_by="Entry.id")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="ticket", order_by="Attachment.id")
    predictions: Mapped[list[Prediction]] = relationship(back_populates="ticket", order_by="Prediction.id")
    events: Mapped[list[TicketEvent]] = relationship(back_populates="ticket", order_by="TicketEvent.id")


class Entry(Base):
    """One message in a conversation: from the citizen, the bot or an operator."""

    __tablename__ = "entries"
    __table_args__ = (
        # The same channel message delivered twice must never make a second entry.
        UniqueConstraint("channel", "channel_message_id", name="uq_entry_channel_message"),
        Index("ix_entries_conversation", "conversation_id", "id"),
        Index("ix_entries_ticket", "ticket_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    author: Mapped[str] = mapped_column(String(16))  # citizen | bot | operator | system
    author_name: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(32))
    channel_message_id: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(300))
    public: Mapped[bool] = mapped_column(Boolean, default=True)  # internal notes are not
    delivery_status: Mapped[str | None] = mapped_column(String(32))  # for outbound: sent | pending | failed
    delivery_detail: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    conversation: Mapped[Conversation] = relationship(back_populates="entries")
    ticket: Mapped[Ticket | None] = relationship(back_populates="entries")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="entry")


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(32), default="file")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A file a unit attached to its answer or progress note (see ``models.workflow.UnitReport``).
    report_id: Mapped[int | None] = mapped_column(ForeignKey("unit_reports.id"), index=True)

    ticket: Mapped[Ticket | None] = relationship(back_populates="attachments")
    entry: Mapped[Entry | None] = relationship(back_populates="attachments")


class Prediction(Base):
    """What the bot predicted, kept beside the confirmed values on the ticket."""

    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))
    department: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))
    request_type: Mapped[str | None] = mapped_column(String(32))
    intent: Mapped[str | None] = mapped_column(String(100))
    confidence: Mapped[float | None] = mapped_column(Float)
    alternatives: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # The request-type classifier's ranking ([{"code", "confidence"}], `request_type` first); None when the
    # rules decided the type or the prediction predates it (migration 0012).
    request_type_alternatives: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    model_version: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="predictions")


class TicketEvent(Base):
    """Append-only audit trail: who did what, when, from → to."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    field: Mapped[str | None] = mapped_column(String(64))
    from_value: Mapped[str | None] = mapped_column(Text)
    to_value: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(Boolean, default=False)  # shown on the citizen's progress page
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class NumberCounter(Base):
    """One row per day: the last ticket sequence number handed out."""

    __tablename__ = "number_counters"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


# --------------------------------------------------------------------------- models

class ClassificationChange(Base):
    """One field set by a person (or a bare confirmation, ``field`` NULL).

    ``previous_by`` is whoever owned the classification before: ``bot`` for the prediction,
    a username for a colleague — the supervisor's "corrections by others" count.
    """

    __tablename__ = "classification_changes"
    __table_args__ = (Index("ix_classification_changes_previous_by", "previous_by", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    field: Mapped[str | None] = mapped_column(String(32))
    from_value: Mapped[str | None] = mapped_column(String(64))
    to_value: Mapped[str | None] = mapped_column(String(64))
    predicted_value: Mapped[str | None] = mapped_column(String(64))
    previous_by: Mapped[str | None] = mapped_column(String(100))


class Dispatch(Base):
    """A ticket handed to one unit (交办): the lead unit or an assisting one (协办), in a round.

    A round starts with the dispatch and ends when the unit returns it, the platform accepts
    its answer, or it is withdrawn (改派 elsewhere, closed); 重办 starts the next round with the
    same unit.  ``state``: pending_sign → signed → answered → accepted, or returned / withdrawn.
    The sweep's flags (``*_flagged_at``, ``reminded_at``) make it idempotent.
    """

    __tablename__ = "dispatches"
    __table_args__ = (Index("ix_dispatches_target_active_state", "target", "active", "state"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    target_kind: Mapped[str] = mapped_column(String(16))  # department | region
    target: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    deadline: Mapped[datetime | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    role: Mapped[str] = mapped_column(String(8), default="lead")  # lead | assist
    round: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(16), default="pending_sign")
    sign_deadline: Mapped[datetime | None] = mapped_column()
    signed_at: Mapped[datetime | None] = mapped_column()
    signed_by: Mapped[str | None] = mapped_column(String(100))
    answered_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    returned_by: Mapped[str | None] = mapped_column(String(100))
    return_reason: Mapped[str | None] = mapped_column(String(32))
    return_text: Mapped[str | None] = mapped_column(Text)
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    reminded_at: Mapped[datetime | None] = mapped_column()
    sign_flagged_at: Mapped[datetime | None] = mapped_column()
    overdue_flagged_at: Mapped[datetime | None] = mapped_column()


# Indexes of the ticket store that only the console needs (created by migration 0002); declared
# here so Alembic's autogenerate sees them without this module editing ``ticketing.models``.
Index("ix_tickets_status_urgent_created", Ticket.status, Ticket.urgent, Ticket.created_at)
Index("ix_tickets_status_assignee", Ticket.status, Ticket.assignee)
Index("ix_ticket_events_action_at", TicketEvent.action, TicketEvent.at)
Index("ix_tickets_unit_status", Ticket.unit, Ticket.status)
# The evaluation (考评) reads one period's lead dispatches (migration 0005).
Index("ix_dispatches_role_at", Dispatch.role, Dispatch.at)
Index("ix_dispatches_target_state_ended", Dispatch.target, Dispatch.state, Dispatch.ended_at)
