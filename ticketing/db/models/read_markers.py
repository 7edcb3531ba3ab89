"""When each console user last looked at each ticket: the queue's 未读 marker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.models.base import Base, utcnow


class ReadMarker(Base):
    """One row per (console user, ticket) once the user has opened the ticket's page.

    The queue reads the rows of one page's tickets for one user in a single query; the
    primary key (username, ticket_id) is the index it needs.
    """

    __tablename__ = "read_markers"

    username: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)
