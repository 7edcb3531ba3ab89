"""Tickets opened while the NLU was away are classified once it answers (the real Rasa server)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from connectors.base import Contact, InboundMessage
from gateway.infra.resources import NLU, REDIS, SESSIONS
from gateway.web import audiences
from gateway.web.admin.state import STATE
from gateway.worker.reclassify import Reclassifier
from gateway.worker.service import PIPELINE
from nlu.server import free_port
from tests.gateway.conftest import eventually
from ticketing.db.models.tickets import Prediction, Ticket, TicketEvent
from ticketing.tickets.classification import BACKFILL_ACTION

pytestmark = pytest.mark.rasa

STREET_LIGHT = "卫东区建设路的路灯坏了一个星期了，晚上一片漆黑"


@pytest.fixture
async def away(make_client):
    """A gateway whose NLU does not answer yet (Rasa still loading)."""
    client = await make_client(run_worker=False, HOTLINE_NLU_ENABLED=True, RASA_URL=f"http://127.0.0.1:{free_port()}")
    return client.app


def arrive(app, url: str) -> None:
    """Rasa answers now: the client and the administration's follower point at it."""
    audiences.sub_app(app, audiences.ADMIN)[STATE].configured_url = url
    app[NLU].base_url = url


async def unclassified_ticket(app, text: str = STREET_LIGHT) -> str:
    msg = InboundMessage(channel="web", native_id=uuid.uuid4().hex, sender_id="s-" + uuid.uuid4().hex, text=text,
                         received_at=datetime.now(timezone.utc), contact=Contact(phone="13900001111"))
    outcome = await app[PIPELINE].process(msg)
    assert outcome.kind == "ticket" and outcome.ticket_no in outcome.reply  # the citizen has the receipt
    ticket = await ticket_of(app, outcome.ticket_no)
    assert ticket.classification == "unclassified" and ticket.department is None
    return outcome.ticket_no


async def ticket_of(app, number: str) -> Ticket:
    async with app[SESSIONS]() as session:
        return (await session.execute(select(Ticket).where(Ticket.number == number))).scalar_one()


async def backfills(app, number: str) -> int:
    async with app[SESSIONS]() as session:
        return (await session.execute(select(func.count()).select_from(TicketEvent).join(Ticket).where(
            Ticket.number == number, TicketEvent.action == BACKFILL_ACTION))).scalar_one()


async def test_a_ticket_opened_while_rasa_loads_is_classified_when_it_answers(away, rasa_url):
    number = await unclassified_ticket(away)
    reclassifier = Reclassifier(away, check_seconds=0.2)
    assert (await reclassifier.run_once()).looked_at == 0  # still away: nothing done, nothing marked
    assert await backfills(away, number) == 0

    stop = asyncio.Event()
    task = asyncio.create_task(reclassifier.run(stop))
    try:
        await asyncio.sleep(0.5)  # the loop has seen the NLU away
        arrive(away, rasa_url)
        ticket = await eventually(lambda: _classified(away, number), timeout=60)
    finally:
        stop.set()
        await task
    assert ticket.department == "urban_management" and ticket.region == "weidong"
    assert await backfills(away, number) == 1
    async with away[SESSIONS]() as session:
        prediction = (await session.execute(select(Prediction).where(Prediction.ticket_id == ticket.id))).scalar_one()
    assert prediction.request_type_alternatives[0]["code"] == ticket.request_type  # the console's 请核对 reads it
    # Once per ticket: another pass (a restart, another worker) finds nothing to do.
    assert (await reclassifier.run_once()).looked_at == 0
    assert await backfills(away, number) == 1


async def _classified(app, number: str) -> Ticket | None:
    ticket = await ticket_of(app, number)
    return ticket if ticket.classification == "predicted" else None


async def test_one_worker_at_a_time(away, rasa_url):
    number = await unclassified_ticket(away)
    arrive(away, rasa_url)
    first, second = Reclassifier(away), Reclassifier(away)
    held = away[REDIS].lock(first.lock_key, timeout=30, blocking=False, thread_local=False)
    assert await held.acquire()
    try:
        assert (await second.run_once()).locked_out  # another worker's pass is running
        assert (await ticket_of(away, number)).classification == "unclassified"
    finally:
        await held.release()
    results = await asyncio.gather(first.run_once(), second.run_once())
    assert sum(r.looked_at for r in results) == 1 and sum(r.classified for r in results) == 1
    assert await backfills(away, number) == 1


async def test_a_ticket_an_operator_classified_meanwhile_is_left_alone(away, rasa_url):
    number = await unclassified_ticket(away)
    async with away[SESSIONS]() as session, session.begin():
        ticket = (await session.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
        ticket.classification, ticket.department = "confirmed", "transport"
    arrive(away, rasa_url)
    assert (await Reclassifier(away).run_once()).looked_at == 0
    ticket = await ticket_of(away, number)
    assert (ticket.classification, ticket.department) == ("confirmed", "transport")
