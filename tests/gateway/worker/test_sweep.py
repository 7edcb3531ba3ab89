"""The deadline sweep in real worker processes: real database, real Redis lock, real SMTP relay sink."""

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP
from sqlalchemy import func, select

from config.settings import SettingsError, load_settings
from connectors.task_stop import cancel_and_wait
from gateway.infra.keys import RedisKeys
from gateway.infra.metrics import METRICS
from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, REDIS, SESSIONS
from gateway.runtime.assembly import create_service_app
from gateway.worker.sweep import SWEEP_TASK, SWEEPER
from tests.gateway.conftest import eventually
from tests.ticketing.factories import HEALTH_CLERK, ZHAO, handoff_ticket
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket, TicketEvent
from ticketing.workflow import assignments

HEALTH_INBOX = "wjw@units.pds12345.gov.cn"  # config/directory.yaml unit_contacts.health


@dataclass
class Relay:
    """An aiosmtpd sink standing in for the city's outbound mail relay."""

    port: int = 0
    mails: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    refuse: bool = False  # a relay that answers 451 (down for maintenance) while set

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "451 4.3.0 try again later"
        self.recipients.append(list(envelope.rcpt_tos))
        self.mails.append(BytesParser(policy=policy.default).parsebytes(envelope.original_content))
        return "250 OK"

    def to(self, address: str, headline: str) -> list[EmailMessage]:
        return [m for m, rcpt in zip(self.mails, self.recipients, strict=True)
                if rcpt == [address] and headline in m["Subject"]]


@pytest.fixture
async def relay(monkeypatch):
    loop = asyncio.get_running_loop()
    sink = Relay()
    server = await loop.create_server(lambda: SMTP(sink, hostname="relay.test", enable_SMTPUTF8=True),
                                      "127.0.0.1", 0)
    sink.port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("SMTP_RELAY_URL", f"smtp://127.0.0.1:{sink.port}?timeout=10")
    yield sink
    server.close()
    await server.wait_closed()


@pytest.fixture
async def start_worker(stack):
    """Start worker processes (as apps with their cleanup contexts running) on the test's stack."""
    runners: list[web.AppRunner] = []

    async def start(**overrides) -> web.Application:
        redis_url = overrides.pop("redis_url", stack.redis_url)
        settings = stack.settings(**{"HOTLINE_SWEEP_SECONDS": 0.2, **overrides})
        app = create_service_app(settings, redis_url=redis_url, services={"worker"})
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        return app

    async def stop(app: web.Application) -> float:
        runner = next(r for r in runners if r.app is app)
        runners.remove(runner)
        began = time.monotonic()
        await runner.cleanup()
        return time.monotonic() - began

    start.stop = stop
    yield start
    for runner in runners:
        await runner.cleanup()


async def overdue_dispatch(app, *, signed: bool = True) -> str:
    """A complaint dispatched to the health commission 40 days ago (signed in time unless told
    otherwise): its 15 working days are over.  Its number."""
    sessions = app[SESSIONS]
    past = utcnow() - timedelta(days=40)
    ticket_id = await handoff_ticket(sessions, request_type="complaint", at=past)
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ticket_id)
        await assignments.dispatch(session, ticket, ZHAO, app[DIRECTORY], target="health", now=past)
        if signed:
            await assignments.sign(session, ticket, HEALTH_CLERK, now=past + timedelta(hours=1))
        return ticket.number


async def events(app, number: str, action: str) -> int:
    async with app[SESSIONS]() as session:
        return (await session.execute(select(func.count(TicketEvent.id)).join(Ticket).where(
            Ticket.number == number, TicketEvent.action == action))).scalar()


def runs(app, outcome: str) -> float:
    return app[METRICS].registry.get_sample_value("hotline_sweep_runs_total", {"outcome": outcome}) or 0.0


async def test_two_workers_mail_an_overdue_dispatch_exactly_once(start_worker, relay):
    first = await start_worker()
    number = await overdue_dispatch(first)
    second = await start_worker()
    mails = await eventually(lambda: _found(relay.to(HEALTH_INBOX, "已超期")))
    # Many periods of both processes later: still the one mail, one timeline event.
    await eventually(lambda: _at_least(runs(first, "done") + runs(second, "done"), 10))
    assert len(relay.to(HEALTH_INBOX, "已超期")) == 1 and len(relay.mails) == 1
    assert await events(first, number, "overdue") == 1
    mail = mails[0]
    assert mail["Subject"] == f"【已超期】工单 {number}"
    body = mail.get_content()
    assert number in body and first[DIRECTORY].unit("health").name in body and f"/desk/tickets/{number}" in body


async def _found(items):
    return items


async def _at_least(value, least):
    return value >= least


