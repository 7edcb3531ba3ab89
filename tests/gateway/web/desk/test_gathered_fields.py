"""The unit's desk shows the place and time the bot gathered (issue #19) and what the citizen did not give."""

from __future__ import annotations

from sqlalchemy import select

from gateway.infra.resources import SESSIONS
from ticketing.db.models.tickets import Ticket


async def test_the_desk_ticket_page_shows_the_gathered_fields(desk):
    number = await desk.dispatched("health")
    async with desk.app[SESSIONS]() as session, session.begin():
        ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
        ticket.location_detail, ticket.event_time = "新华区光明路锦绣花园北门", "今天上午"
        ticket.gathering_gaps = [{"slot": "contact_phone", "reason": "declined"}]
    clerk = await desk.agent("wjw1", unit="health")
    html = await (await clerk.get(f"/desk/tickets/{number}")).text()
    assert '<dd id="location-detail">新华区光明路锦绣花园北门</dd>' in html
    assert '<dd id="event-time">今天上午</dd>' in html
    assert '<dd id="gaps">联系电话（群众表示不方便提供）</dd>' in html
