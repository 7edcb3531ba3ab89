"""The platform's side of the handling loop through real HTTP: 交办 with assisting units and a
reasoned deadline, the units told by mail (an SMTP sink as the relay) and on their desk topic,
审核 delivering the answer and the 一事一评 link to the citizen's web chat, 退回, 延期, 时限, 督办."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from gateway.infra.resources import SESSIONS
from gateway.web.console import models
from tests.gateway.web.console.conftest import make_ticket
from tests.gateway.web.console.loop_helpers import (
    answer,
    body_of,
    desk_listener,
    events_of,
    local_day,
    mails_to,
    progress,
    relay_sink,
    request_extension,
    sign,
)
from ticketing.db.models.tickets import Dispatch, Ticket
from ticketing.db.models.workflow import ExtensionRequest, SupervisionNote, Survey, UnitReport
from ticketing.tickets.deadlines import end_of_local_day

API = "/api/v1/console/tickets/"
WJW, WJW_LEADER = "wjw@units.pds12345.gov.cn", "wjw-leader@units.pds12345.gov.cn"


@pytest.fixture
async def sink(monkeypatch):
    async with relay_sink(monkeypatch) as relay:
        yield relay


@pytest.fixture
def console_settings(sink):
    return {}  # the relay is in the environment before the gateway starts


async def _json(resp):
    return await resp.json()


async def _dispatched(client, agent, sender: str | None = None, **body) -> tuple[str, object]:
    """A web complaint dispatched to the health commission by a dispatcher."""
    number = await make_ticket(client.app, sender=sender, department="health", text="市第一人民医院挂号排队两小时")
    desk = await agent("disp", role="dispatcher")
    resp = await desk.post(API + number + "/dispatch", {"target": "health", **body})
    assert resp.status == 200, await resp.text()
    return number, desk


async def test_dispatch_with_assists_and_a_reasoned_deadline_tells_every_unit(console, sink):
    client, agent, _ = console
    app = client.app
    number = await make_ticket(app, department="health", text="卫东区某诊所医疗垃圾随意堆放，电话13837512345")
    op = await agent("li")
    async with desk_listener(app, "health") as lead_events, desk_listener(app, "ruzhou") as assist_events:
        resp = await op.post(API + number + "/dispatch", {
            "target_kind": "department", "target": "health", "assists": ["urban_management", "ruzhou"],
            "deadline": local_day(10).isoformat(), "deadline_reason": "涉及多部门联合执法", "note": "请联合核查"})
        assert resp.status == 200, await resp.text()
        await asyncio.sleep(0.2)
    t = (await _json(resp))["ticket"]
    assert t["status"] == "dispatched" and t["unit"] == "health" and t["unit_label"] == "市卫生健康委员会"
    rounds = t["loop"]["rounds"]
    assert [(r["unit"], r["role"], r["state"]) for r in rounds] == [
        ("health", "lead", "pending_sign"), ("urban_management", "assist", "pending_sign"),
        ("ruzhou", "assist", "pending_sign")]
    async with app[SESSIONS]() as session:
        ticket = (await session.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
    assert ticket.deadline == end_of_local_day(local_day(10))
    deadline_event = [e for e in t["events"] if e["field"] == "deadline"]
    assert deadline_event and deadline_event[-1]["action"] == "update"
    # live: each unit's open desks hear of it
    assert lead_events == [{"type": "dispatched", "ticket_no": number, "role": "lead"}]
    assert assist_events == [{"type": "dispatched", "ticket_no": number, "role": "assist"}]
    # mail: one to every unit's inbox, through the relay
    mails = await sink.handler.wait_for(3)
    assert sorted(m.rcpt_tos[0] for m in mails) == sorted(
        [WJW, "cgj@units.pds12345.gov.cn", "ruzhou@units.pds12345.gov.cn"])
    lead_mail = mails_to(sink, WJW)[0]
    text = body_of(lead_mail)
    assert number in lead_mail["Subject"] and "主办" in lead_mail["Subject"]
    assert "请于" in text and "前签收" in text and "前办结" in text and f"/desk/tickets/{number}" in text
    assert "13837512345" not in text  # a phone number in the title stays masked outside the platform
    assert "协办" in mails_to(sink, "ruzhou@units.pds12345.gov.cn")[0]["Subject"]
    notified = await events_of(app, number, "unit_notified")
    assert sorted(e.detail["unit"] for e in notified) == ["health", "ruzhou", "urban_management"]
    assert all(e.detail["delivered"] is True for e in notified)
    # the page shows the loop in Chinese
    page = await (await op.get(f"/console/tickets/{number}")).text()
    assert "交办记录" in page and "协办" in page and "汝州市" in page
    assert "通知单位" in page and "市卫生健康委员会（单位邮箱，邮件已发送）" in page


async def test_dispatch_refuses_bad_units_dates_and_missing_reasons(console, sink):
    client, agent, _ = console
    number = await make_ticket(client.app, department="health")
    desk = await agent("disp", role="dispatcher")
    cases = [
        ({"target": "nowhere"}, "invalid_target"),
        ({"target": "health", "assists": ["nowhere"]}, "invalid_target"),
        ({"target": "health", "assists": ["health"]}, "invalid_assist"),
        ({"target": "health", "deadline": local_day(5).isoformat()}, "reason_required"),
        ({"target": "health", "deadline": local_day(-1).isoformat(), "deadline_reason": "急"}, "deadline_in_past"),
        ({"target": "health", "deadline": "2026/13/01", "deadline_reason": "急"}, "invalid_date"),
        ({"target": "health", "assists": "transport"}, "invalid_assist"),
    ]
    for body, code in cases:
        resp = await desk.post(API + number + "/dispatch", body)
        assert resp.status == 400 and (await _json(resp))["error"]["code"] == code, (body, resp.status)
    assert sink.mails == []
    for role in ("callback", "admin"):
        other = await agent(f"x-{role}", role=role)
        assert (await other.post(API + number + "/dispatch", {"target": "health"})).status == 403
    assert (await (await desk.get(API + number)).json())["ticket"]["status"] == "pending_review"


async def test_approval_delivers_the_answer_and_the_survey_link_to_the_web_citizen(console, sink):
    client, agent, _ = console
    app = client.app
    sender = "s" + "b" * 31
    number, desk = await _dispatched(client, agent, sender=sender, assists=["urban_management"])
    await sign(app, number)
    await sign(app, number, "urban_management")
    await progress(app, number, "已电话联系医院核实情况", "health")
    await progress(app, number, "周边停车秩序已整治", "urban_management")
    await answer(app, number)
    view = (await _json(await desk.get(API + number)))["ticket"]
    assert view["status"] == "answer_review" and view["loop"]["pending_answer"]["unit"] == "health"
    assert [r["kind"] for r in view["loop"]["reports"]] == ["progress", "opinion", "answer"]
    page = await (await desk.get(f"/console/tickets/{number}")).text()
    assert "审核单位答复" in page and "周边停车秩序已整治" in page and "审核通过并发送" in page

    edited = "经核查，该医院已增设自助挂号机三台，高峰时段加开窗口，排队时间已明显缩短。"
    resp = await desk.post(API + number + "/review", {"decision": "approve", "text": edited})
    assert resp.status == 200, await resp.text()
    body = await _json(resp)
    models.ReviewResponse.model_validate(body)
    assert body["ticket"]["status"] == "answered" and body["review"]["delivery"]["status"] == "sent"
    msgs = (await _json(await desk.get(f"/api/v1/web/sessions/{sender}/messages")))["messages"]
    delivered = [m for m in msgs if "【市卫生健康委员会答复】" in m["text"]]
    assert len(delivered) == 1 and edited in delivered[0]["text"]
    assert "/survey/" in delivered[0]["text"] and "一事一评" in delivered[0]["text"] and "15天内有效" in delivered[0]["text"]
    async with app[SESSIONS]() as session:
        report = (await session.execute(select(UnitReport).where(UnitReport.kind == "answer"))).scalar_one()
        survey = (await session.execute(select(Survey))).scalar_one()
    assert report.review_state == "accepted" and report.entry_id == delivered[0]["id"] and report.text == edited
    assert survey.report_id == report.id and survey.unit == "health" and survey.responded_at is None
    assert f"/survey/{survey.id}." in delivered[0]["text"]
    labels = {e["action"]: e["action_label"] for e in body["ticket"]["events"]}
    assert labels["answer_edited"] == "审核修改答复" and labels["survey_sent"] == "发送一事一评"
    assert labels["unit_answer"] == "单位提交答复" and labels["forward"] == "交办"
    # accepted once: a second review has nothing to review
    again = await desk.post(API + number + "/review", {"decision": "approve"})
    assert again.status == 409 and (await _json(again))["error"]["code"] == "not_in_review"


async def test_rejection_sends_the_answer_back_to_the_unit(console, sink):
    client, agent, _ = console
    app = client.app
    number, desk = await _dispatched(client, agent)
    await sign(app, number)
    await answer(app, number)
    await sink.handler.wait_for(1)
    no_reason = await desk.post(API + number + "/review", {"decision": "reject"})
    assert no_reason.status == 400 and (await _json(no_reason))["error"]["code"] == "reason_required"
    bad = await desk.post(API + number + "/review", {"decision": "maybe"})
    assert bad.status == 400 and (await _json(bad))["error"]["code"] == "invalid_decision"
    async with desk_listener(app, "health") as events:
        resp = await desk.post(API + number + "/review", {"decision": "reject", "reason": "答复未说明整改时限"})
        assert resp.status == 200
        await asyncio.sleep(0.2)
    t = (await _json(resp))["ticket"]
    assert t["status"] == "handling" and t["loop"]["reports"][-1]["review_state"] == "rejected"
    assert events == [{"type": "answer_rejected", "ticket_no": number}]
    mails = await sink.handler.wait_for(2)
    assert "审核退回" in mails[-1].message["Subject"] and "答复未说明整改时限" in body_of(mails[-1].message)
    callback = await agent("cb", role="callback")
    assert (await callback.post(API + number + "/review", {"decision": "reject", "reason": "x"})).status == 403


async def test_two_approvals_at_once_one_wins(console, sink):
    client, agent, _ = console
    app = client.app
    number, desk = await _dispatched(client, agent)
    await sign(app, number)
    await answer(app, number)
    boss = await agent("boss", role="supervisor")
    first, second = await asyncio.gather(desk.post(API + number + "/review", {"decision": "approve"}),
                                         boss.post(API + number + "/review", {"decision": "approve"}))
    assert sorted([first.status, second.status]) == [200, 409]
    async with app[SESSIONS]() as session:
        assert len((await session.execute(select(Survey))).scalars().all()) == 1


async def test_extension_refused_then_approved(console, sink):
    client, agent, _ = console
    app = client.app
    number, desk = await _dispatched(client, agent)
    await sign(app, number)
    await request_extension(app, number, days=40)
    t = (await _json(await desk.get(API + number)))["ticket"]
    assert t["status_actions"]["extension"] and t["loop"]["pending_extension"]["reason"] == "需协调多个科室现场核查"
    op = await agent("li")
    assert (await op.post(API + number + "/extension", {"approve": True})).status == 403
    no_reason = await desk.post(API + number + "/extension", {"approve": False})
    assert no_reason.status == 400 and (await _json(no_reason))["error"]["code"] == "reason_required"
    assert (await desk.post(API + number + "/extension", {})).status == 400
    async with desk_listener(app, "health") as events:
        assert (await desk.post(API + number + "/extension", {"approve": False, "note": "时限内可以办结"})).status == 200
        await asyncio.sleep(0.2)
    assert events == [{"type": "extension_refused", "ticket_no": number}]
    await request_extension(app, number, days=45)
    resp = await desk.post(API + number + "/extension", {"approve": True})
    assert resp.status == 200
    async with app[SESSIONS]() as session:
        rows = list((await session.execute(select(ExtensionRequest).order_by(ExtensionRequest.id))).scalars())
        lead = (await session.execute(select(Dispatch).where(Dispatch.active.is_(True)))).scalar_one()
        ticket = await session.get(Ticket, lead.ticket_id)
    assert [r.state for r in rows] == ["refused", "approved"] and rows[0].decision_note == "时限内可以办结"
    assert ticket.deadline == lead.deadline == end_of_local_day(local_day(45)) and lead.extended
    subjects = [m.message["Subject"] for m in await sink.handler.wait_for(3)]
    assert any("未同意" in s for s in subjects) and any("已同意" in s for s in subjects)
    assert (await desk.post(API + number + "/extension", {"approve": True})).status == 409


async def test_deadline_edit(console, sink):
    client, agent, _ = console
    number, desk = await _dispatched(client, agent)
    for body, code in [({"date": local_day(60).isoformat()}, "reason_required"),
                       ({"date": local_day(-2).isoformat(), "reason": "x"}, "deadline_in_past"),
                       ({"reason": "x"}, "date_required")]:
        resp = await desk.post(API + number + "/deadline", body)
        assert resp.status == 400 and (await _json(resp))["error"]["code"] == code, body
    op = await agent("li")
    assert (await op.post(API + number + "/deadline", {"date": local_day(60).isoformat(), "reason": "x"})).status == 403
    resp = await desk.post(API + number + "/deadline", {"date": local_day(60).isoformat(), "reason": "群众同意延后"})
    assert resp.status == 200
    t = (await _json(resp))["ticket"]
    assert t["deadline"] == end_of_local_day(local_day(60)).isoformat()
    assert t["loop"]["rounds"][0]["deadline"] == t["deadline"]
    change = [e for e in t["events"] if e["field"] == "deadline"][-1]
    assert change["to_value"] == t["deadline"]


async def test_repeated_supervision_escalates_to_the_units_leader(console, sink):
    client, agent, _ = console
    app = client.app
    number, desk = await _dispatched(client, agent)
    await sink.handler.wait_for(1)
    assert (await desk.post(API + number + "/supervise", {"text": "  "})).status == 400
    async with desk_listener(app, "health") as events:
        first = await desk.post(API + number + "/supervise", {"text": "请尽快签收并办理"})
        assert first.status == 200
        await asyncio.sleep(0.2)
    assert events == [{"type": "supervision", "ticket_no": number, "seq": 1}]
    await sink.handler.wait_for(2)
    assert mails_to(sink, WJW_LEADER) == []
    second = await desk.post(API + number + "/supervise", {"text": "再次督办，请于限期内办结",
                                                           "date": local_day(3).isoformat()})
    assert second.status == 200
    await sink.handler.wait_for(4)
    leader = mails_to(sink, WJW_LEADER)
    assert len(leader) == 1 and "提请领导关注" in leader[0]["Subject"] and "再次督办" in body_of(leader[0])
    async with app[SESSIONS]() as session:
        notes = list((await session.execute(select(SupervisionNote).order_by(SupervisionNote.id))).scalars())
    assert [n.seq for n in notes] == [1, 2] and notes[0].escalated_to is None and notes[1].escalated_to == WJW_LEADER
    t = (await _json(second))["ticket"]
    assert t["deadline"] == end_of_local_day(local_day(3)).isoformat()
    assert [n["acknowledged"] for n in t["loop"]["notes"]] == [False, False]
    leader_notice = [e for e in await events_of(app, number, "unit_notified") if e.detail.get("leader")]
    assert len(leader_notice) == 1 and leader_notice[0].detail["delivered"] is True
    op = await agent("li")
    assert (await op.post(API + number + "/supervise", {"text": "x"})).status == 403


async def test_an_approved_answer_to_a_national_platform_item_is_written_back_once(make_client, aiohttp_server,
                                                                                  monkeypatch, sink):
    from connectors.national_feed.simulator import SIMULATOR, create_simulator_app, demo_items
    from tests.gateway.conftest import eventually
    from tests.gateway.web.console.conftest import PASSWORD, Agent
    from ticketing.accounts import users

    item = demo_items(1)[0]
    sim = await aiohttp_server(create_simulator_app("pds-12345", "simulator-secret-0123456789", items=[item]))
    monkeypatch.setenv("NATIONAL_FEED_URL", str(sim.make_url("")).rstrip("/"))
    monkeypatch.setenv("NATIONAL_FEED_APP_KEY", "pds-12345")
    monkeypatch.setenv("NATIONAL_FEED_APP_SECRET", "simulator-secret-0123456789")
    monkeypatch.setenv("NATIONAL_FEED_POLL_SECONDS", "1")
    client = await make_client(services={"feed"})
    app = client.app

    async def the_ticket():
        async with app[SESSIONS]() as session:
            return (await session.execute(select(Ticket).where(Ticket.channel == "national_platform"))).scalar()

    number = (await eventually(the_ticket, timeout=20)).number
    async with app[SESSIONS]() as session, session.begin():
        await users.create_user(session, "disp", role="dispatcher", password=PASSWORD)
        await users.create_user(session, "li", role="operator", password=PASSWORD)
    op, desk = Agent(client), Agent(client)
    try:
        for who, name in ((op, "li"), (desk, "disp")):
            assert (await who.login(name)).status == 200
        assert (await op.post(API + number + "/classification", {"request_type": "complaint"})).status == 200
        assert (await desk.post(API + number + "/dispatch", {"target": "health"})).status == 200
        await sign(app, number)
        await answer(app, number)
        resp = await desk.post(API + number + "/review", {"decision": "approve"})
        assert resp.status == 200 and (await _json(resp))["review"]["delivery"]["status"] == "sent"
    finally:
        await op.close()
        await desk.close()
    writes = sim.app[SIMULATOR].write_backs_of(str(item["id"]))
    assert [w["status"] for w in writes] == ["answered"]
    assert "【市卫生健康委员会答复】经核查" in writes[0]["reply"] and "/survey/" in writes[0]["reply"]
