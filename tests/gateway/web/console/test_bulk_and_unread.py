"""The queue's bulk actions (认领 / 分派 / 合并 several tickets) and its 未读 marker, over HTTP."""

from __future__ import annotations

import json

from sqlalchemy import select

from gateway.infra.resources import SESSIONS
from tests.gateway.web.console.conftest import hours_ago, make_ticket
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Ticket
from ticketing.tickets import store

BULK = "/api/v1/console/tickets/bulk"


async def _json(resp):
    return json.loads(await resp.text())


async def _tickets(app, *numbers: str) -> dict[str, Ticket]:
    async with app[SESSIONS]() as session:
        rows = (await session.execute(select(Ticket).where(Ticket.number.in_(numbers)))).scalars()
        return {t.number: t for t in rows}


async def test_bulk_claim_is_per_ticket_with_reasons_in_chinese(console):
    client, agent, _ = console
    app = client.app
    free1, free2, taken = [await make_ticket(app) for _ in range(3)]
    li, wang = await agent("li"), await agent("wang")
    assert (await wang.post(f"/api/v1/console/tickets/{taken}/claim")).status == 200

    resp = await li.post(BULK, {"action": "claim", "numbers": [free1, taken, free2, "PDS2099010100999",
                                                                 free1.lower()]})
    assert resp.status == 200
    body = await _json(resp)
    assert (body["succeeded"], body["failed"]) == (2, 2)
    by_number = {r["number"]: r for r in body["results"]}
    assert list(by_number) == [free1, taken, free2, "PDS2099010100999"]  # repeats count once
    assert by_number[free1]["ok"] and by_number[free2]["ok"]
    assert by_number[taken] == {"number": taken, "ok": False, "code": "already_claimed",
                                "message": "该工单已由 wang 认领"}
    assert by_number["PDS2099010100999"]["code"] == "ticket_not_found"
    assert "未找到工单" in by_number["PDS2099010100999"]["message"]
    rows = await _tickets(app, free1, free2, taken)
    assert [rows[n].assignee for n in (free1, free2, taken)] == ["li", "li", "wang"]


async def test_bulk_assign_is_for_supervisors_only(console):
    client, agent, _ = console
    app = client.app
    one, two = await make_ticket(app), await make_ticket(app)
    li = await agent("li")
    await agent("wang")
    boss = await agent("boss", role="supervisor")
    refused = await li.post(BULK, {"action": "assign", "numbers": [one, two], "username": "wang"})
    assert refused.status == 403 and (await _json(refused))["error"]["code"] == "supervisor_only"
    assert {t.assignee for t in (await _tickets(app, one, two)).values()} == {None}

    body = await _json(await boss.post(BULK, {"action": "assign", "numbers": [one, two], "username": "wang"}))
    assert body["succeeded"] == 2 and all(r["message"] == "已分派给 wang" for r in body["results"])
    assert {t.assignee for t in (await _tickets(app, one, two)).values()} == {"wang"}
    ghost = await _json(await boss.post(BULK, {"action": "assign", "numbers": [one], "username": "ghost"}))
    assert ghost["failed"] == 1 and ghost["results"][0]["message"] == "没有可接收工单的坐席 ghost"


async def test_bulk_merge_into_a_main_ticket_chosen_among_the_selected(console):
    client, agent, _ = console
    app = client.app
    main = await make_ticket(app, text="建设路路灯不亮", at=hours_ago(3))
    dup1 = await make_ticket(app, text="建设路路灯还是不亮", at=hours_ago(2))
    dup2 = await make_ticket(app, text="建设路口路灯坏了", at=hours_ago(1))
    held = await make_ticket(app, text="路灯又坏了")
    li, wang = await agent("li"), await agent("wang")
    await wang.post(f"/api/v1/console/tickets/{held}/claim")

    not_selected = await li.post(BULK, {"action": "merge", "numbers": [dup1, dup2], "into": main})
    assert not_selected.status == 400 and (await _json(not_selected))["error"]["code"] == "into_not_selected"
    missing = await li.post(BULK, {"action": "merge", "numbers": [dup1, dup2]})
    assert missing.status == 400 and (await _json(missing))["error"]["message"] == "请在所选工单中选择主工单"

    body = await _json(await li.post(BULK, {"action": "merge", "numbers": [dup1, main, held, dup2], "into": main}))
    results = {r["number"]: r for r in body["results"]}
    assert results[main] == {"number": main, "ok": True, "code": None, "message": "主工单，其余工单合并到此"}
    assert results[dup1]["message"] == results[dup2]["message"] == f"已合并到 {main}"
    assert results[held] == {"number": held, "ok": False, "code": "claimed_by_other",
                             "message": "该工单正由 wang 处理"}
    rows = await _tickets(app, main, dup1, dup2, held)
    assert [rows[n].status for n in (main, dup1, dup2, held)] == ["pending_review", "merged", "merged",
                                                                  "pending_review"]


