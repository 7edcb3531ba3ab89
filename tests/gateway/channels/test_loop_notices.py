"""Units told of the platform's moves: the texts, the desk topic, and the mail's outcome on the
ticket's timeline whether or not the mailbox can send (no relay here: the outcome says so)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from config.directory import load_directory
from connectors.email import texts as email_texts
from connectors.task_stop import cancel_and_wait
from gateway.channels import loop_notices
from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, SESSIONS
from tests.gateway.web.console.conftest import make_ticket
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket, TicketEvent


def test_the_texts_name_the_unit_the_dates_and_the_desk():
    config = {DIRECTORY: load_directory()}
    due = utcnow().replace(microsecond=0) + timedelta(days=5)
    notice = loop_notices.dispatched(config, "PDS2026120100001", "路灯不亮", unit="health", role="assist",
                                     sign_by=due - timedelta(days=4), deadline=due, redispatch=True)
    assert notice.unit == "health" and "改派工单" in notice.subject and "协办" in notice.subject
    assert notice.body.startswith("市卫生健康委员会：") and "/desk/tickets/PDS2026120100001" in notice.body
    assert notice.event == {"type": "dispatched", "ticket_no": "PDS2026120100001", "role": "assist"}
    unit_only, with_leader = (loop_notices.supervised(config, "PDS2026120100001", unit="health", text="请尽快办理",
                                                      seq=seq, deadline=None, leader=seq > 1) for seq in (1, 2))
    assert len(unit_only) == 1 and [n.leader for n in with_leader] == [False, True]
    assert with_leader[1].event == {}  # the desk hears of it once
    refused = loop_notices.extension_decided(config, "PDS2026120100001", unit="health", approved=False,
                                             deadline=due, note="时限内可办结")
    assert "未同意" in refused.subject and "时限内可办结" in refused.body


async def test_without_a_relay_the_outcome_is_recorded_and_the_desk_still_hears(make_client):
    client = await make_client(run_worker=False)
    app = client.app
    number = await make_ticket(app)
    bus = app[REPLIES]
    received: list[dict] = []
    ready = asyncio.Event()

    async def listen():
        async for event in bus.subscribe(bus.desk_topic("health"), heartbeat=0.5):
            if event is None:
                ready.set()
            else:
                received.append(event)

    task = asyncio.create_task(listen())
    await asyncio.wait_for(ready.wait(), 5)
    notice = loop_notices.answer_rejected(app, number, unit="health", reason="答复未说明整改时限")
    outcomes = await loop_notices.send_notices(app, number, [notice], actor="disp")
    await asyncio.sleep(0.2)
    await cancel_and_wait([task])
    assert received == [{"type": "answer_rejected", "ticket_no": number}]
    assert [(o.unit, o.delivered) for o in outcomes] == [("health", False)]
    assert outcomes[0].detail == email_texts.RELAY_NOT_CONFIGURED
    async with app[SESSIONS]() as session:
        ticket = (await session.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
        events = list((await session.execute(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.action == "unit_notified"))).scalars())
    assert len(events) == 1 and events[0].actor == "disp"
    assert events[0].detail == {"unit": "health", "delivered": False, "detail": email_texts.RELAY_NOT_CONFIGURED}
