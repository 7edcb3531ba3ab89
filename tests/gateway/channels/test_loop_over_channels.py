"""The handling loop for citizens of the other channels: a unit's approved answer reaches a WeChat
citizen as a customer-service message, a mail citizen as a mail reply, and the national platform as a
write-back, each with what the citizen needs to evaluate it; the evaluation closes the ticket or sends
it back to the unit, and the national platform hears the evaluation."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import select

from connectors.email import bound_address
from connectors.national_feed.simulator import SIMULATOR, demo_items
from gateway.channels.wiring import CHANNELS
from gateway.infra.resources import SESSIONS
from gateway.web.console import actions
from tests.gateway.channels.test_email_wiring import MAILBOX, _send, _tickets
from tests.gateway.channels.test_national_feed_wiring import _platform
from tests.gateway.channels.test_wechat_wiring import _post
from tests.gateway.channels.wechat_gateway import wechat_gateway
from tests.gateway.conftest import eventually
from tests.gateway.web.console.loop_helpers import answer, body_of, relay_sink, sign
from ticketing.accounts.roles import Actor
from ticketing.db.models.tickets import Ticket

OPERATOR = Actor("li", "李坐席", "operator")
DISPATCHER = Actor("zhao", "赵督办", "dispatcher")
LINK = re.compile(r"/survey/([0-9]+\.[A-Za-z0-9_=-]+)")


async def _through_the_unit(app, number: str, text: str) -> None:
    """交办 to the health commission, 签收, 答复, and the platform's approval (which delivers it)."""
    await actions.classify(app, OPERATOR, number, {"request_type": "complaint"})
    await actions.dispatch(app, DISPATCHER, number, target_kind=None, target="health")
    await sign(app, number)
    await answer(app, number, text)
    await actions.review(app, OPERATOR, number, decision="approve")


async def _evaluate(client, token: str, *, solved: bool, satisfaction: str) -> dict:
    resp = await client.post(f"/api/v1/surveys/{token}", json={"solved": solved, "satisfaction": satisfaction})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _status(app, number: str) -> str:
    async with app[SESSIONS]() as session:
        return (await session.execute(select(Ticket.status).where(Ticket.number == number))).scalar_one()


async def test_a_wechat_citizen_gets_the_answer_and_the_link_as_a_customer_service_message(
        make_client, aiohttp_server, monkeypatch):
    gateway = await wechat_gateway(make_client, aiohttp_server, monkeypatch)
    client, api, platform = gateway.client, gateway.api, gateway.platform
    await _post(client, platform, platform.text("oCitizenLoop1", "卫东区某药店卖过期药品"))

    async def ticket_number() -> str | None:
        # The callback answers within WeChat's reply budget, not necessarily after the worker's commit
        # (on a busy machine the receipt goes out later as a customer-service message).
        async with client.app[SESSIONS]() as session:
            return (await session.execute(select(Ticket.number))).scalar_one_or_none()

    number = await eventually(ticket_number)

    await _through_the_unit(client.app, number, "经查，该药店确有过期药品，已立案处罚并下架全部过期药品。")
    sent = [m for m in api.sent if m.touser == "oCitizenLoop1" and "一事一评" in m.content]
    assert len(sent) == 1 and "【市卫生健康委员会答复】" in sent[0].content and "已立案处罚" in sent[0].content
    token = LINK.search(sent[0].content).group(1)

    body = await _evaluate(client, token, solved=True, satisfaction="satisfied")
    assert body["outcome"] == "closed" and await _status(client.app, number) == "closed"


async def test_a_mail_citizen_gets_a_threaded_reply_with_the_link_and_an_unsolved_case_returns_to_the_unit(
        make_client, monkeypatch):
    async with relay_sink(monkeypatch) as relay:
        monkeypatch.setenv("HOTLINE_SMTP_PORT", "0")
        client = await make_client(services={"smtp"})
        host, port = bound_address(client.app[CHANNELS]["email"].server)
        await asyncio.to_thread(_send, host, port, "反映湛河区某医院乱收费", "尊敬的市长：某医院检查费重复收取。",
                                sender="zhang@example.cn", to=MAILBOX)
        tickets = await eventually(lambda: _tickets(client.app))
        number = tickets[0].number

        await _through_the_unit(client.app, number, "经核查，该医院确有重复收费，已责令退还并通报批评。")

        async def answered():
            return [m for m in relay.mails if "zhang@example.cn" in m.rcpt_tos
                    and "一事一评" in body_of(m.message)]

        mails = await eventually(answered, timeout=10)
        message = mails[0].message
        assert number in message["Subject"] and "已责令退还" in body_of(message)
        token = LINK.search(body_of(message)).group(1)

        body = await _evaluate(client, token, solved=False, satisfaction="unsatisfied")
        assert body["outcome"] == "redo" and await _status(client.app, number) == "dispatched"


async def test_a_national_platform_item_gets_the_answer_and_the_evaluation_written_back(
        make_client, aiohttp_server, monkeypatch):
    item = demo_items(1)[0]
    item_id = str(item["id"])
    sim = await _platform(aiohttp_server, monkeypatch, [item], poll_seconds="1")
    client = await make_client(services={"feed"})
    app = client.app

    async def the_ticket():
        async with app[SESSIONS]() as session:
            return (await session.execute(select(Ticket).where(Ticket.channel == "national_platform"))).scalar()

    number = (await eventually(the_ticket, timeout=20)).number
    await _through_the_unit(app, number, "经核查，已协调属地卫生监督所现场处理，问题已整改。")
    state = sim.app[SIMULATOR]
    writes = state.write_backs_of(item_id)
    assert [w["status"] for w in writes] == ["answered"] and "问题已整改" in writes[0]["reply"]

    # The platform's citizen evaluates through the link in the written-back answer.
    token = LINK.search(writes[0]["reply"]).group(1)
    await _evaluate(client, token, solved=True, satisfaction="basic")

    async def evaluated():
        latest = state.write_backs_of(item_id)[-1]
        return latest if latest.get("evaluation") else None

    latest = await eventually(evaluated, timeout=10)
    assert latest["status"] == "closed"
    assert latest["evaluation"]["solved"] is True and latest["evaluation"]["satisfaction"] == "basic"
