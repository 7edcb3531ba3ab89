"""API keys of the third-party apps: issued by an admin, stored as SHA-256, checked on every POST.

A key is 32 random bytes (``secrets.token_urlsafe``), so a plain SHA-256 is enough to keep it
unusable if the table leaks (no dictionary to try), and it lets a key be found by its hash in one
indexed lookup — argon2, right for people's passwords, would need a scan of every key per request.
Issuing and revoking are audited (who, from where); a revoked app's name can be issued a new key,
which replaces the old row (the name is unique: the listing shows one line per app).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts.audit import audit
from ticketing.db.models.base import utcnow
from ticketing.db.models.open311 import Open311Key
from ticketing.errors import ConsoleError

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
KEY_PREFIX = "o311_"
MAX_KEY_CHARS = 128


@dataclass(frozen=True)
class IssuedKey:
    name: str
    key: str  # shown once; only its hash is stored


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


async def issue(session: AsyncSession, name: str, *, actor: str, ip: str | None = None) -> IssuedKey:
    """A new key for the app ``name`` (lower-case letters, digits, . _ -)."""
    if not NAME_RE.fullmatch(name):
        raise ConsoleError(400, "invalid_name", "应用名称须为 2–64 位小写字母、数字、点、下划线或连字符")
    existing = (await session.execute(select(Open311Key).where(Open311Key.name == name)
                                      .with_for_update())).scalar_one_or_none()
    if existing is not None and existing.revoked_at is None:
        raise ConsoleError(409, "name_taken", f"应用 {name} 已有密钥；如需更换，请先吊销")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    if existing is None:
        session.add(Open311Key(name=name, key_hash=hash_key(key), created_by=actor))
    else:
        existing.key_hash, existing.created_by, existing.created_at = hash_key(key), actor, utcnow()
        existing.revoked_at = existing.last_used_at = None
    await audit(session, actor=actor, action="open311_key_issued", target=name, ip=ip,
                detail={"replaces_revoked": existing is not None})
    await session.flush()
    return IssuedKey(name, key)


async def revoke(session: AsyncSession, name: str, *, actor: str, ip: str | None = None) -> Open311Key | None:
    """Revoke ``name``'s key at once (the next POST with it is refused); None when it has no valid key."""
    row = (await session.execute(select(Open311Key).where(Open311Key.name == name, Open311Key.revoked_at.is_(None))
                                 .with_for_update())).scalar_one_or_none()
    if row is None:
        return None
    row.revoked_at = utcnow()
    await audit(session, actor=actor, action="open311_key_revoked", target=name, ip=ip)
    await session.flush()
    return row


async def app_of(session: AsyncSession, key: str | None) -> str | None:
    """The name of the app holding ``key``, or None for a missing, unknown or revoked key."""
    if not key or len(key) > MAX_KEY_CHARS or not key.startswith(KEY_PREFIX):
        return None
    row = (await session.execute(select(Open311Key).where(Open311Key.key_hash == hash_key(key)))).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    row.last_used_at = utcnow()
    return row.name


async def listed(session: AsyncSession) -> list[Open311Key]:
    return list((await session.execute(select(Open311Key).order_by(Open311Key.id))).scalars())
