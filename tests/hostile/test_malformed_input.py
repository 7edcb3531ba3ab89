"""Malformed input never makes a public 500 (issue #12, item 10).

Every case below was a 500 against the running stack.  Each must now be a clean 4xx: the API's
JSON error ``{"error": {"code", "message"}}``, or for a page the Chinese HTML error page.
Run on both backends (SQLite's and PostgreSQL's integer limits differ).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from gateway.infra.resources import SESSIONS
from gateway.infra.stream import STREAM
from tests.gateway.channels.wechat_gateway import wechat_gateway
from tests.gateway.conftest import eventually
from tests.gateway.web.console.conftest import console, console_settings, make_ticket  # noqa: F401, F811
from ticketing.accounts import users
from ticketing.db.models.tickets import Entry

SESSION = "s" * 20
ADMIN_TOKEN = {"Authorization": "Bearer test-admin-token-0123456789"}
HUGE = "99999999999999999999"
DEEP = "[" * 5_000 + "]" * 5_000  # under the 64 KB limit, deeper than any parser should walk
MALFORMED_MULTIPART = {"Content-Type": "multipart/form-data; boundary=xyz"}


@dataclass(frozen=True)
class Case:
    """One hostile request: who sends it (anonymous, an operator or the admin token) and what."""

    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    json_body: Any = None
    who: str = "anonymous"  # "anonymous" | "operator" (claimed ticket as {number}) | "admin"
    page: bool = False  # an HTML page, not the JSON API
    handled: bool = False  # the page may answer 200 with its own message instead of a 4xx


def web_message(**fields: Any) -> dict[str, Any]:
    return {"session_id": SESSION, "text": "路灯坏了", **fields}


CASES = {
    "charset=foo on the web chat": Case(
        "POST", "/api/v1/web/messages", json.dumps(web_message()).encode(),
        {"Content-Type": "application/json; charset=foo"}),
    "charset=foo on the NLU contract": Case(
        "POST", "/api/v1/nlu/parse", b'{"text": "hello"}', {"Content-Type": "application/json; charset=foo"}),
    "deep JSON on the web chat": Case(
        "POST", "/api/v1/web/messages", DEEP.encode(), {"Content-Type": "application/json"}),
    "deep JSON on the NLU contract": Case(
        "POST", "/api/v1/nlu/parse", DEEP.encode(), {"Content-Type": "application/json"}),
    "deep JSON in a field": Case(
        "POST", "/api/v1/web/messages",
        ('{"session_id": "%s", "text": %s}' % (SESSION, "[" * 3_000 + "]" * 3_000)).encode(),
        {"Content-Type": "application/json"}),
    "lone surrogate in text": Case(
        "POST", "/api/v1/web/messages", b'{"session_id": "' + SESSION.encode() + b'", "text": "a\\ud800b"}',
        {"Content-Type": "application/json"}),
    "lone surrogate in name": Case(
        "POST", "/api/v1/web/messages",
        b'{"session_id": "' + SESSION.encode() + b'", "text": "hi", "name": "\\udfff"}',
        {"Content-Type": "application/json"}),
    "lone surrogate in the NLU text": Case(
        "POST", "/api/v1/nlu/parse", b'{"text": "\\ud800"}', {"Content-Type": "application/json"}),
    "huge after": Case("GET", f"/api/v1/web/sessions/{SESSION}/messages?after={HUGE}"),
    "negative huge after": Case("GET", f"/api/v1/web/sessions/{SESSION}/messages?after=-{HUGE}"),
    "malformed multipart on /message": Case("POST", "/message", b"garbage--xyz", MALFORMED_MULTIPART, page=True),
    "multipart without boundary on /message": Case(
        "POST", "/message", b"garbage", {"Content-Type": "multipart/form-data"}, page=True),
    "malformed multipart on /progress": Case("POST", "/progress", b"garbage--xyz", MALFORMED_MULTIPART, page=True),
    "malformed multipart on /console/login": Case(
        "POST", "/console/login", b"garbage--xyz", MALFORMED_MULTIPART, page=True),
    "classification code as a list": Case(
        "POST", "/api/v1/console/tickets/{number}/classification", json_body={"department": ["transport"]},
        who="operator"),
    "classification code as an object": Case(
        "POST", "/api/v1/console/tickets/{number}/classification", json_body={"region": {"a": 1}},
        who="operator"),
    "classification code as a number": Case(
        "POST", "/api/v1/console/tickets/{number}/classification", json_body={"request_type": 5},
        who="operator"),
    "dead-letters limit=abc": Case("GET", "/api/v1/admin/dead-letters?limit=abc", who="admin"),
    "dead-letters huge limit": Case("GET", f"/api/v1/admin/dead-letters?limit={HUGE}", who="admin"),
    "integer display_name": Case(
        "POST", "/api/v1/console/users",
        json_body={"username": "newbie", "role": "operator", "password": "correct-horse-9", "display_name": 5},
        who="admin"),
    "integer display_name on change": Case(
        "POST", "/api/v1/console/users/someone", json_body={"display_name": 5}, who="admin"),
    "huge queue offset": Case("GET", f"/api/v1/console/tickets?offset={HUGE}", who="operator"),
    "huge queue offset on the page": Case("GET", f"/console?offset={HUGE}", who="operator", page=True,
                                           handled=True),
    "huge entry id": Case("POST", f"/api/v1/console/tickets/{{number}}/entries/{HUGE}/retry", who="operator"),
    "huge attachment id": Case("GET", f"/console/attachments/{HUGE}", who="operator", page=True),
    "huge canned reply id": Case("DELETE", f"/api/v1/console/canned-replies/{HUGE}", who="operator"),
    "huge example id": Case("PUT", f"/api/v1/admin/nlu/examples/{HUGE}", json_body={"text": "x"}, who="admin"),
    "huge job id": Case("GET", f"/api/v1/admin/nlu/jobs/{HUGE}", who="admin"),
    "huge model version": Case("GET", f"/api/v1/admin/nlu/models/{HUGE}", who="admin"),
    "huge model version page": Case("GET", f"/admin/nlu/models/{HUGE}", who="admin", page=True),
}


@pytest.fixture
async def gateway(console):  # noqa: F811  (the imported fixture)
    client, agent, _user = console
    operator = await agent("hostile-op")
    admin = await agent("hostile-admin", role="admin")
    number = await make_ticket(client.app)
    resp = await operator.post(f"/api/v1/console/tickets/{number}/claim")
    assert resp.status == 200
    return client, operator, admin, number


async def _send(gateway, case: Case):
    client, operator, admin, number = gateway
    path = case.path.replace("{number}", number)
    if case.who == "anonymous":
        resp = await client.request(case.method, path, data=case.body, headers=case.headers)
        return resp, await resp.read()
    agent = operator if case.who == "operator" else admin
    if case.json_body is not None:
        resp = await agent.request(case.method, path, json=case.json_body, headers=case.headers)
    else:
        resp = await agent.request(case.method, path, data=case.body, headers=case.headers)
    return resp, await resp.read()


@pytest.mark.parametrize("name", CASES)
async def test_malformed_input_is_a_clean_client_error(gateway, name):
    case = CASES[name]
    resp, body = await _send(gateway, case)
    assert 400 <= resp.status < 500 or (case.handled and resp.status == 200), (resp.status, body[:300])
    if case.page:
        assert resp.content_type == "text/html", resp.content_type
        assert "<html" in body.decode().lower()
    else:
        assert resp.content_type == "application/json", (resp.content_type, body[:200])
        error = json.loads(body)["error"]
        assert error["code"] and error["message"]


# --------------------------------------------------------------------------- WeChat

@pytest.fixture
async def wechat(make_client, aiohttp_server, monkeypatch):
    gateway = await wechat_gateway(make_client, aiohttp_server, monkeypatch)
    return gateway.client, gateway.platform


@pytest.mark.parametrize("create_time", [HUGE, "9" * 12, "99999999999"])
async def test_a_huge_wechat_create_time_is_refused_not_a_500(wechat, create_time):
    client, platform = wechat
    xml = platform.text("oCitizen001", "路灯坏了").replace(
        xml_tag := _tag(platform.text("oCitizen001", "路灯坏了"), "CreateTime"), f"<CreateTime>{create_time}</CreateTime>")
    assert xml_tag
    req = platform.sign_request(xml)
    resp = await client.post(f"/wechat?{req.query}", data=req.body, headers={"Content-Type": "text/xml"})
    assert resp.status in (200, 400), await resp.text()


def _tag(xml: str, name: str) -> str:
    start = xml.index(f"<{name}>")
    end = xml.index(f"</{name}>") + len(name) + 3
    return xml[start:end]


# --------------------------------------------------------------------------- smaller points (item 12)

async def test_a_string_boolean_is_refused_and_changes_nothing(gateway):
    client, _operator, admin, _number = gateway
    resp = await admin.post("/api/v1/console/users/hostile-op", {"active": False})
    assert resp.status == 200
    resp = await admin.post("/api/v1/console/users/hostile-op", {"active": "false"})
    assert resp.status == 400, await resp.text()
    async with client.app[SESSIONS]() as session:
        assert (await users.user_by_name(session, "hostile-op")).active is False


@pytest.mark.parametrize("body", [
    {"session_id": SESSION + "\n", "text": "路灯坏了"},
    {"session_id": SESSION, "text": "路灯坏了", "client_message_id": "client-0001\n"},
])
async def test_ids_ending_in_a_newline_are_refused(client, body):
    resp = await client.post("/api/v1/web/messages", json=body)
    assert resp.status == 400, await resp.text()


async def test_a_session_path_ending_in_a_newline_is_refused(client):
    resp = await client.get(f"/api/v1/web/sessions/{SESSION}%0A/messages")
    assert resp.status == 400, await resp.text()


async def test_control_characters_are_stripped_before_anything_is_stored(client):
    resp = await client.post("/api/v1/web/messages", json={
        "session_id": SESSION, "text": "路灯\u0000坏了\u0007\r\n三天", "name": "张\u0000三"})
    assert resp.status == 202, await resp.text()

    async def stored():
        async with client.app[SESSIONS]() as session:
            return (await session.execute(select(Entry).where(Entry.author == "citizen"))).scalar_one_or_none()

    entry = await eventually(stored)
    assert entry.text == "路灯坏了\n三天"
    assert await client.app[STREAM].dead_letters(count=10) == []


async def test_a_reused_client_message_id_with_another_text_is_409(client):
    first = {"session_id": SESSION, "text": "小区停水了", "client_message_id": "client-0001"}
    for _ in range(2):  # a retry with the same text stays idempotent
        resp = await client.post("/api/v1/web/messages", json=first)
        assert resp.status == 202, await resp.text()
    resp = await client.post("/api/v1/web/messages", json={**first, "text": "另一件事"})
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "client_message_id_reused"
