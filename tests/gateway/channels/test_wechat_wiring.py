"""WeChat through the whole gateway: a signed safe-mode message becomes one ticket, retries
make no second one, and an operator reply goes out as a customer-service message."""

import asyncio

import pytest
from sqlalchemy import func, select

from connectors.base import ReplyTarget
from gateway.channels.wiring import CONNECTORS
from gateway.infra.resources import SESSIONS
from tests.gateway.channels.wechat_gateway import wechat_gateway
from tests.gateway.conftest import eventually
from ticketing.db.models.tickets import Entry, Ticket


@pytest.fixture
async def wechat(make_client, aiohttp_server, monkeypatch):
    gateway = await wechat_gateway(make_client, aiohttp_server, monkeypatch)
    return gateway.client, gateway.api, gateway.platform


async def _post(client, platform, xml):
    req = platform.sign_request(xml)
    resp = await client.post(f"/wechat?{req.query}", data=req.body, headers={"Content-Type": "text/xml"})
    assert resp.status == 200
    return platform.read_reply(await resp.text())


async def test_safe_mode_message_becomes_a_ticket_and_the_passive_reply_names_it(wechat):
    client, _api, platform = wechat
    reply = await _post(client, platform, platform.text("oCitizen001", "宝丰县赵庄镇的路灯坏了一个月了"))
    async with client.app[SESSIONS]() as session:
        ticket = (await session.execute(select(Ticket))).scalar_one()
    assert reply is not None and ticket.number in reply["Content"]
    assert ticket.channel == "wechat" and ticket.citizen_wechat_openid == "oCitizen001"


async def test_three_deliveries_of_one_msgid_make_one_entry_and_one_ticket(wechat):
    client, api, platform = wechat
    xml = platform.text("oCitizen002", "小区停水三天了", msg_id="6054768590064713728")
    replies = await asyncio.gather(*(_post(client, platform, xml) for _ in range(3)))
    answered = {r["Content"] for r in replies if r is not None}
    if not answered:
        # No passive reply within the budget (a busy machine): the answer then goes out once,
        # as a customer-service message.
        async def sent_later():
            return [m.content for m in api.sent if m.touser == "oCitizen002"] or None

        answered = set(await eventually(sent_later, timeout=30))
        await asyncio.sleep(0.5)  # a second message, were one sent, has had time to arrive
        assert len([m for m in api.sent if m.touser == "oCitizen002"]) == 1
    assert len(answered) == 1
    async with client.app[SESSIONS]() as session:
        assert (await session.execute(select(func.count(Ticket.id)))).scalar() == 1
        assert (await session.execute(
            select(func.count(Entry.id)).where(Entry.author == "citizen"))).scalar() == 1


async def test_operator_reply_goes_out_as_a_customer_service_message(wechat):
    client, api, _platform = wechat
    result = await client.app[CONNECTORS]["wechat"].send_reply(
        ReplyTarget("wechat", "oCitizen003"), "您反映的问题已转交宝丰县远端坐席办理。")
    assert result.delivered, result.detail
    assert (api.sent[-1].touser, api.sent[-1].content) == ("oCitizen003", "您反映的问题已转交宝丰县远端坐席办理。")


async def test_a_late_answer_refused_by_wechat_is_marked_undelivered_for_the_operator(
        make_client, aiohttp_server, monkeypatch):
    # The reply budget is never enough: the answer is sent later, as a customer-service message.
    gateway = await wechat_gateway(make_client, aiohttp_server, monkeypatch, WECHAT_REPLY_BUDGET="0.001")
    client, api, platform = gateway.client, gateway.api, gateway.platform
    api.fail_next("send", 45015)  # outside the 48-hour window
    assert await _post(client, platform, platform.text("oCitizen004", "郏县长桥镇的自来水发黄")) is None

    async def bot_entry():
        async with client.app[SESSIONS]() as session:
            entry = (await session.execute(select(Entry).where(Entry.author == "bot"))).scalar_one_or_none()
        return entry if entry is not None and entry.delivery_status == "failed" else None

    entry = await eventually(bot_entry, timeout=15)
    assert entry.delivery_detail.startswith("45015") and entry.ticket_id is not None