async def test_bulk_requests_are_validated(console):
    client, agent, _ = console
    li = await agent("li")
    number = await make_ticket(client.app)
    for body, status, code in (
        ({"action": "claim", "numbers": []}, 400, "no_tickets"),
        ({"action": "claim", "numbers": [number] * 201}, 413, "too_many_tickets"),
        ({"action": "close", "numbers": [number]}, 400, "invalid_action"),
        ({"action": "claim", "numbers": [number], "extra": 1}, 400, "unknown_field"),
        ({"action": "claim", "numbers": [1]}, 400, "invalid_numbers"),
        ({"action": "merge", "numbers": [number], "into": number}, 400, "nothing_to_merge"),
    ):
        resp = await li.post(BULK, body)
        assert resp.status == status, body
        error = (await _json(resp))["error"]
        assert error["code"] == code and error["message"], body
    assert (await li.post(BULK, {"action": "claim", "numbers": [number]}, csrf=False)).status == 403


async def test_the_queue_page_form_claims_the_checked_tickets(console):
    client, agent, _ = console
    app = client.app
    one, two = await make_ticket(app), await make_ticket(app)
    li = await agent("li")
    page = await li.get("/console")
    html = await page.text()
    assert 'id="bulk-form"' in html and f'name="numbers" value="{one}" form="bulk-form"' in html
    assert 'id="bulk-assign"' not in html  # 分派 is the supervisors'
    resp = await li.form("/console/bulk", {"action": "claim", "numbers": [one, two], "next": "/console?status=open"})
    assert resp.status == 303 and resp.headers["Location"] == "/console?status=open"
    assert {t.assignee for t in (await _tickets(app, one, two)).values()} == {"li"}
    shown = await (await li.get("/console?status=open")).text()
    assert "批量认领：成功 2 件，失败 0 件" in shown
    boss = await agent("boss", role="supervisor")
    assert 'id="bulk-assign"' in await (await boss.get("/console")).text()


async def _citizen_says(app, number: str, text: str) -> None:
    async with app[SESSIONS]() as session, session.begin():
        ticket = await store.ticket_by_number(session, number)
        conv = await store.conversation_of(session, ticket)
        await store.add_entry(session, conversation=conv, ticket=ticket, author="citizen", channel=ticket.channel,
                              text=text, at=utcnow())


async def _unread(agent, query: str = "") -> dict[str, bool]:
    body = await _json(await agent.get("/api/v1/console/tickets" + query))
    return {t["number"]: t["unread"] for t in body["tickets"]}


async def test_unread_until_the_operator_opens_the_ticket_then_again_on_a_follow_up(console):
    client, agent, _ = console
    app = client.app
    number = await make_ticket(app)
    li, wang = await agent("li"), await agent("wang")
    assert await _unread(li) == {number: True}
    assert (await li.get(f"/api/v1/console/tickets/{number}")).status == 200
    assert await _unread(li) == {number: False}
    assert await _unread(wang) == {number: True}  # per operator
    assert (await li.post(f"/api/v1/console/tickets/{number}/notes", {"text": "已电话联系"})).status == 200
    assert await _unread(li) == {number: False}
    await _citizen_says(app, number, "补充：路灯在3号楼门口")
    assert await _unread(li) == {number: True}
    panel = await (await li.get("/console/queue/panel")).text()
    assert "unread-mark" in panel and ' unread"' in panel
    assert (await li.get(f"/console/tickets/{number}")).status == 200  # the page marks it read too
    assert await _unread(li) == {number: False}
    assert "unread-mark" not in await (await li.get("/console/queue/panel")).text()


async def test_my_tickets_include_dispatched_ones_with_new_citizen_messages(console):
    client, agent, _ = console
    app = client.app
    li = await agent("li")
    number = await make_ticket(app, request_type="complaint")
    await li.post(f"/api/v1/console/tickets/{number}/claim")
    resp = await li.post(f"/api/v1/console/tickets/{number}/dispatch", {"target": "health"})
    assert resp.status == 200, await resp.text()
    assert await _unread(li, "?assignee=li") == {}  # with the unit, nothing new
    await _citizen_says(app, number, "请问办得怎么样了？我的电话换了")
    assert await _unread(li, "?assignee=li") == {number: True}
    page = await (await li.get("/console?assignee=li")).text()
    assert number in page and "unread-mark" in page
    await li.get(f"/api/v1/console/tickets/{number}")
    assert await _unread(li, "?assignee=li") == {}
