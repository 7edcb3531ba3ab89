"""Console accounts, the audit log and each operator's canned replies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.models.base import Base, BigId, utcnow

ROLES = ("operator", "supervisor", "admin", "dispatcher", "callback", "handler", "leader")
ROLE_LABELS = {"operator": "坐席", "supervisor": "班长", "admin": "管理员", "dispatcher": "交办督办坐席",
               "callback": "回访坐席", "handler": "承办单位经办人", "leader": "领导"}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    # A handler's unit (a department or a remote-seat county code); NULL for platform staff.
    unit: Mapped[str | None] = mapped_column(String(64), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    on_shift: Mapped[bool] = mapped_column(Boolean, default=False)
    # Round-robin pointer: the operator assigned longest ago gets the next ticket.
    last_assigned_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()
    password_changed_at: Mapped[datetime | None] = mapped_column()

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())


class AuditLog(Base):
    """Who saw full contact details, who overrode whom: append-only, read by supervisors."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"), Index("ix_audit_log_actor_at", "actor", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    target: Mapped[str | None] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CannedReply(Base):
    """A reply template: shared (owner NULL, kept by supervisors) or an operator's own."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    owner: Mapped[str | None] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
