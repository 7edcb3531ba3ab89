"""Desk test helpers: two units' handlers (each its own browser-like agent), platform staff, and
tickets put in a unit's hands with the domain functions (the console side is built elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from gateway.infra.resources import DIRECTORY, SESSIONS
from tests.gateway.web.console.conftest import PASSWORD, Agent, make_ticket
from ticketing.accounts import users
from ticketing.accounts.roles import Actor
from ticketing.tickets import claims
from ticketing.workflow import assignments, reviews, supervision_notes

DISPATCHER = Actor("zhao", "赵", "dispatcher")
REVIEWER = Actor("chen", "陈", "supervisor")
PHONE = "13837512345"


@dataclass
class Desk:
    client: Any
    agents: list[Agent]

    @property
    def app(self):
        return self.client.app

    async def user(self, username: str, *, role: str = "handler", unit: str | None = None):
        directory = self.app[DIRECTORY]
        async with self.app[SESSIONS]() as session, session.begin():
            existing = await users.user_by_name(session, username)
            if existing is not None:
                return existing
            return await users.create_user(session, username, role=role, password=PASSWORD,
                                           display_name=f"{username}经办人", unit=unit,
                                           known_units=[u.code for u in directory.units])

    async def agent(self, username: str | None = None, *, role: str = "handler", unit: str | None = None) -> Agent:
        a = Agent(self.client)
        self.agents.append(a)
        if username:
            await self.user(username, role=role, unit=unit)
            resp = await a.login(username)
            assert resp.status == 200, await resp.text()
        return a

    async def dispatched(self, target: str = "health", *, assists: tuple[str, ...] = (), text: str | None = None,
                         note: str | None = "请核实后答复群众") -> str:
        """A citizen's ticket dispatched by the platform to ``target``; its number."""
        number = await make_ticket(self.app, phone=PHONE, text=text or f"{target}：卫东区建设路路灯坏了，电话 {PHONE}")
        async with self.app[SESSIONS]() as session, session.begin():
            ticket = await claims.get_ticket(session, number)
            await assignments.dispatch(session, ticket, DISPATCHER, self.app[DIRECTORY], target=target,
                                       assists=assists, note=note)
        return number

    async def supervise(self, number: str, text: str = "请加快办理", until: date | None = None) -> int:
        async with self.app[SESSIONS]() as session, session.begin():
            ticket = await claims.get_ticket(session, number)
            note = await supervision_notes.issue(session, ticket, DISPATCHER, self.app[DIRECTORY], text=text,
                                                 until=until)
            return note.id

    async def reject(self, number: str, reason: str) -> None:
        async with self.app[SESSIONS]() as session, session.begin():
            ticket = await claims.get_ticket(session, number)
            await reviews.reject(session, ticket, REVIEWER, reason=reason)

    async def approve(self, number: str) -> None:
        async with self.app[SESSIONS]() as session, session.begin():
            ticket = await claims.get_ticket(session, number)
            await reviews.approve(session, ticket, REVIEWER, self.app[DIRECTORY])


@pytest.fixture
async def desk(make_client):
    client = await make_client(run_worker=False)
    d = Desk(client, [])
    yield d
    for a in d.agents:
        await a.close()


async def body(resp) -> Any:
    return await resp.json()