async def test_a_restarted_worker_does_not_repeat_a_notice(start_worker, relay):
    app = await start_worker()
    number = await overdue_dispatch(app, signed=False)
    await eventually(lambda: _found(relay.to(HEALTH_INBOX, "已超期")))
    await eventually(lambda: _found(relay.to(HEALTH_INBOX, "超时未签收")))
    await start_worker.stop(app)

    restarted = await start_worker()
    done = runs(restarted, "done")
    await eventually(lambda: _at_least(runs(restarted, "done"), done + 3))
    assert sorted(m["Subject"] for m in relay.mails) == sorted([f"【超时未签收】工单 {number}",
                                                                f"【已超期】工单 {number}"])
    assert await events(restarted, number, "sign_overdue") == 1 and await events(restarted, number, "overdue") == 1


async def test_notices_go_live_to_the_units_desk_and_overdue_ones_to_the_console(start_worker, relay):
    app = await start_worker(HOTLINE_SWEEP_SECONDS=3600)  # swept by hand below
    replies = app[REPLIES]
    number = await overdue_dispatch(app)
    heard: dict[str, list[dict]] = {"desk": [], "console": []}
    ready = [asyncio.Event(), asyncio.Event()]

    async def listen(name: str, topic: str, subscribed: asyncio.Event) -> None:
        async for event in replies.subscribe(topic, heartbeat=0.2):
            subscribed.set()
            if event is not None:
                heard[name].append(event)

    tasks = [asyncio.create_task(listen("desk", replies.desk_topic("health"), ready[0])),
             asyncio.create_task(listen("console", replies.console_topic, ready[1]))]
    try:
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), 5)
        result = await app[SWEEPER].run_once()
        assert [n.kind for n in result.notices] == ["overdue"] and result.mailed == 1
        await eventually(lambda: _found(heard["desk"] and heard["console"]))
    finally:
        await cancel_and_wait(tasks)
    expected = {"type": "reminder", "kind": "overdue", "ticket_no": number, "unit": "health"}
    assert heard == {"desk": [expected], "console": [expected]}


async def test_a_held_lock_keeps_a_worker_from_sweeping(start_worker, relay, stack):
    app = await start_worker(HOTLINE_SWEEP_SECONDS=3600)
    await overdue_dispatch(app)
    key = RedisKeys(stack.prefix).key("sweep", "lock")
    await app[REDIS].set(key, "another-process", px=10_000)
    assert (await app[SWEEPER].run_once()).locked_out
    assert relay.mails == []
    await app[REDIS].delete(key)
    result = await app[SWEEPER].run_once()
    assert not result.locked_out and [n.kind for n in result.notices] == ["overdue"]
    assert await app[REDIS].get(key) is None  # released after the sweep


async def test_a_refusing_relay_is_logged_and_the_sweep_goes_on(start_worker, relay, monkeypatch, caplog):
    monkeypatch.setenv("SMTP_RELAY_URL", "smtp://127.0.0.1:1?timeout=2")  # nobody listens there
    app = await start_worker(HOTLINE_SWEEP_SECONDS=3600)
    first, second = await overdue_dispatch(app), await overdue_dispatch(app)
    result = await app[SWEEPER].run_once()
    assert sorted(n.ticket_no for n in result.notices) == sorted([first, second]) and result.mailed == 0
    assert app[METRICS].registry.get_sample_value("hotline_sweep_mail_failures_total") == 2
    assert "not sent" in caplog.text
    assert (await app[SWEEPER].run_once()).notices == ()  # flagged all the same: no mail storm later


@pytest.mark.parametrize("broken", ["redis", "database"])
async def test_redis_or_the_database_down_costs_a_period_not_the_worker(start_worker, broken, stack):
    overrides = ({"redis_url": "redis://127.0.0.1:1/0"} if broken == "redis"
                 else {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing"})
    app = await start_worker(**overrides)
    await eventually(lambda: _at_least(runs(app, "failed"), 2), timeout=20)
    assert not app[SWEEP_TASK].done()
    assert await start_worker.stop(app) < 5


async def test_a_worker_stops_promptly_between_sweeps(start_worker):
    app = await start_worker(HOTLINE_SWEEP_SECONDS=3600)
    assert await start_worker.stop(app) < 3
    assert app[SWEEP_TASK].done()


@pytest.mark.parametrize("value", ["0", "-5", "soon", "86400"])
def test_a_bad_sweep_period_stops_start_up_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("HOTLINE_SWEEP_SECONDS", value)
    with pytest.raises(SettingsError, match="HOTLINE_SWEEP_SECONDS"):
        load_settings()


def test_the_sweep_runs_every_minute_by_default(monkeypatch):
    monkeypatch.delenv("HOTLINE_SWEEP_SECONDS", raising=False)
    assert load_settings().sweep_seconds == 60
