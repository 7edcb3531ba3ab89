"""Console accounts: argon2 passwords, lockout after repeated failures, shifts."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts import passwords
from ticketing.accounts.audit import audit
from ticketing.accounts.roles import ROLES, UNIT_ROLES
from ticketing.db.models.accounts import User
from ticketing.db.models.base import utcnow

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")
MIN_PASSWORD_LENGTH = 8

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)

class AccountError(ValueError):
    """Bad input for an account (the message is shown to the person)."""


# --------------------------------------------------------------------------- passwords

async def hash_password(password: str) -> str:
    """Checked for strength, then hashed off the event loop (may raise ``PasswordsBusy``)."""
    check_password_strength(password)
    return await passwords.hash_password_async(password)


def check_password_strength(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符")
    if len(password) > 256:
        raise AccountError("密码过长")


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
    unit: str | None = None,
    known_units: Collection[str] = (),
) -> User:
    """``unit``: a handler's unit code, one of ``known_units`` (the directory's units)."""
    username = validate_username(username)
    if role not in ROLES:
        raise AccountError(f"角色必须是 {', '.join(ROLES)} 之一")
    unit = check_unit(role, unit, known_units)
    if await user_by_name(session, username) is not None:
        raise AccountError(f"用户名 {username} 已存在")
    user = User(
        username=username,
        display_name=(display_name or username).strip()[:100] or username,
        role=role,
        unit=unit,
        password_hash=await hash_password(password),
        active=True,
        failed_logins=0,
        on_shift=False,
        created_at=utcnow(),
        password_changed_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    await audit(session, actor=actor, action="user_created", target=username,
                detail={"role": role, **({"unit": unit} if unit else {})})
    return user


def check_unit(role: str, unit: str | None, known_units: Collection[str]) -> str | None:
    """A handler belongs to exactly one known unit; nobody else belongs to one."""
    unit = (unit or "").strip() or None
    if role in UNIT_ROLES:
        if unit is None:
            raise AccountError("承办单位经办人账号必须指定所属单位（--unit 单位代码）")
        if unit not in known_units:
            raise AccountError(f"未知的单位代码 {unit}：须为 config/directory.yaml 中的部门或远端坐席县（市、区）")
        return unit
    if unit is not None:
        raise AccountError("只有承办单位经办人账号属于某个单位")
    return None


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
        user.password_hash = await hash_password(changes["password"])
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
    # invalid | locked | busy.  A deactivated account answers "invalid" like a wrong password;
    # "busy": the password threads are saturated, nothing was checked or counted (answer 503).
    error: str | None = None
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None and self.error is None


async def authenticate(session: AsyncSession, username: str, password: str, *, ip: str | None = None,
                       now: datetime | None = None) -> LoginResult:
    """Check a password; count failures and lock the account after ``MAX_FAILED_LOGINS``.

    Unknown and malformed usernames cost one argon2 verification too, and a deactivated account
    fails like a wrong password whatever the password is (its attempts are audited), so the
    answer tells an outsider nothing about which accounts exist or are active.
    The caller commits in every case, so failures are counted even when the login fails.
    """
    now = now or utcnow()
    try:
        name: str | None = validate_username(username)
    except AccountError:
        name = None
    user = await user_by_name(session, name) if name else None
    if user is not None and user.locked(now):
        # No password check at all while locked: a correct guess must not be confirmable.
        return LoginResult(None, "locked", user.locked_until)
    try:
        matched = await passwords.verify_password(user.password_hash if user else None, password or "")
    except passwords.PasswordsBusy:
        return LoginResult(None, "busy")
    if user is None:
        return LoginResult(None, "invalid")
    if not user.active:
        await audit(session, actor=user.username, action="login_inactive", target=user.username, ip=ip,
                    detail={"password_matched": matched})
    if not matched or not user.active:
        # Counted whatever the password on a deactivated account too: were its right password
        # not counted, five tries of one guess (locked or not) would confirm it.
        return await _count_failure(session, user, now, ip)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if passwords.needs_rehash(user.password_hash):
        try:
            user.password_hash = await passwords.hash_password_async(password)
        except passwords.PasswordsBusy:
            pass  # rehashed at a calmer login
    return LoginResult(user)


async def _count_failure(session: AsyncSession, user: User, now: datetime, ip: str | None) -> LoginResult:
    # Counted in SQL so two concurrent failures both count.
    await session.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
    await session.refresh(user, ["failed_logins"])
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = now + LOCKOUT
        user.failed_logins = 0
        await audit(session, actor=user.username, action="account_locked", target=user.username, ip=ip,
                    detail={"until": user.locked_until.isoformat()})
        return LoginResult(None, "locked", user.locked_until)
    return LoginResult(None, "invalid")
