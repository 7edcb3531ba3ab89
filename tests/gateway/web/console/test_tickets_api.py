"""The console's JSON API, action by action, on both storage backends."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from urllib.parse import quote

import aiohttp
from sqlalchemy import func, select

from connectors.base import DeliveryResult
from gateway.channels.wiring import CONNECTORS
from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, SESSIONS
from tests.gateway.conftest import eventually
from tests.gateway.web.console.conftest import hours_ago, make_ticket
from ticketing.db.models.accounts import AuditLog
from ticketing.db.models.nlu import TrainingSuggestion
from ticketing.db.models.tickets import Attachment, Dispatch, Entry, Ticket, TicketEvent
from ticketing.tickets.deadlines import deadline_for

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


class FakeConnector:
    """A channel that records what it was asked to send and answers as told."""

    def __init__(self, name: str, result: DeliveryResult | None = None) -> None:
        self.name = name
        self.result = result or DeliveryResult(True, "", "out-1")
        self.sent: list = []
        self.error: Exception | None = None

    async def send_reply(self, target, text):
        self.sent.append((target, text))
        if self.error is not None:
            raise self.error
        return self.result


async def _json(resp):
    return json.loads(await resp.text())


async def _ticket(app, number: str) -> Ticket:
    async with app[SESSIONS]() as session:
        return (await session.execute(select(Ticket).where(Ticket.number == number))).scalar_one()


# --------------------------------------------------------------------------- queue

async def test_queue_puts_newest_urgent_first_then_the_longest_waiting(console):
    client, agent, user = console
    app = client.app
    normal_old = await make_ticket(app, at=hours_ago(5))
    urgent_old = await make_ticket(app, urgent=True, at=hours_ago(4))
    normal_new = await make_ticket(app, at=hours_ago(1))
    urgent_new = await make_ticket(app, urgent=True, at=hours_ago(2))
    answered = await make_ticket(app, at=hours_ago(6))
    op = await agent("li")
    assert (await op.post(f"/api/v1/console/tickets/{answered}/answer")).status == 200

    body = await _json(await op.get("/api/v1/console/tickets"))
    assert [t["number"] for t in body["tickets"]] == [urgent_new, urgent_old, normal_old, normal_new]
    assert body["total"] == 4
    first = body["tickets"][0]
    assert first["phone_masked"] == "138****2345" and "13837512345" not in json.dumps(body)
    # paging across the urgent/normal boundary
    page2 = await _json(await op.get("/api/v1/console/tickets?limit=2&offset=1"))
    assert [t["number"] for t in page2["tickets"]] == [urgent_old, normal_old]
    counts = await _json(await op.get("/api/v1/console/queue/counts"))
    assert counts == {"pending": 4, "urgent": 2, "unclaimed": 4}


async def test_queue_filters(console):
    client, agent, user = console
    app = client.app
    web_t = await make_ticket(app, channel="web", department="transport", region="ruzhou", request_type="consult")
    wx_t = await make_ticket(app, channel="wechat", department="education", region="xinhua", request_type="help")
    op = await agent("li")

    async def numbers(query):
        return [t["number"] for t in (await _json(await op.get("/api/v1/console/tickets?" + query)))["tickets"]]

    assert await numbers("channel=wechat") == [wx_t]
    assert await numbers("department=transport") == [web_t]
    assert await numbers("region=xinhua") == [wx_t]
    assert await numbers("request_type=consult") == [web_t]
    assert await numbers("assignee=none") == [web_t, wx_t]
    assert (await op.get("/api/v1/console/tickets?department=nonsense")).status == 400

    # status: answered tickets leave the default (review) queue and are found under their status
    assert (await op.post(f"/api/v1/console/tickets/{web_t}/answer", {})).status == 200
    assert await numbers("") == [wx_t]
    assert await numbers("status=answered") == [web_t]
    assert set(await numbers("status=all")) == {web_t, wx_t}
    assert (await op.get("/api/v1/console/tickets?status=nonsense")).status == 400


async def test_search_by_number_phone_and_text_across_statuses(console):
    client, agent, user = console
    app = client.app
    a = await make_ticket(app, text="湛河区曙光街小区垃圾三天没人收", phone="13900001111")
    b = await make_ticket(app, text="社保卡怎么补办", phone="13900002222")
    op = await agent("li")
    assert (await op.post(f"/api/v1/console/tickets/{a}/answer")).status == 200  # no longer pending

    async def search(q):
        resp = await op.get("/api/v1/console/tickets?q=" + quote(q, safe=""))
        return [t["number"] for t in (await _json(resp))["tickets"]]

    assert await search(a) == [a]
    assert await search(a.lower()) == [a]
    assert await search("13900002222") == [b]
    assert await search("垃圾") == [a]
    assert await search("补办") == [b]
    assert await search("没有这样的内容") == []
    # text of a later citizen message (not just the title) is searched too
    async with app[SESSIONS]() as session, session.begin():
        t = (await session.execute(select(Ticket).where(Ticket.number == b))).scalar_one()
        session.add(Entry(conversation_id=t.conversation_id, ticket_id=t.id, author="citizen", channel="web",
                          text="补充：我在新华区政务服务中心", public=True, meta={}))
    assert await search("政务服务中心") == [b]


# --------------------------------------------------------------------------- claiming

async def test_two_operators_never_work_the_same_ticket(console):
    client, agent, user = console
    number = await make_ticket(client.app)
    a = await agent("li")
    b = await agent("wang")
    r1, r2 = await asyncio.gather(a.post(f"/api/v1/console/tickets/{number}/claim"),
                                  b.post(f"/api/v1/console/tickets/{number}/claim"))
    assert sorted([r1.status, r2.status]) == [200, 409]
    winner, loser = (a, b) if r1.status == 200 else (b, a)
    loser_resp = r2 if r1.status == 200 else r1
    assert (await _json(loser_resp))["error"]["code"] == "already_claimed"
    winner_name = "li" if winner is a else "wang"
    assert (await _ticket(client.app, number)).assignee == winner_name
    # the loser cannot act on it either
    for path, body in (("classification", {}), ("reply", {"text": "你好"}), ("answer", {})):
        resp = await loser.post(f"/api/v1/console/tickets/{number}/{path}", body)
        assert resp.status == 409, path
    # claiming again is harmless for the winner
    assert (await winner.post(f"/api/v1/console/tickets/{number}/claim")).status == 200
    async with client.app[SESSIONS]() as session:
        claims = (await session.execute(select(func.count()).select_from(TicketEvent)
                                        .where(TicketEvent.action == "claim"))).scalar_one()
    assert claims == 1


async def test_acting_on_a_free_ticket_claims_it(console):
    client, agent, user = console
    number = await make_ticket(client.app)
    op = await agent("li")
    resp = await op.post(f"/api/v1/console/tickets/{number}/classification", {})
    assert resp.status == 200
    t = (await _json(resp))["ticket"]
    assert t["assignee"] == "li" and t["permissions"]["mine"] is True


async def test_release_and_supervisor_reassign_with_audit(console):
    client, agent, user = console
    number = await make_ticket(client.app)
    op = await agent("li")
    other = await agent("wang")
    sup = await agent("boss", role="supervisor")
    await op.post(f"/api/v1/console/tickets/{number}/claim")
    assert (await other.post(f"/api/v1/console/tickets/{number}/release")).status == 403
    assert (await op.post(f"/api/v1/console/tickets/{number}/assign", {"username": "wang"})).status == 403
    resp = await sup.post(f"/api/v1/console/tickets/{number}/assign", {"username": "wang"})
    assert resp.status == 200 and (await _json(resp))["ticket"]["assignee"] == "wang"
    assert (await sup.post(f"/api/v1/console/tickets/{number}/assign", {"username": "ghost"})).status == 400
    assert (await other.post(f"/api/v1/console/tickets/{number}/release")).status == 200
    assert (await _ticket(client.app, number)).assignee is None
    async with client.app[SESSIONS]() as session:
        audit = (await session.execute(select(AuditLog).where(AuditLog.action == "reassign"))).scalars().all()
    assert [(a.actor, a.detail["from"], a.detail["to"]) for a in audit] == [("boss", "li", "wang")]


async def test_supervisor_stepping_in_is_audited(console):
    client, agent, user = console
    number = await make_ticket(client.app)
    op = await agent("li")
    sup = await agent("boss", role="supervisor")
    await op.post(f"/api/v1/console/tickets/{number}/claim")
    assert (await sup.post(f"/api/v1/console/tickets/{number}/notes", {"text": "班长提示：注意时限"})).status == 200
    assert (await sup.post(f"/api/v1/console/tickets/{number}/classification", {"urgent": True})).status == 200
    async with client.app[SESSIONS]() as session:
        rows = (await session.execute(select(AuditLog).where(AuditLog.action == "override"))).scalars().all()
    assert [(r.actor, r.target, r.detail["assignee"]) for r in rows] == [("boss", number, "li")]


# --------------------------------------------------------------------------- classification

async def test_confirm_and_correct_record_who_changed_what_and_suggest_training(console):
    client, agent, user = console
    app = client.app
    confirmed = await make_ticket(app)
    corrected = await make_ticket(app, text="高新区某小区物业乱收费", department="urban_management",
                                  region="gaoxin", request_type="complaint")
    op = await agent("li")

    resp = await op.post(f"/api/v1/console/tickets/{confirmed}/classification", {})
    t = (await _json(resp))["ticket"]
    assert t["classification"] == "confirmed" and t["department"] == "urban_management"

    resp = await op.post(f"/api/v1/console/tickets/{corrected}/classification",
                         {"department": "housing_construction", "request_type": "consult"})
    t = (await _json(resp))["ticket"]
    assert t["department"] == "housing_construction" and t["classification"] == "confirmed"
    assert t["prediction"]["department"] == "urban_management"  # the bot's value stays beside it
    assert [a["code"] for a in t["prediction"]["alternatives"]] == ["urban_management", "housing_construction",
                                                                     "transport"]
    events = [(e["actor"], e["field"], e["from_value"], e["to_value"])
              for e in t["events"] if e["action"] == "classify"]
    assert ("li", "department", "urban_management", "housing_construction") in events
    assert ("li", "request_type", "complaint", "consult") in events
    # a new request type moves the deadline (consult: 2 working days from arrival)
    ticket = await _ticket(app, corrected)
    assert ticket.deadline == deadline_for(app[DIRECTORY], "consult", ticket.created_at)

    async with app[SESSIONS]() as session:
        rows = (await session.execute(select(TrainingSuggestion).order_by(TrainingSuggestion.field))).scalars().all()
    assert [(s.field, s.predicted, s.chosen, s.operator, s.text) for s in rows] == [
        ("department", "urban_management", "housing_construction", "li", "高新区某小区物业乱收费"),
        ("request_type", "complaint", "consult", "li", "高新区某小区物业乱收费"),
    ]
    assert rows[0].confidence == 0.81 and rows[0].model_version == "nlu-test-1"

    # back to the bot's department: the bot was right, that suggestion goes away
    await op.post(f"/api/v1/console/tickets/{corrected}/classification", {"department": "urban_management"})
    async with app[SESSIONS]() as session:
        fields = (await session.execute(select(TrainingSuggestion.field))).scalars().all()
    assert fields == ["request_type"]

    admin = await agent("root", role="admin")
    listed = await _json(await admin.get("/api/v1/console/training-suggestions"))
    assert [s["chosen"] for s in listed["training_suggestions"]] == ["consult"]
    sid = listed["training_suggestions"][0]["id"]
    assert (await admin.post(f"/api/v1/console/training-suggestions/{sid}", {"status": "accepted"})).status == 200
    assert (await _json(await admin.get("/api/v1/console/training-suggestions")))["training_suggestions"] == []


async def test_invalid_codes_are_refused(console):
    client, agent, user = console
    number = await make_ticket(client.app)
    op = await agent("li")
    resp = await op.post(f"/api/v1/console/tickets/{number}/classification", {"department": "ministry_of_magic"})
    assert resp.status == 400 and (await _json(resp))["error"]["code"] == "invalid_department"
    resp = await op.post(f"/api/v1/console/tickets/{number}/classification", {"status": "closed"})
    assert resp.status == 400


# --------------------------------------------------------------------------- replies

async def test_web_reply_reaches_the_citizen_chat_live_and_in_history(console):
    client, agent, user = console
    app = client.app
    sid = "s" + uuid.uuid4().hex
    number = await make_ticket(app, channel="web", sender=sid)
    op = await agent("li")
    events = []

    async def listen():
        async for event in app[REPLIES].subscribe(app[REPLIES].session_topic(sid), heartbeat=0.2):
            if event is not None:
                events.append(event)
            if len(events) >= 2:
                return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.2)
    assert (await op.post(f"/api/v1/console/tickets/{number}/claim")).status == 200
    resp = await op.post(f"/api/v1/console/tickets/{number}/reply", {"text": "您好，路灯问题已转城管部门处理。"})
    body = await _json(resp)
    assert body["delivery"]["status"] == "sent"
    await asyncio.wait_for(listener, 5)
    assert events[0] == {"type": "operator_joined", "operator": "li坐席", "ticket_no": number}
    assert events[1]["type"] == "message" and events[1]["author"] == "operator"
    assert events[1]["author_name"] == "li坐席" and events[1]["ticket_no"] == number
    history = await _json(await op.get(f"/api/v1/web/sessions/{sid}/messages"))
    last = history["messages"][-1]
    assert last["author"] == "operator" and last["text"] == "您好，路灯问题已转城管部门处理。"
    assert last["author_name"] == "li坐席"


async def test_wechat_reply_sent_and_outside_the_48_hour_window(console):
    client, agent, user = console
    app = client.app
    fake = FakeConnector("wechat")
    app[CONNECTORS]["wechat"] = fake
    number = await make_ticket(app, channel="wechat", sender="oOPENID1234567890")
    op = await agent("li")
    body = await _json(await op.post(f"/api/v1/console/tickets/{number}/reply", {"text": "已为您登记"}))
    assert body["delivery"]["status"] == "sent"
    target, text = fake.sent[0]
    assert (target.channel, target.sender_id, text) == ("wechat", "oOPENID1234567890", "已为您登记")

    fake.result = DeliveryResult(False, "45015 用户超过48小时未与公众号互动，无法发送客服消息")
    body = await _json(await op.post(f"/api/v1/console/tickets/{number}/reply", {"text": "请补充地址"}))
    assert body["delivery"]["status"] == "failed" and "45015" in body["delivery"]["detail"]
    view = body["ticket"]
    failed = [e for e in view["entries"] if e["author"] == "operator"][-1]
    assert failed["delivery_status"] == "failed" and "48" in failed["delivery_detail"]

    # the operator retries once the citizen wrote again
    fake.result = DeliveryResult(True, "", "out-2")
    retry = await op.post(f"/api/v1/console/tickets/{number}/entries/{failed['id']}/retry")
    assert (await _json(retry))["delivery"]["status"] == "sent"
    again = await op.post(f"/api/v1/console/tickets/{number}/entries/{failed['id']}/retry")
    assert again.status == 409


async def test_email_without_relay_is_pending_and_phone_needs_a_call_back(console):
    client, agent, user = console
    app = client.app
    app[CONNECTORS]["email"] = FakeConnector("email", DeliveryResult(False, "未配置发信服务器"))
    mail = await make_ticket(app, channel="email", sender="citizen@example.cn", message_id="<m1@example.cn>",
                             subject="关于小区停车")
    phone = await make_ticket(app, channel="phone", sender="phone:13837512345")
    op = await agent("li")
    body = await _json(await op.post(f"/api/v1/console/tickets/{mail}/reply", {"text": "您好"}))
    assert body["delivery"]["status"] == "pending" and "待发件箱" in body["delivery"]["detail"]
    target, _ = app[CONNECTORS]["email"].sent[0]
    assert target.thread_key == "<m1@example.cn>" and target.subject == "关于小区停车"
    body = await _json(await op.post(f"/api/v1/console/tickets/{phone}/reply", {"text": "已电话回复"}))
    assert body["delivery"]["status"] == "pending" and "回拨" in body["delivery"]["detail"]


async def test_a_failing_connector_never_loses_the_reply(console):
    client, agent, user = console
    app = client.app
    fake = FakeConnector("wechat")
    fake.error = RuntimeError("boom")
    app[CONNECTORS]["wechat"] = fake
    number = await make_ticket(app, channel="wechat", sender="oOPENID999")
    op = await agent("li")
    body = await _json(await op.post(f"/api/v1/console/tickets/{number}/reply", {"text": "答复内容"}))
    assert body["delivery"]["status"] == "failed" and "RuntimeError" in body["delivery"]["detail"]
    async with app[SESSIONS]() as session:
        entry = (await session.execute(select(Entry).where(Entry.author == "operator"))).scalar_one()
    assert entry.text == "答复内容" and entry.delivery_status == "failed"


async def test_reply_and_mark_answered_in_one_go(console):
    client, agent, user = console
    number = await make_ticket(client.app)
    op = await agent("li")
    body = await _json(await op.post(f"/api/v1/console/tickets/{number}/reply",
                                     {"text": "已答复", "mark_answered": True}))
    assert body["ticket"]["status"] == "answered"
    assert (await op.post(f"/api/v1/console/tickets/{number}/reply", {"text": " "})).status == 400


async def test_notes_are_internal(console):
    client, agent, user = console
    sid = "s" + uuid.uuid4().hex
    number = await make_ticket(client.app, sender=sid)
    op = await agent("li")
    body = await _json(await op.post(f"/api/v1/console/tickets/{number}/notes", {"text": "来电称已多次反映"}))
    note = [e for e in body["ticket"]["entries"] if not e["public"]][0]
    assert note["text"] == "来电称已多次反映" and note["kind"] == "note"
    history = await _json(await op.get(f"/api/v1/web/sessions/{sid}/messages"))
    assert all(m["text"] != "来电称已多次反映" for m in history["messages"])


# --------------------------------------------------------------------------- lifecycle

async def test_merge_a_duplicate(console):
    client, agent, user = console
    app = client.app
    first = await make_ticket(app, text="建设路路灯不亮")
    dup = await make_ticket(app, text="建设路路灯还是不亮", urgent=True)
    op = await agent("li")
    assert (await op.post(f"/api/v1/console/tickets/{dup}/merge", {"into": dup})).status == 400
    body = await _json(await op.post(f"/api/v1/console/tickets/{dup}/merge", {"into": first}))
    assert body["ticket"]["status"] == "merged"
    target = await _json(await op.get(f"/api/v1/console/tickets/{first}"))
    assert target["ticket"]["urgent"] is True  # the duplicate's urgency carries over
    assert any(dup in e["text"] for e in target["ticket"]["entries"] if e["author"] == "system")
    view = await _json(await op.get(f"/api/v1/console/tickets/{dup}"))
    assert view["ticket"]["merged_into"] == first
    assert (await op.post(f"/api/v1/console/tickets/{dup}/merge", {"into": first})).status == 409
    other = await make_ticket(app)
    assert (await op.post(f"/api/v1/console/tickets/{other}/merge", {"into": dup})).status == 409


async def test_answer_close_reopen_and_illegal_transitions(console):
    client, agent, user = console
    number = await make_ticket(client.app)
    op = await agent("li")
    other = await agent("wang")
    assert (await _json(await op.post(f"/api/v1/console/tickets/{number}/answer")))["ticket"]["status"] == "answered"
    again = await op.post(f"/api/v1/console/tickets/{number}/answer")
    assert again.status == 409 and (await _json(again))["error"]["code"] == "illegal_transition"
    assert (await _json(await op.post(f"/api/v1/console/tickets/{number}/close")))["ticket"]["status"] == "closed"
    # a colleague takes a call about it and reopens: back to the shared queue
    body = await _json(await other.post(f"/api/v1/console/tickets/{number}/reopen", {"reason": "群众来电称未解决"}))
    assert body["ticket"]["status"] == "pending_review" and body["ticket"]["assignee"] is None
    queue = await _json(await op.get("/api/v1/console/tickets"))
    assert [t["number"] for t in queue["tickets"]] == [number]


async def test_dispatch_with_a_deadline_from_the_request_type(console):
    client, agent, user = console
    app = client.app
    number = await make_ticket(app, request_type="help")
    county = await make_ticket(app, request_type="complaint", region="ruzhou")
    untyped = await make_ticket(app, predicted=False)
    op = await agent("li")
    bad = await op.post(f"/api/v1/console/tickets/{untyped}/dispatch",
                        {"target_kind": "department", "target": "health"})
    assert bad.status == 400 and (await _json(bad))["error"]["code"] == "request_type_required"
    bad = await op.post(f"/api/v1/console/tickets/{number}/dispatch", {"target_kind": "region", "target": "xinhua"})
    assert bad.status == 400  # a district is not a remote seat

    body = await _json(await op.post(f"/api/v1/console/tickets/{number}/dispatch",
                                     {"target_kind": "department", "target": "housing_construction",
                                      "note": "请核实后答复"}))
    t = body["ticket"]
    assert t["status"] == "dispatched" and t["department"] == "housing_construction"
    assert t["dispatch"]["target"] == "housing_construction"
    async with app[SESSIONS]() as session:
        row = (await session.execute(select(Dispatch))).scalar_one()
        ticket = await session.get(Ticket, row.ticket_id)
    expected = deadline_for(app[DIRECTORY], "help", row.at)
    assert row.deadline == expected == ticket.deadline
    assert any(e["text"] == "交办说明：请核实后答复" for e in t["entries"])

    body = await _json(await op.post(f"/api/v1/console/tickets/{county}/dispatch",
                                     {"target_kind": "region", "target": "ruzhou"}))
    assert body["ticket"]["status"] == "dispatched" and body["dispatch"]["target"] == "ruzhou"
    assert (await op.post(f"/api/v1/console/tickets/{county}/dispatch",
                          {"target_kind": "region", "target": "ruzhou"})).status == 409


# --------------------------------------------------------------------------- contact details

async def test_phone_is_masked_and_every_reveal_is_audited(console):
    client, agent, user = console
    number = await make_ticket(client.app, phone="13837512345", email="zhang@example.cn")
    op = await agent("li")
    other = await agent("wang")
    sup = await agent("boss", role="supervisor")
    view = await _json(await op.get(f"/api/v1/console/tickets/{number}"))
    assert view["ticket"]["contact"]["phone"] == "138****2345"
    assert "13837512345" not in json.dumps(view) and "zhang@" not in json.dumps(view)
    assert (await op.post(f"/api/v1/console/tickets/{number}/reveal")).status == 403  # not claimed yet
    await op.post(f"/api/v1/console/tickets/{number}/claim")
    revealed = await _json(await op.post(f"/api/v1/console/tickets/{number}/reveal"))
    assert revealed["contact"]["phone"] == "13837512345" and revealed["contact"]["email"] == "zhang@example.cn"
    assert (await other.post(f"/api/v1/console/tickets/{number}/reveal")).status == 403
    assert (await sup.post(f"/api/v1/console/tickets/{number}/reveal")).status == 200
    async with client.app[SESSIONS]() as session:
        rows = (await session.execute(select(AuditLog).where(AuditLog.action == "reveal_contact")
                                      .order_by(AuditLog.id))).scalars().all()
    assert [(r.actor, r.target) for r in rows] == [("li", number), ("boss", number)]
    assert rows[0].detail["fields"] == ["phone", "email"] and rows[0].ip
    log = await _json(await sup.get("/api/v1/console/audit?action=reveal_contact"))
    assert len(log["audit"]) == 2


# --------------------------------------------------------------------------- manual intake

async def test_manual_intake_of_a_phone_call(console):
    client, agent, user = console
    app = client.app
    op = await agent("li")
    resp = await op.post("/api/v1/console/tickets", {
        "channel": "phone", "text": "鲁山县某村自来水停了两天", "name": "刘女士", "phone": "139 1234 5678",
        "department": "utilities", "region": "lushan", "request_type": "help",
        "prediction": {"department": "urban_management", "region": "lushan", "request_type": "help",
                       "department_alternatives": [{"code": "urban_management", "confidence": 0.6}],
                       # What the parse gave, posted back by the page: only known types with a confidence stay.
                       "request_type_alternatives": [{"code": "help", "confidence": 0.52},
                                                     {"code": "<script>", "confidence": 0.3},
                                                     {"code": "complaint", "confidence": 7},
                                                     {"code": "consult", "confidence": 0.2}, "junk"],
                       "intent": {"name": "dept_urban_management", "confidence": 0.6}, "model": "m1"},
    })
    assert resp.status == 201, await resp.text()
    number = (await _json(resp))["ticket"]["number"]
    t = (await _json(await op.get(f"/api/v1/console/tickets/{number}")))["ticket"]
    assert t["channel"] == "phone" and t["assignee"] == "li" and t["classification"] == "confirmed"
    assert t["entries"][0]["text"] == "鲁山县某村自来水停了两天" and t["contact"]["phone"] == "139****5678"
    assert t["prediction"]["department"] == "urban_management"
    assert (t["prediction"]["request_type_confidence"], t["prediction"]["request_type_unsure"]) == (0.52, True)
    assert [(a["code"], a["label"]) for a in t["prediction"]["request_type_alternatives"]] == [("consult", "咨询")]
    ticket = await _ticket(app, number)
    assert ticket.citizen_phone == "13912345678"
    assert ticket.deadline == deadline_for(app[DIRECTORY], "help", ticket.created_at)
    async with app[SESSIONS]() as session:
        suggestion = (await session.execute(select(TrainingSuggestion))).scalar_one()
    assert (suggestion.predicted, suggestion.chosen) == ("urban_management", "utilities")

    bad = await op.post("/api/v1/console/tickets", {"channel": "web", "text": "x"})
    assert bad.status == 400 and (await _json(bad))["error"]["code"] == "invalid_channel"
    bad = await op.post("/api/v1/console/tickets", {"channel": "phone", "text": "有事", "phone": "12345"})
    assert bad.status == 400 and (await _json(bad))["error"]["code"] == "invalid_phone"


async def test_manual_intake_of_a_letter_with_a_scan(console):
    client, agent, user = console
    app = client.app
    op = await agent("li")
    form = aiohttp.FormData()
    form.add_field("channel", "letter")
    form.add_field("text", "来信反映：叶县某路段积水严重")
    form.add_field("name", "王某")
    form.add_field("request_type", "report")
    form.add_field("attachments", PNG, filename="letter-page1.png", content_type="image/png")
    resp = await op.request("POST", "/api/v1/console/tickets", data=form)
    assert resp.status == 201, await resp.text()
    number = (await _json(resp))["ticket"]["number"]
    t = (await _json(await op.get(f"/api/v1/console/tickets/{number}")))["ticket"]
    att = t["entries"][0]["attachments"][0]
    assert att["filename"] == "letter-page1.png" and att["kind"] == "scan"
    got = await op.http.get(op.base + att["url"])
    assert got.status == 200 and await got.read() == PNG
    assert got.headers["Content-Type"] == "image/png"

    bad = aiohttp.FormData()
    bad.add_field("channel", "letter")
    bad.add_field("text", "x")
    bad.add_field("attachments", b"MZ\x90\x00", filename="virus.png", content_type="image/png")
    resp = await op.request("POST", "/api/v1/console/tickets", data=bad)
    assert resp.status == 400
    async with app[SESSIONS]() as session:
        assert (await session.execute(select(func.count()).select_from(Attachment))).scalar_one() == 1


# --------------------------------------------------------------------------- canned replies

async def test_canned_replies_own_shared_and_faq(console):
    client, agent, user = console
    op = await agent("li")
    sup = await agent("boss", role="supervisor")
    own = await op.post("/api/v1/console/canned-replies", {"title": "问候", "text": "您好，感谢来信。"})
    assert own.status == 201
    refused = await op.post("/api/v1/console/canned-replies", {"title": "公", "text": "x", "shared": True})
    assert refused.status == 403
    shared = await sup.post("/api/v1/console/canned-replies",
                            {"title": "结束语", "text": "祝您生活愉快。", "shared": True})
    assert shared.status == 201
    mine = await _json(await op.get("/api/v1/console/canned-replies"))
    kinds = {(c["title"], c["kind"]) for c in mine["canned_replies"]}
    assert ("问候", "own") in kinds and ("结束语", "shared") in kinds
    faq = {c["id"]: c["title"] for c in mine["canned_replies"] if c["kind"] == "faq"}  # the bot's answers
    assert faq["faq:faq/channels"] == "反映诉求的渠道"
    assert all(not re.search(r"[a-z_/]", title) for title in faq.values())  # never the response key
    theirs = await _json(await sup.get("/api/v1/console/canned-replies"))
    assert ("问候", "own") not in {(c["title"], c["kind"]) for c in theirs["canned_replies"]}
    own_id = next(c["id"] for c in mine["canned_replies"] if c["title"] == "问候")
    assert (await sup.request("DELETE", f"/api/v1/console/canned-replies/{own_id}")).status == 404
    assert (await op.request("DELETE", f"/api/v1/console/canned-replies/{own_id}")).status == 200


# --------------------------------------------------------------------------- supervisors

async def test_supervisor_figures_per_operator(console):
    client, agent, user = console
    app = client.app
    li = await agent("li")
    wang = await agent("wang")
    sup = await agent("boss", role="supervisor")
    t1 = await make_ticket(app, at=hours_ago(0.5))
    t2 = await make_ticket(app, at=hours_ago(0.2))
    # li confirms t1, replies, answers it; it is reopened later
    await li.post(f"/api/v1/console/tickets/{t1}/classification", {})
    await li.post(f"/api/v1/console/tickets/{t1}/reply", {"text": "已处理"})
    await li.post(f"/api/v1/console/tickets/{t1}/answer")
    await wang.post(f"/api/v1/console/tickets/{t1}/reopen", {"reason": "未解决"})
    # wang takes it back up and corrects li's department
    await wang.post(f"/api/v1/console/tickets/{t1}/classification", {"department": "transport"})
    # li corrects the bot on t2 (not "corrected by others" for anybody)
    await li.post(f"/api/v1/console/tickets/{t2}/classification", {"region": "xinhua"})
    await li.post(f"/api/v1/console/tickets/{t2}/dispatch", {"target_kind": "department", "target": "transport"})

    stats = await _json(await sup.get("/api/v1/console/stats?days=7"))
    by = {r["username"]: r for r in stats["operators"]}
    assert by["li"]["handled"] == 2 and by["li"]["replies"] == 1 and by["li"]["reopened"] == 1
    assert 1700 < by["li"]["median_first_reply_seconds"] < 1900  # t1 arrived half an hour before
    assert by["li"]["corrected_by_others"] == 1 and by["wang"]["corrected_by_others"] == 0
    assert by["wang"]["corrections_made"] == 1
    assert by["wang"]["open_assigned"] == 1
    page = await sup.get("/console/supervisor?days=7")
    html = await page.text()
    assert page.status == 200 and "li坐席" in html and "被他人更正" in html


async def test_round_robin_auto_assignment_of_new_hand_offs(console):
    client, agent, user = console
    app = client.app
    li = await agent("li")
    wang = await agent("wang")
    sup = await agent("boss", role="supervisor")
    waiting = await make_ticket(app)
    assert (await li.post("/api/v1/console/me/shift", {"on_shift": True})).status == 200
    assert (await wang.post("/api/v1/console/me/shift", {"on_shift": True})).status == 200
    resp = await _json(await sup.post("/api/v1/console/auto-assign", {"enabled": True}))
    assert resp == {"enabled": True, "assigned_now": 1}
    first = (await _ticket(app, waiting)).assignee
    assert first in ("li", "wang")

    sid = "s" + uuid.uuid4().hex
    assert (await li.post("/api/v1/web/messages", {"session_id": sid, "text": "新华区某路口红绿灯坏了"})).status == 202

    async def assigned():
        async with app[SESSIONS]() as session:
            t = (await session.execute(select(Ticket).where(Ticket.number != waiting))).scalar_one_or_none()
            return t.assignee if t is not None and t.assignee else None

    second = await eventually(assigned)
    assert {first, second} == {"li", "wang"}  # the other operator's turn
    assert (await _json(await sup.get("/api/v1/console/auto-assign")))["enabled"] is True


async def test_live_console_events_over_sse(console):
    client, agent, user = console
    op = await agent("li")
    resp = await op.http.get(op.base + "/console/events", timeout=aiohttp.ClientTimeout(total=20))
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    sid = "s" + uuid.uuid4().hex
    assert (await op.post("/api/v1/web/messages", {"session_id": sid, "text": "卫东区路面塌陷了"})).status == 202
    data = None
    while data is None:
        line = (await asyncio.wait_for(resp.content.readline(), 15)).decode()
        if line.startswith("data: "):
            event = json.loads(line[6:])
            if event.get("type") == "ticket":
                data = event
    resp.close()
    assert data["channel"] == "web" and data["ticket_no"].startswith("PDS")
