"""The API keys of the third-party city apps that file Open311 service requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.models.base import Base, BigId, utcnow
from ticketing.db.models.tickets import Ticket


class Open311Key(Base):
    """One app's key: only its SHA-256 is kept (the key itself is shown once, when issued)."""

    __tablename__ = "open311_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()


# Open311's request list reads the newest tickets of a window over every status (migration 0009).
Index("ix_tickets_created_at", Ticket.created_at)
