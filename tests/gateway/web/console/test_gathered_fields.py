"""What the bot gathered (issue #19) on the operator's ticket page: the place, the time, the gaps, and the
clarifying question with its answer on the timeline."""

from __future__ import annotations

from sqlalchemy import select

from gateway.infra.resources import SESSIONS
from tests.gateway.web.console.conftest import make_ticket
from ticketing.db.models.tickets import Ticket
from ticketing.tickets import store


async def test_the_ticket_page_shows_the_gathered_place_time_and_gaps(console):
    client, agent, _user = console
    number = await make_ticket(client.app, text="路灯坏了")
    async with client.app[SESSIONS]() as session, session.begin():
        ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
        ticket.region, ticket.location_detail, ticket.event_time = "jiaxian", "城关镇光明路口", "昨晚"
        ticket.gathering_gaps = [{"slot": "contact_phone", "reason": "unanswered"}]
        await store.record_event(session, ticket, actor="citizen", action="clarified", field="department",
                                 from_value="urban_management",
                                 to_value="housing_construction",
                                 detail={"question": "您反映的是市城市管理局的事项，还是市住房和城乡建设局的事项？",
                                         "answer": "市住房和城乡建设局"})
    op = await agent("li")
    html = await (await op.get(f"/console/tickets/{number}")).text()
    assert '<span id="ticket-location">郏县城关镇光明路口</span>' in html
    assert '<span id="ticket-event-time">昨晚</span>' in html
    assert "信息缺项：联系电话（群众未在时限内答复）" in html
    assert "群众确认承办部门" in html and "市住房和城乡建设局" in html
    api = await (await op.get(f"/api/v1/console/tickets/{number}")).json()
    ticket_json = api.get("ticket", api)
    assert (ticket_json["location_detail"], ticket_json["event_time"]) == ("城关镇光明路口", "昨晚")
    assert ticket_json["gaps"] == ["联系电话（群众未在时限内答复）"]
    queue = await (await op.get("/console?q=" + number)).text()
    assert 'title="信息缺项：联系电话（群众未在时限内答复）">缺</span>' in queue


async def test_a_ticket_the_bot_is_still_gathering_for_is_not_in_the_queue_but_is_found(console):
    client, agent, _user = console
    number = await make_ticket(client.app, text="路灯坏了")
    async with client.app[SESSIONS]() as session, session.begin():
        ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
        ticket.status = "gathering"
    op = await agent("li")
    assert number not in await (await op.get("/console")).text()
    found = await (await op.get("/console?q=" + number)).text()
    assert number in found and "智能客服补充信息中" in found
