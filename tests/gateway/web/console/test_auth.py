"""Logging in and out, lockout, CSRF, session cookies and role refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.infra.resources import KEYS, REDIS, SESSIONS
from tests.gateway.web.console.conftest import PASSWORD
from ticketing.accounts import users
from ticketing.db.models.accounts import AuditLog


@pytest.fixture
def console_settings():
    # The test client is the city's TLS-terminating proxy (127.0.0.1), trusted with X-Forwarded-Proto.
    return {"HOTLINE_TRUSTED_PROXIES": "127.0.0.1"}


def _set_cookie(resp, name: str) -> str:
    return next(v for k, v in resp.headers.items() if k.lower() == "set-cookie" and v.startswith(name + "="))


async def test_login_sets_a_redis_session_and_logout_ends_it(console):
    client, agent, user = console
    await user("wang", role="operator")
    a = await agent()
    resp = await a.login("wang")
    assert resp.status == 200
    body = await resp.json()
    assert body["user"]["username"] == "wang" and body["user"]["role"] == "operator"
    cookie = _set_cookie(resp, "hotline_console")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # plain http here
    key = cookie.split(";")[0].split("=", 1)[1]
    assert len(key) >= 40
    prefix = client.app[KEYS].prefix
    assert await client.app[REDIS].exists(f"{prefix}:console:session:{key}")

    assert (await a.get("/api/v1/console/me")).status == 200
    assert (await a.post("/api/v1/console/logout")).status == 200
    assert not await client.app[REDIS].exists(f"{prefix}:console:session:{key}")
    assert (await a.get("/api/v1/console/me")).status == 401


async def test_session_cookie_is_secure_behind_https(console):
    client, agent, user = console
    await user("zhao")
    a = await agent()
    resp = await a.request("POST", "/api/v1/console/login", json={"username": "zhao", "password": PASSWORD},
                           headers={"X-Forwarded-Proto": "https"})
    assert resp.status == 200
    assert "Secure" in _set_cookie(resp, "hotline_console")


async def test_wrong_passwords_lock_the_account_and_an_admin_unlocks_it(console):
    client, agent, user = console
    await user("sun")
    a = await agent()
    statuses = [(await a.login("sun", "wrong-password")).status for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 423]
    locked = await a.login("sun")  # even the right password is refused while locked
    assert locked.status == 423
    assert "锁定" in (await locked.json())["error"]["message"]
    async with client.app[SESSIONS]() as session:
        rows = (await session.execute(select(AuditLog).where(AuditLog.action == "account_locked"))).scalars().all()
    assert [r.target for r in rows] == ["sun"]

    admin = await agent("root", role="admin")
    resp = await admin.post("/api/v1/console/users/sun", {"unlock": True})
    assert resp.status == 200 and (await resp.json())["user"]["locked"] is False
    assert (await a.login("sun")).status == 200


async def test_unknown_user_and_wrong_password_look_the_same(console):
    client, agent, user = console
    await user("qian")
    a = await agent()
    r1 = await a.login("nobody-here", "whatever-123")
    r2 = await a.login("qian", "whatever-123")
    assert r1.status == r2.status == 401
    assert (await r1.json()) == (await r2.json())


async def test_inactive_account_cannot_log_in_and_loses_open_sessions(console):
    client, agent, user = console
    op = await agent("zhou")
    assert (await op.get("/api/v1/console/me")).status == 200
    admin = await agent("root", role="admin")
    assert (await admin.post("/api/v1/console/users/zhou", {"active": False})).status == 200
    assert (await op.get("/api/v1/console/me")).status == 401
    again = await agent()
    # Like a wrong password: a stopped account must not tell a guesser that the password was right.
    assert (await again.login("zhou")).status == 401


async def test_password_reset_ends_open_sessions(console):
    client, agent, user = console
    op = await agent("wu")
    admin = await agent("root", role="admin")
    assert (await admin.post("/api/v1/console/users/wu", {"password": "a-new-password-1"})).status == 200
    assert (await op.get("/api/v1/console/me")).status == 401
    assert (await op.login("wu", "a-new-password-1")).status == 200


async def test_login_and_every_console_post_need_the_csrf_header(console):
    client, agent, user = console
    await user("zheng")
    a = await agent()
    resp = await a.request("POST", "/api/v1/console/login", json={"username": "zheng", "password": PASSWORD},
                           csrf=False)
    assert resp.status == 403
    assert (await a.login("zheng")).status == 200
    resp = await a.request("POST", "/api/v1/console/me/shift", json={"on_shift": True}, csrf=False)
    assert resp.status == 403
    resp = await a.request("POST", "/api/v1/console/me/shift", json={"on_shift": True},
                           csrf=False, headers={"X-CSRF-Token": "forged.token"})
    assert resp.status == 403
    assert (await a.post("/api/v1/console/me/shift", {"on_shift": True})).status == 200


async def test_unauthenticated_console_urls_are_refused(console):
    client, agent, user = console
    a = await agent()
    page = await a.get("/console")
    assert page.status == 302 and page.headers["Location"].startswith("/console/login?next=")
    assert (await a.get("/api/v1/console/tickets")).status == 401
    assert (await a.get("/console/events")).status == 302
    form = await a.form("/console/tickets/PDS2026010100001/claim")
    assert form.status == 401


async def test_login_page_form_and_safe_redirects(console):
    client, agent, user = console
    await user("feng")
    a = await agent()
    page = await a.get("/console/login?next=/console/intake")
    assert page.status == 200 and "坐席台登录" in await page.text()
    bad = await a.form("/console/login", {"username": "feng", "password": "nope-nope", "next": "/console/intake"})
    assert bad.status == 401 and "用户名或密码错误" in await bad.text()
    ok = await a.form("/console/login", {"username": "feng", "password": PASSWORD, "next": "/console/intake"})
    assert ok.status == 303 and ok.headers["Location"] == "/console/intake"
    # An attacker's link cannot send a fresh login off-site.
    b = await agent()
    off = await b.form("/console/login", {"username": "feng", "password": PASSWORD, "next": "//evil.example/x"})
    assert off.status == 303 and off.headers["Location"] == "/console"


async def test_login_gets_a_fresh_session_id(console):
    client, agent, user = console
    await user("chu")
    a = await agent()
    first = _set_cookie(await a.login("chu"), "hotline_console").split(";")[0]
    second = _set_cookie(await a.login("chu"), "hotline_console").split(";")[0]
    assert first != second


async def test_admin_lands_on_account_management_and_cannot_open_the_queue(console):
    client, agent, user = console
    await user("root", role="admin")
    a = await agent()
    resp = await a.form("/console/login", {"username": "root", "password": PASSWORD, "next": ""})
    assert resp.headers["Location"] == "/console/admin/users"
    assert (await a.get("/console")).status == 403
    assert (await a.get("/api/v1/console/tickets")).status == 403


async def test_accounts_created_through_the_admin_api(console):
    client, agent, user = console
    admin = await agent("root", role="admin")
    resp = await admin.post("/api/v1/console/users", {"username": "new-op", "role": "operator",
                                                      "password": "long-enough-1", "display_name": "新坐席"})
    assert resp.status == 201
    bad = await admin.post("/api/v1/console/users", {"username": "x", "role": "operator", "password": "short"})
    assert bad.status == 400
    dup = await admin.post("/api/v1/console/users", {"username": "new-op", "role": "operator",
                                                     "password": "long-enough-1"})
    assert dup.status == 400 and "已存在" in (await dup.json())["error"]["message"]
    async with client.app[SESSIONS]() as session:
        created = await users.user_by_name(session, "new-op")
        assert created.display_name == "新坐席" and created.password_hash.startswith("$argon2")
    a = await agent()
    assert (await a.login("new-op", "long-enough-1")).status == 200
