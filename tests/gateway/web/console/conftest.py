"""Console test helpers: accounts, tickets made through the service layer, and an HTTP
agent per person (its own cookie jar, CSRF token and session)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from gateway.infra.resources import SESSIONS
from ticketing.accounts import users
from ticketing.db.models.base import utcnow
from ticketing.tickets import store
from ticketing.tickets.store import ContactInfo

PASSWORD = "correct-horse-9"


class Agent:
    """One browser-like client: cookies, the CSRF token, JSON helpers."""

    def __init__(self, client) -> None:
        self.client = client
        self.base = str(client.make_url("")).rstrip("/")
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.token: str | None = None

    async def close(self) -> None:
        await self.http.close()

    async def csrf(self) -> str:
        if self.token is None:
            async with self.http.get(self.base + "/api/v1/console/csrf") as resp:
                assert resp.status == 200
                self.token = (await resp.json())["csrf_token"]
        return self.token

    async def request(self, method: str, path: str, *, json: Any = None, data: Any = None,
                      csrf: bool = True, allow_redirects: bool = False, headers: dict | None = None):
        hdrs = dict(headers or {})
        if csrf and method not in ("GET", "HEAD"):
            hdrs["X-CSRF-Token"] = await self.csrf()
        resp = await self.http.request(method, self.base + path, json=json, data=data, headers=hdrs,
                                       allow_redirects=allow_redirects)
        await resp.read()
        return resp

    async def get(self, path: str, **kw):
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw):
        return await self.request("POST", path, json=json, **kw)

    async def login(self, username: str, password: str = PASSWORD):
        return await self.post("/api/v1/console/login", {"username": username, "password": password})

    async def form(self, path: str, fields: dict[str, Any] | None = None, **kw):
        """A page form post (the token as a form field, like the browser sends it)."""
        data = {"csrf_token": await self.csrf(), **(fields or {})}
        return await self.request("POST", path, data=data, csrf=False, **kw)


@pytest.fixture
def console_settings() -> dict[str, Any]:
    """Settings overrides of the console's gateway; a test module redefines it (e.g. the NLU on)."""
    return {}


@pytest.fixture
async def console(make_client, console_settings):
    """(client, make_agent, make_user) on a gateway with its worker."""
    client = await make_client(**console_settings)
    agents: list[Agent] = []

    async def agent(username: str | None = None, *, role: str = "operator") -> Agent:
        a = Agent(client)
        agents.append(a)
        if username:
            await user(username, role=role)
            resp = await a.login(username)
            assert resp.status == 200, await resp.text()
        return a

    async def user(username: str, *, role: str = "operator", password: str = PASSWORD, display_name: str | None = None):
        async with client.app[SESSIONS]() as session, session.begin():
            existing = await users.user_by_name(session, username)
            if existing is not None:
                return existing
            return await users.create_user(session, username, role=role, password=password,
                                              display_name=display_name or f"{username}坐席")

    yield client, agent, user
    for a in agents:
        await a.close()


async def make_ticket(app, *, channel: str = "web", sender: str | None = None, text: str = "卫东区建设路路灯坏了",
                      phone: str | None = "13837512345", name: str | None = "张先生", email: str | None = None,
                      department: str | None = "urban_management", region: str | None = "weidong",
                      request_type: str | None = "complaint", confidence: float = 0.81, urgent: bool = False,
                      predicted: bool = True, at: datetime | None = None, message_id: str | None = None,
                      subject: str | None = None, type_ranking: list[dict] | None = None) -> str:
    """A hand-off as the pipeline would store it: conversation, ticket, citizen entry, prediction."""
    at = at or utcnow()
    sender = sender or ("s" + uuid.uuid4().hex)
    async with app[SESSIONS]() as session, session.begin():
        conv = await store.lock_conversation(session, channel, sender, at)
        ticket = await store.create_ticket(
            session, conversation=conv, channel=channel, actor="bot", title=text[:40],
            contact=ContactInfo(name=name, phone=phone, email=email,
                                         wechat_openid=sender if channel == "wechat" else None),
            request_type=request_type if predicted else None, department=department if predicted else None,
            region=region if predicted else None, urgent=urgent,
            classification="predicted" if predicted else "unclassified", at=at,
        )
        entry = await store.add_entry(session, conversation=conv, ticket=ticket, author="citizen", channel=channel,
                                         text=text, channel_message_id=message_id or uuid.uuid4().hex,
                                         subject=subject, at=at)
        if predicted:
            await store.add_prediction(
                session, ticket, entry=entry, department=department, region=region, request_type=request_type,
                intent=f"dept_{department}", confidence=confidence,
                alternatives=[{"code": department, "confidence": confidence},
                              {"code": "housing_construction", "confidence": 0.1},
                              {"code": "transport", "confidence": 0.05}],
                model_version="nlu-test-1", request_type_alternatives=type_ranking,
            )
        return ticket.number


def hours_ago(h: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(hours=h)
