"""Accounts: argon2 hashes, lockout, audit log (both backends)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ticketing.accounts import passwords, users
from ticketing.accounts.users import LOCKOUT, MAX_FAILED_LOGINS, AccountError
from ticketing.db.models.accounts import AuditLog, User
from ticketing.db.models.base import utcnow


async def _make(sessions, username="li", role="operator", password="a-good-password"):
    async with sessions() as session, session.begin():
        return await users.create_user(session, username, role=role, password=password, display_name="李坐席")


async def test_passwords_are_argon2_hashes(sessions):
    user = await _make(sessions)
    assert user.password_hash.startswith("$argon2id$") and "a-good-password" not in user.password_hash
    async with sessions() as session:
        result = await users.authenticate(session, "LI", "a-good-password")
        assert result.ok and result.user.username == "li"
        assert not (await users.authenticate(session, "li", "a-good-passworD")).ok


@pytest.mark.parametrize("username", ["", "a", "Has Space", "中文名", "-dash", "x" * 40])
async def test_bad_usernames_are_refused(sessions, username):
    async with sessions() as session:
        with pytest.raises(AccountError):
            await users.create_user(session, username, role="operator", password="long-enough-1")


async def test_bad_role_short_password_and_duplicates(sessions):
    async with sessions() as session:
        with pytest.raises(AccountError):
            await users.create_user(session, "ok", role="root", password="long-enough-1")
        with pytest.raises(AccountError):
            await users.create_user(session, "ok", role="operator", password="short")
    await _make(sessions, "dup")
    async with sessions() as session:
        with pytest.raises(AccountError, match="已存在"):
            await users.create_user(session, "dup", role="operator", password="long-enough-1")


async def test_five_failures_lock_for_a_while_then_it_opens_again(sessions):
    await _make(sessions)
    now = utcnow()
    for _ in range(MAX_FAILED_LOGINS):
        async with sessions() as session:
            result = await users.authenticate(session, "li", "wrong", now=now, ip="10.0.0.9")
            await session.commit()
    assert result.error == "locked" and result.locked_until == now + LOCKOUT
    async with sessions() as session:
        assert (await users.authenticate(session, "li", "a-good-password", now=now)).error == "locked"
        later = now + LOCKOUT + timedelta(seconds=1)
        assert (await users.authenticate(session, "li", "a-good-password", now=later)).ok
        await session.commit()
        log = (await session.execute(select(AuditLog))).scalars().all()
    assert [(r.action, r.target, r.ip) for r in log if r.action == "account_locked"] == [
        ("account_locked", "li", "10.0.0.9")]


async def test_a_success_resets_the_failure_count(sessions):
    await _make(sessions)
    for password in ("x1", "x2", "x3", "x4", "a-good-password", "x5", "x6"):
        async with sessions() as session:
            result = await users.authenticate(session, "li", password)
            await session.commit()
    assert result.error == "invalid"  # only 2 failures since the success


async def test_admin_updates_are_audited_and_unlock_works(sessions):
    user = await _make(sessions)
    async with sessions() as session, session.begin():
        u = await session.get(User, user.id)
        u.locked_until = utcnow() + timedelta(minutes=5)
    async with sessions() as session, session.begin():
        u = await session.get(User, user.id)
        await users.update_user(session, u, actor="root", role="supervisor", unlock=True, active=False)
    async with sessions() as session:
        u = await session.get(User, user.id)
        assert u.role == "supervisor" and not u.locked() and not u.active
        rows = (await session.execute(select(AuditLog).where(AuditLog.action == "user_updated"))).scalars().all()
        assert rows[0].actor == "root" and rows[0].detail["role"] == ["operator", "supervisor"]
        assert await users.any_admin(session) is False
    await _make(sessions, "root", role="admin")
    async with sessions() as session:
        assert await users.any_admin(session) is True


async def test_a_deactivated_account_fails_like_a_wrong_password_and_is_audited(sessions):
    user = await _make(sessions)
    async with sessions() as session, session.begin():
        await users.update_user(session, await session.get(User, user.id), actor="root", active=False)
    for password in ("a-good-password", "wrong-password"):
        async with sessions() as session:
            result = await users.authenticate(session, "li", password, ip="10.0.0.7")
            await session.commit()
        assert (result.user, result.error) == (None, "invalid")
    async with sessions() as session:
        rows = (await session.execute(select(AuditLog).where(AuditLog.action == "login_inactive")
                                      .order_by(AuditLog.id))).scalars().all()
    assert [(r.target, r.ip, r.detail["password_matched"]) for r in rows] == [
        ("li", "10.0.0.7", True), ("li", "10.0.0.7", False)]


async def test_a_deactivated_accounts_right_password_counts_as_a_failure(sessions):
    # Otherwise five tries of one guess would tell (by locking or not) whether it is right.
    user = await _make(sessions)
    async with sessions() as session, session.begin():
        await users.update_user(session, await session.get(User, user.id), actor="root", active=False)
    for _ in range(MAX_FAILED_LOGINS):
        async with sessions() as session:
            result = await users.authenticate(session, "li", "a-good-password")
            await session.commit()
    assert result.error == "locked"


async def test_a_saturated_password_pool_answers_busy_without_counting(sessions, monkeypatch):
    await _make(sessions)

    async def saturated(*args):
        raise passwords.PasswordsBusy("full")

    monkeypatch.setattr(passwords, "verify_password", saturated)
    for _ in range(MAX_FAILED_LOGINS + 1):
        async with sessions() as session:
            assert (await users.authenticate(session, "li", "wrong")).error == "busy"
            await session.commit()
    async with sessions() as session:
        assert (await users.user_by_name(session, "li")).failed_logins == 0
