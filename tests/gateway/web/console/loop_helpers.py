"""Helpers of the handling-loop console tests: an SMTP sink as the mailbox's outbound relay, the
units' side of the loop through the domain functions (the desk is another helper's), and a
listener on a unit's desk topic."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP
from sqlalchemy import select

from config.local_time import LOCAL_TZ
from connectors.task_stop import cancel_and_wait
from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, SESSIONS
from tests.connectors.email.conftest import Sink, SinkHandler
from ticketing.accounts.roles import Actor
from ticketing.db.models.tickets import Ticket, TicketEvent
from ticketing.tickets import claims
from ticketing.workflow import assignments, extensions, reports

HANDLERS = {unit: Actor(f"h-{unit}", f"{unit}经办人", "handler", unit=unit)
            for unit in ("health", "urban_management", "ruzhou", "transport")}


@contextlib.asynccontextmanager
async def relay_sink(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sink]:
    """The relay the mailbox sends units' notices through (set before the gateway starts)."""
    loop = asyncio.get_running_loop()
    handler = SinkHandler()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="relay.test", enable_SMTPUTF8=True, loop=loop), "127.0.0.1", 0)
    relay = Sink(handler, server, server.sockets[0].getsockname()[1])
    monkeypatch.setenv("SMTP_RELAY_URL", relay.url)
    yield relay
    server.close()
    await server.wait_closed()


def local_day(days: int = 0) -> date:
    return (datetime.now(LOCAL_TZ) + timedelta(days=days)).date()


async def as_unit(app, number: str, act: Callable[[Any, Ticket], Awaitable[Any]]) -> Any:
    """One unit action, in one transaction under the ticket's lock, as the desk will do it."""
    async with app[SESSIONS]() as session, session.begin():
        ticket = await claims.lock_ticket(session, await claims.get_ticket(session, number))
        return await act(session, ticket)


async def sign(app, number: str, unit: str = "health") -> None:
    await as_unit(app, number, lambda s, t: assignments.sign(s, t, HANDLERS[unit]))


async def answer(app, number: str, text: str = "经核查，该医院已对挂号窗口排队问题进行整改，增设自助挂号机三台。",
                 unit: str = "health") -> None:
    await as_unit(app, number, lambda s, t: reports.submit_answer(s, t, HANDLERS[unit], text))


async def progress(app, number: str, text: str, unit: str) -> None:
    await as_unit(app, number, lambda s, t: reports.add_progress(s, t, HANDLERS[unit], text))


async def request_extension(app, number: str, days: int = 40, unit: str = "health") -> None:
    await as_unit(app, number, lambda s, t: extensions.request_extension(
        s, t, HANDLERS[unit], until=local_day(days), reason="需协调多个科室现场核查"))


async def give_back(app, number: str, unit: str = "health", reason: str = "not_our_duty") -> None:
    await as_unit(app, number, lambda s, t: assignments.return_ticket(
        s, t, HANDLERS[unit], app[DIRECTORY], reason=reason, text="该事项属城市管理职责"))


async def events_of(app, number: str, action: str) -> list[TicketEvent]:
    async with app[SESSIONS]() as session:
        ticket = await claims.get_ticket(session, number)
        stmt = (select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == action)
                .order_by(TicketEvent.id))
        return list((await session.execute(stmt)).scalars())


@contextlib.asynccontextmanager
async def desk_listener(app, unit: str) -> AsyncIterator[list[dict[str, Any]]]:
    """Collect what ``unit``'s open desks would receive live."""
    bus = app[REPLIES]
    received: list[dict[str, Any]] = []
    subscribed = asyncio.Event()

    async def listen() -> None:
        async for event in bus.subscribe(bus.desk_topic(unit), heartbeat=0.5):
            if event is None:
                subscribed.set()
            else:
                received.append(event)

    task = asyncio.create_task(listen())
    await asyncio.wait_for(subscribed.wait(), 5)
    try:
        yield received
    finally:
        await cancel_and_wait([task])


def mails_to(sink: Sink, address: str) -> list[Any]:
    return [m.message for m in sink.mails if address in m.rcpt_tos]


def body_of(message: Any) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()
