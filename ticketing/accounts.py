"""Console accounts (operators, supervisors, admins) and the audit log of sensitive reads.

Passwords are argon2id hashes (argon2-cffi).  Repeated failures lock an account for a
while: the six network-hotline seats are known people, so a lock is cheap for them and
expensive for someone guessing.  Services take an ``AsyncSession`` and plain arguments and
leave the commit to the caller, like ``ticketing.services``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.models import Base, BigId, utcnow

ROLES = ("operator", "supervisor", "admin")
ROLE_LABELS = {"operator": "坐席", "supervisor": "班长", "admin": "管理员"}
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")
MIN_PASSWORD_LENGTH = 8

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)

_hasher = PasswordHasher()
# Verified against when the username is unknown, so a miss costs as long as a wrong password
# and response times do not tell which usernames exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0000")


class AccountError(ValueError):
    """Bad input for an account (the message is shown to the person)."""


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
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


AUDIT_LABELS = {
    "reveal_contact": "查看完整联系方式",
    "override": "越权处理（班长接管）",
    "reassign": "改派工单",
    "user_created": "创建账号",
    "user_updated": "修改账号",
    "account_locked": "账号因多次登录失败被锁定",
}


# --------------------------------------------------------------------------- passwords

def hash_password(password: str) -> str:
    check_password_strength(password)
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符")
    if len(password) > 256:
        raise AccountError("密码过长")


def _verify(hash_: str, password: str) -> bool:
    try:
        return _hasher.verify(hash_, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --------------------------------------------------------------------------- users

def validate_username(username: str) -> str:
    username = (username or "").strip().lower()
    if not USERNAME_RE.match(username):
        raise AccountError("用户名须为 2–32 位小写字母、数字、点、下划线或连字符，且以字母或数字开头")
    return username


async def user_by_name(session: AsyncSession, username: str) -> User | None:
    return (await session.execute(select(User).where(User.username == username.strip().lower()))).scalar_one_or_none()


async def create_user(
    session: AsyncSession,
    username: str,
    *,
    role: str,
    password: str,
    display_name: str | None = None,
    actor: str = "system",
) -> User:
    username = validate_username(username)
    if role not in ROLES:
        raise AccountError(f"角色必须是 {', '.join(ROLES)} 之一")
    if await user_by_name(session, username) is not None:
        raise AccountError(f"用户名 {username} 已存在")
    user = User(
        username=username,
        display_name=(display_name or username).strip()[:100] or username,
        role=role,
        password_hash=hash_password(password),
        active=True,
        failed_logins=0,
        on_shift=False,
        created_at=utcnow(),
        password_changed_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    await audit(session, actor=actor, action="user_created", target=username, detail={"role": role})
    return user


async def update_user(session: AsyncSession, user: User, *, actor: str, **changes: Any) -> User:
    """Admin changes: role, display_name, active, password, unlock."""
    detail: dict[str, Any] = {}
    if "role" in changes and changes["role"] is not None:
        if changes["role"] not in ROLES:
            raise AccountError(f"角色必须是 {', '.join(ROLES)} 之一")
        if changes["role"] != user.role:
            detail["role"] = [user.role, changes["role"]]
            user.role = changes["role"]
    if changes.get("display_name"):
        user.display_name = str(changes["display_name"]).strip()[:100]
        detail["display_name"] = user.display_name
    if "active" in changes and changes["active"] is not None and bool(changes["active"]) != user.active:
        user.active = bool(changes["active"])
        detail["active"] = user.active
    if changes.get("password"):
        user.password_hash = hash_password(changes["password"])
        user.password_changed_at = utcnow()
        detail["password"] = "reset"
    if changes.get("unlock"):
        user.failed_logins = 0
        user.locked_until = None
        detail["unlock"] = True
    if detail:
        await audit(session, actor=actor, action="user_updated", target=user.username, detail=detail)
    return user


async def list_users(session: AsyncSession, *, roles: tuple[str, ...] | None = None) -> list[User]:
    stmt = select(User).order_by(User.role, User.username)
    if roles:
        stmt = stmt.where(User.role.in_(roles))
    return list((await session.execute(stmt)).scalars())


async def any_admin(session: AsyncSession) -> bool:
    stmt = select(User.id).where(User.role == "admin", User.active.is_(True)).limit(1)
    return (await session.execute(stmt)).first() is not None


async def set_on_shift(session: AsyncSession, user: User, on_shift: bool) -> None:
    user.on_shift = bool(on_shift)


# --------------------------------------------------------------------------- login

@dataclass(frozen=True)
class LoginResult:
    user: User | None
    error: str | None = None  # invalid | locked | inactive
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None and self.error is None


async def authenticate(session: AsyncSession, username: str, password: str, *, ip: str | None = None,
                       now: datetime | None = None) -> LoginResult:
    """Check a password; count failures and lock the account after ``MAX_FAILED_LOGINS``.

    The caller commits in every case, so failures are counted even when the login fails.
    """
    now = now or utcnow()
    try:
        name = validate_username(username)
    except AccountError:
        _verify(_DUMMY_HASH, password or "")
        return LoginResult(None, "invalid")
    user = await user_by_name(session, name)
    if user is None:
        _verify(_DUMMY_HASH, password or "")
        return LoginResult(None, "invalid")
    if user.locked(now):
        # No password check at all while locked: a correct guess must not be confirmable.
        return LoginResult(None, "locked", user.locked_until)
    if not _verify(user.password_hash, password or ""):
        # Counted in SQL so two concurrent failures both count.
        await session.execute(
            update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
        )
        await session.refresh(user, ["failed_logins"])
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            await audit(session, actor=user.username, action="account_locked", target=user.username, ip=ip,
                        detail={"until": user.locked_until.isoformat()})
            return LoginResult(None, "locked", user.locked_until)
        return LoginResult(None, "invalid")
    if not user.active:
        return LoginResult(None, "inactive")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return LoginResult(user)


# --------------------------------------------------------------------------- audit

async def audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    ticket_id: int | None = None,
    target: str | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditLog:
    row = AuditLog(at=utcnow(), actor=actor, action=action, ticket_id=ticket_id, target=target, ip=ip,
                   detail=detail or {})
    session.add(row)
    return row


async def audit_entries(session: AsyncSession, *, action: str | None = None, actor: str | None = None,
                        ticket_id: int | None = None, limit: int = 200) -> list[AuditLog]:
    stmt = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if actor:
        stmt = stmt.where(AuditLog.actor == actor)
    if ticket_id is not None:
        stmt = stmt.where(AuditLog.ticket_id == ticket_id)
    return list((await session.execute(stmt)).scalars())
