"""Forwarding headers (issue #12, item 7): believed only from HOTLINE_TRUSTED_PROXIES.

The test client connects from 127.0.0.1, which used to be trusted implicitly: a forged
``X-Forwarded-For`` gave every request a fresh address, so every per-client limit a fresh budget,
and a forged ``X-Forwarded-Proto`` decided the cookies' flags.
"""

from __future__ import annotations

import itertools

from gateway.web.citizen.pages import VISITOR_COOKIE
from tests.gateway.web.citizen.helpers import leave_message_form, open_form
from tests.rate_windows import begin_in_a_fresh_window

_addresses = (f"198.51.100.{i}" for i in itertools.count(1))


def _set_cookie(resp, name: str) -> str | None:
    return next((v for k, v in resp.headers.items() if k.lower() == "set-cookie" and v.startswith(name + "=")), None)


async def _nlu_statuses(client, n: int, *, forge: bool) -> list[int]:
    statuses = []
    for _ in range(n):
        headers = {"X-Forwarded-For": next(_addresses)} if forge else {}
        resp = await client.post("/api/v1/nlu/parse", json={"text": "路灯坏了"}, headers=headers)
        statuses.append(resp.status)
    return statuses


async def test_a_forged_forwarded_for_does_not_escape_the_rate_limit(client):
    await begin_in_a_fresh_window()
    statuses = []
    for _ in range(12):
        resp = await client.get("/api/v1/tickets/PDS2099010100001", params={"phone_last4": "1111"},
                                headers={"X-Forwarded-For": next(_addresses)})
        statuses.append(resp.status)
    assert statuses[10:] == [429, 429]


async def test_a_forged_forwarded_for_does_not_escape_the_message_form_limit(client):
    await begin_in_a_fresh_window(window=600)
    statuses = []
    for i in range(6):
        token, form_id = await open_form(client)
        resp = await client.post("/message", data=leave_message_form(token, form_id, content=f"第 {i} 条：路灯不亮。"),
                                 headers={"X-Forwarded-For": next(_addresses)}, allow_redirects=False)
        statuses.append(resp.status)
    assert statuses[-1] == 429


async def test_a_trusted_proxy_names_the_client(make_client):
    await begin_in_a_fresh_window()
    client = await make_client(run_worker=False, HOTLINE_TRUSTED_PROXIES="127.0.0.1")
    # Behind the proxy, two citizens have two budgets …
    first = [(await client.get("/api/v1/tickets/PDS2099010100001", params={"phone_last4": "1111"},
                               headers={"X-Forwarded-For": "203.0.113.7"})).status for _ in range(11)]
    other = await client.get("/api/v1/tickets/PDS2099010100002", params={"phone_last4": "1111"},
                             headers={"X-Forwarded-For": "203.0.113.8"})
    assert first[-1] == 429 and other.status == 404
    # … and what a client wrote itself, left of what the proxy appended, is not believed.
    forged = await client.get("/api/v1/tickets/PDS2099010100003", params={"phone_last4": "1111"},
                              headers={"X-Forwarded-For": "192.0.2.1, 203.0.113.7"})
    assert forged.status == 429


async def test_forwarded_proto_is_believed_only_from_a_trusted_proxy(make_client):
    untrusted = await make_client(run_worker=False)
    resp = await untrusted.get("/message", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in (_set_cookie(resp, VISITOR_COOKIE) or "")

    behind_proxy = await make_client(run_worker=False, HOTLINE_TRUSTED_PROXIES="127.0.0.0/8")
    resp = await behind_proxy.get("/message", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in (_set_cookie(resp, VISITOR_COOKIE) or "")


async def test_secure_cookies_setting_marks_every_cookie_secure(make_client):
    client = await make_client(run_worker=False, HOTLINE_SECURE_COOKIES=True)
    resp = await client.get("/message")
    cookie = _set_cookie(resp, VISITOR_COOKIE)
    assert cookie is not None and "Secure" in cookie
