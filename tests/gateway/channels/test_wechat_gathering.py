"""The bot gathers what a ticket needs over WeChat (issue #19): signed messages from the simulated
platform through the whole gateway and the real Rasa NLU; the questions come back as passive replies
in the 回复1… style, and no phone is asked (the openid is the way back)."""

from __future__ import annotations

import functools

import pytest
from sqlalchemy import select

from gateway.infra.resources import SESSIONS
from tests.gateway.channels.wechat_gateway import wechat_gateway
from tests.gateway.conftest import eventually
from ticketing.db.models.tickets import Ticket, TicketEvent

pytestmark = pytest.mark.rasa


@pytest.fixture
async def wechat(make_client, aiohttp_server, monkeypatch, rasa_url):
    with_nlu = functools.partial(make_client, RASA_URL=rasa_url, HOTLINE_NLU_ENABLED=True)
    return await wechat_gateway(with_nlu, aiohttp_server, monkeypatch)


async def _say(wechat, openid: str, text: str) -> str:
    """The bot's answer: the passive reply, or (the NLU slower than WeChat waits) the customer-service
    message sent after it."""
    client, platform, api = wechat.client, wechat.platform, wechat.api
    sent_before = len(api.sent)
    req = platform.sign_request(platform.text(openid, text))
    resp = await client.post(f"/wechat?{req.query}", data=req.body, headers={"Content-Type": "text/xml"})
    assert resp.status == 200
    reply = platform.read_reply(await resp.text())
    if reply is not None:
        return reply["Content"]

    async def sent_later():
        later = [m.content for m in api.sent[sent_before:] if m.touser == openid]
        return later[-1] if later else None

    return await eventually(sent_later, timeout=60)


async def _ticket(client, openid: str) -> Ticket:
    async with client.app[SESSIONS]() as session:
        return (await session.execute(select(Ticket).where(Ticket.citizen_wechat_openid == openid))).scalar_one()


async def test_a_street_light_without_a_place_is_asked_once_and_the_answer_routes_it(wechat):
    client = wechat.client
    question = await _say(wechat, "oGather001", "小区门口的路灯坏了好几天了，晚上黑乎乎的")
    assert "请问事情发生在哪里" in question and "不方便提供请回复0" in question and "手机号" not in question
    assert (await _ticket(client, "oGather001")).status == "gathering"
    done = await _say(wechat, "oGather001", "宝丰县赵庄镇政府门口那条路")
    assert done.startswith("谢谢，信息已补充")
    ticket = await _ticket(client, "oGather001")
    assert (ticket.status, ticket.region) == ("pending_review", "baofeng") and "赵庄镇" in ticket.location_detail


async def test_a_place_named_at_once_gets_the_receipt(wechat):
    client = wechat.client
    reply = await _say(wechat, "oGather002", "卫东区建设路与东环路交叉口的路灯坏了一个月了")
    ticket = await _ticket(client, "oGather002")
    assert ticket.number in reply and "？" not in reply and ticket.status == "pending_review"


async def test_reply_0_skips(wechat):
    client = wechat.client
    await _say(wechat, "oGather003", "马路中间的井盖没了，差点把电动车摔了")
    await _say(wechat, "oGather003", "0")
    ticket = await _ticket(client, "oGather003")
    assert ticket.status == "pending_review" and ticket.gathering_gaps == [{"slot": "location", "reason": "declined"}]
    async with client.app[SESSIONS]() as session:
        flagged = (await session.execute(select(TicketEvent.to_value).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.action == "gaps_flagged"))).scalar_one()
    assert flagged == "事发地点（群众表示不方便提供）"
