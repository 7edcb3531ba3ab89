"""Two units, two handlers: each sees and touches only its own unit's tickets, on every desk route
(queue, pages, API, attachments, live events); another unit's ticket answers like a missing one."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from sqlalchemy import select

from gateway.infra.resources import SESSIONS
from tests.gateway.web.desk.conftest import body
from ticketing.db.models.tickets import Attachment, Ticket
from ticketing.tickets import claims

API = "/api/v1/desk"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32


@pytest.fixture
async def two_units(desk):
    health_no = await desk.dispatched("health", text="卫健委：某诊所乱收费")
    ruzhou_no = await desk.dispatched("ruzhou", text="汝州：某村道路损坏")
    health = await desk.agent("wjw1", unit="health")
    ruzhou = await desk.agent("rz1", unit="ruzhou")
    # Each unit has a file of its own (a progress note's photo), and the citizen's photo on the ticket.
    for agent, number in ((health, health_no), (ruzhou, ruzhou_no)):
        assert (await agent.post(f"{API}/tickets/{number}/sign")).status == 200
        data = aiohttp.FormData(quote_fields=False)
        data.add_field("text", "现场照片")
        data.add_field("files", PNG, filename="photo.png", content_type="image/png")
        assert (await agent.request("POST", f"{API}/tickets/{number}/progress", data=data)).status == 200
    async with desk.app[SESSIONS]() as session, session.begin():
        ticket = await claims.get_ticket(session, ruzhou_no)
        session.add(Attachment(ticket_id=ticket.id, filename="citizen.png", content_type="image/png", size=1,
                               storage_key="nowhere.png", kind="image"))
    return health, ruzhou, health_no, ruzhou_no


async def _attachment_ids(app, number: str) -> list[int]:
    async with app[SESSIONS]() as session:
        ticket = await claims.get_ticket(session, number)
        return list((await session.execute(select(Attachment.id).where(Attachment.ticket_id == ticket.id))).scalars())


def _routes(number: str, note_id: int = 1) -> list[tuple[str, str, dict | None]]:
    t = f"{API}/tickets/{number}"
    return [
        ("GET", t, None),
        ("POST", t + "/sign", None),
        ("POST", t + "/return", {"reason": "not_our_duty", "text": "不是本单位的"}),
        ("POST", t + "/progress", {"text": "偷看别人的工单"}),
        ("POST", t + "/answer", {"text": "替别的单位答复群众的诉求"}),
        ("POST", t + "/extension", {"until": "2099-01-01", "reason": "理由"}),
        ("POST", t + f"/supervision/{note_id}/acknowledge", None),
        ("POST", t + "/reveal", None),
    ]


async def test_the_queue_shows_only_the_units_own_tickets(two_units):
    health, ruzhou, health_no, ruzhou_no = two_units
    for agent, mine, theirs in ((health, health_no, ruzhou_no), (ruzhou, ruzhou_no, health_no)):
        seen = []
        for tab in ("pending_sign", "handling", "warning", "overdue", "returned", "done"):
            queue = await body(await agent.get(f"{API}/queue?tab={tab}"))
            seen += [r["number"] for r in queue["rows"]]
        assert seen == [mine]
        page = await (await agent.get("/desk?tab=handling")).text()
        panel = await (await agent.get("/desk/queue/panel?tab=handling")).text()
        assert mine in page and theirs not in page and mine in panel and theirs not in panel


async def test_every_ticket_route_answers_another_units_ticket_like_a_missing_one(desk, two_units):
    health, ruzhou, health_no, ruzhou_no = two_units
    note_id = await desk.supervise(ruzhou_no)
    for method, path, payload in _routes(ruzhou_no, note_id):
        resp = await health.request(method, path, json=payload)
        assert resp.status == 404, (method, path, resp.status)
        missing = await health.request(method, path.replace(ruzhou_no, "PDS2099010100001"), json=payload)
        assert missing.status == 404 and (await body(missing))["error"]["code"] == (await body(resp))["error"]["code"]
    # Pages: the ticket page and every form.
    assert (await health.get(f"/desk/tickets/{ruzhou_no}")).status == 404
    forms = {"sign": {}, "return": {"reason": "not_our_duty", "text": "x"}, "progress": {"text": "x"},
             "answer": {"text": "替别的单位答复群众的诉求"}, "extension": {"until": "2099-01-01", "reason": "x"},
             f"supervision/{note_id}/acknowledge": {}, "reveal": {}}
    for action, fields in forms.items():
        resp = await health.form(f"/desk/tickets/{ruzhou_no}/{action}", fields)
        assert resp.status == 404, (action, resp.status)
    # Nothing happened to the other unit's ticket.
    async with desk.app[SESSIONS]() as session:
        ticket = (await session.execute(select(Ticket).where(Ticket.number == ruzhou_no))).scalar_one()
        assert ticket.status == "handling"
    view = (await body(await ruzhou.get(f"{API}/tickets/{ruzhou_no}")))["ticket"]
    assert len(view["reports"]) == 1 and not view["supervision"][0]["acknowledged"]


async def test_a_unit_never_fetches_another_units_file(desk, two_units):
    health, ruzhou, health_no, ruzhou_no = two_units
    for att_id in await _attachment_ids(desk.app, ruzhou_no):
        assert (await health.get(f"/desk/attachments/{att_id}")).status == 404
    own = await _attachment_ids(desk.app, health_no)
    assert own
    for att_id in own:
        assert (await health.get(f"/desk/attachments/{att_id}")).status == 200
    assert (await health.get("/desk/attachments/99999999")).status == 404


async def test_an_assisting_units_report_files_stay_its_own(desk):
    number = await desk.dispatched("health", assists=("ruzhou",))
    lead = await desk.agent("wjw1", unit="health")
    helper = await desk.agent("rz1", unit="ruzhou")
    assert (await helper.post(f"{API}/tickets/{number}/sign")).status == 200
    data = aiohttp.FormData(quote_fields=False)
    data.add_field("text", "协办意见附图")
    data.add_field("files", PNG, filename="assist.png", content_type="image/png")
    assert (await helper.request("POST", f"{API}/tickets/{number}/progress", data=data)).status == 200
    (att_id,) = await _attachment_ids(desk.app, number)
    assert (await helper.get(f"/desk/attachments/{att_id}")).status == 200
    # Both units hold the ticket, but the assisting unit's file is not the lead's to fetch.
    assert (await lead.get(f"/desk/attachments/{att_id}")).status == 404
    view = (await body(await lead.get(f"{API}/tickets/{number}")))["ticket"]
    assert view["reports"] == []


async def _next_event(resp, timeout: float = 10.0) -> dict:
    while True:
        line = (await asyncio.wait_for(resp.content.readline(), timeout)).decode()
        if line.startswith("data: "):
            return json.loads(line[6:])


async def test_live_events_reach_only_the_units_own_desk(desk):
    health_no = await desk.dispatched("health")
    ruzhou_no = await desk.dispatched("ruzhou")
    health = await desk.agent("wjw1", unit="health")
    ruzhou = await desk.agent("rz1", unit="ruzhou")
    timeout = aiohttp.ClientTimeout(total=30)
    health_stream = await health.http.get(health.base + "/desk/events", timeout=timeout)
    ruzhou_stream = await ruzhou.http.get(ruzhou.base + "/desk/events", timeout=timeout)
    assert health_stream.status == 200 and health_stream.headers["Content-Type"].startswith("text/event-stream")
    try:
        assert (await ruzhou.post(f"{API}/tickets/{ruzhou_no}/sign")).status == 200
        assert (await health.post(f"{API}/tickets/{health_no}/sign")).status == 200
        # Health's desk hears its own sign first: the other unit's event never reached it.
        event = await _next_event(health_stream)
        assert event["ticket_no"] == health_no and event["what"] == "sign" and event["unit"] == "health"
        event = await _next_event(ruzhou_stream)
        assert event["ticket_no"] == ruzhou_no and event["unit"] == "ruzhou"
    finally:
        health_stream.close()
        ruzhou_stream.close()
