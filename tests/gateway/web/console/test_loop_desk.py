"""The dispatcher's desk (交办督办台) and the loop's page forms: returned tickets re-dispatched or
closed, the six tabs with their counts, order and paging, and the 即将超期 / 已超期 highlights in
the main queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gateway.infra.resources import DIRECTORY, SESSIONS
from gateway.web.console import models
from tests.gateway.web.console.conftest import PASSWORD, make_ticket
from tests.gateway.web.console.loop_helpers import (
    answer,
    events_of,
    give_back,
    local_day,
    relay_sink,
    request_extension,
    sign,
)
from ticketing.accounts import users
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Dispatch, Ticket

API = "/api/v1/console/tickets/"
LOOP = "/api/v1/console/loop"


@pytest.fixture
async def sink(monkeypatch):
    async with relay_sink(monkeypatch) as relay:
        yield relay


@pytest.fixture
def console_settings(sink):
    return {}


async def _dispatch(desk, app, unit: str = "health", **fields) -> str:
    number = await make_ticket(app, department=unit, text=f"{unit} 相关诉求")
    resp = await desk.post(API + number + "/dispatch", {"target": unit, **fields})
    assert resp.status == 200, await resp.text()
    return number


async def _shift(app, number: str, *, started_days_ago: float, due_in_hours: float | None = None,
                 sign_late: bool = False) -> None:
    """Move a dispatch back in time (the clock of the loop is the database's timestamps)."""
    now = utcnow()
    async with app[SESSIONS]() as session, session.begin():
        ticket = (await session.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
        values: dict = {"at": now - timedelta(days=started_days_ago)}
        if due_in_hours is not None:
            values["deadline"] = now + timedelta(hours=due_in_hours)
            ticket.deadline = values["deadline"]
        if sign_late:
            values["sign_deadline"] = now - timedelta(hours=1)
        await session.execute(update(Dispatch).where(Dispatch.ticket_id == ticket.id).values(**values))


async def _tab(agent, tab: str, **query) -> dict:
    params = "&".join(f"{k}={v}" for k, v in {"tab": tab, **query}.items())
    resp = await agent.get(f"{LOOP}?{params}")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    models.LoopPage.model_validate(body)
    return body


async def test_a_returned_ticket_is_redispatched_by_the_page_form_then_closed_with_a_reason(console, sink):
    client, agent, _ = console
    app = client.app
    desk = await agent("disp", role="dispatcher")
    number = await _dispatch(desk, app)
    await give_back(app, number)
    body = await _tab(desk, "returned")
    assert body["counts"]["returned"] == 1
    (row,) = body["rows"]
    assert row["number"] == number and row["unit"] == "health" and row["detail"]["returns"] == 1
    assert row["detail"]["reason_label"] == "非本单位职责" and row["detail"]["text"] == "该事项属城市管理职责"
    page = await (await desk.get(f"/console/tickets/{number}")).text()
    assert "改派" in page and "非本单位职责" in page and 'name="assists"' in page

    # 改派 through the page: a lead unit, two assisting units (multi-select), a reasoned deadline
    form = [("csrf_token", await desk.csrf()), ("target", "department:urban_management"),
            ("assists", "transport"), ("assists", "ruzhou"), ("deadline", local_day(7).isoformat()),
            ("deadline_reason", "群众多次反映，限期办结")]
    resp = await desk.request("POST", f"/console/tickets/{number}/dispatch", data=form, csrf=False)
    assert resp.status == 303 and resp.headers["Location"] == f"/console/tickets/{number}"
    t = (await (await desk.get(API + number)).json())["ticket"]
    assert t["status"] == "dispatched" and t["unit"] == "urban_management"
    active = [(r["unit"], r["role"]) for r in t["loop"]["rounds"] if r["active"]]
    assert active == [("urban_management", "lead"), ("transport", "assist"), ("ruzhou", "assist")]
    assert any(e["action"] == "redispatch" and e["action_label"] == "改派" for e in t["events"])
    mails = await sink.handler.wait_for(4)  # the first dispatch, then three units
    assert sum("改派工单" in m.message["Subject"] for m in mails) == 3

    await give_back(app, number, "urban_management", reason="unclear_address")
    (row,) = (await _tab(desk, "returned"))["rows"]
    assert row["detail"]["returns"] == 2 and row["unit"] == "urban_management"
    bare = await desk.post(API + number + "/close", {})
    assert bare.status == 400 and (await bare.json())["error"]["code"] == "reason_required"
    closed = await desk.post(API + number + "/close", {"note": "经核实诉求人已自行解决"})
    assert closed.status == 200 and (await closed.json())["ticket"]["status"] == "closed"
    assert (await _tab(desk, "returned"))["counts"]["returned"] == 0


async def test_the_desk_tabs_count_order_and_page(console, sink):
    client, agent, _ = console
    app = client.app
    desk = await agent("disp", role="dispatcher")
    review = await _dispatch(desk, app)
    await sign(app, review)
    await answer(app, review)
    extension = await _dispatch(desk, app)
    await sign(app, extension)
    await request_extension(app, extension)
    late_first = await _dispatch(desk, app, "transport")
    late_second = await _dispatch(desk, app, "transport")
    await _shift(app, late_first, started_days_ago=10, due_in_hours=-5)
    await _shift(app, late_second, started_days_ago=10, due_in_hours=-1)
    nearly = await _dispatch(desk, app, "ruzhou")
    await _shift(app, nearly, started_days_ago=9, due_in_hours=24)
    unsigned = await _dispatch(desk, app, "health")
    await _shift(app, unsigned, started_days_ago=0.1, sign_late=True)

    body = await _tab(desk, "overdue")
    assert body["counts"] == {"returned": 0, "review": 1, "extension": 1, "warning": 1, "overdue": 2,
                              "sign_overdue": 1}
    assert [r["number"] for r in body["rows"]] == [late_first, late_second]  # the most overdue first
    assert all(r["due"] == "overdue" and r["due_label"] == "已超期" for r in body["rows"])
    assert [r["number"] for r in (await _tab(desk, "overdue", limit=1, offset=1))["rows"]] == [late_second]
    assert [r["number"] for r in (await _tab(desk, "review"))["rows"]] == [review]
    ext = (await _tab(desk, "extension"))["rows"][0]
    assert ext["number"] == extension and ext["detail"]["reason"] == "需协调多个科室现场核查"
    warn = (await _tab(desk, "warning"))["rows"]
    assert [r["number"] for r in warn] == [nearly] and warn[0]["due_label"] == "即将超期"
    assert [r["number"] for r in (await _tab(desk, "sign_overdue"))["rows"]] == [unsigned]
    bad = await desk.get(LOOP + "?tab=everything")
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid_tab"

    page = await (await desk.get("/console/loop?tab=extension")).text()
    assert "交办督办台" in page and extension in page and "延期申请" in page and "需协调多个科室现场核查" in page
    page = await (await desk.get("/console/loop?tab=overdue")).text()
    assert late_first in page and "已超期" in page
    # every queue highlights them: the JSON queue and the page
    queue = (await (await desk.get("/api/v1/console/tickets?status=open&limit=200")).json())["tickets"]
    due = {t["number"]: t["due"] for t in queue}
    assert due[late_first] == "overdue" and due[nearly] == "warning" and due[review] == "ok"
    panel = await (await desk.get("/console?status=open")).text()
    assert "badge due-overdue" in panel and "badge due-warning" in panel and "即将超期" in panel
    ticket_page = await (await desk.get(f"/console/tickets/{nearly}")).text()
    assert 'id="ticket-due"' in ticket_page and "即将超期" in ticket_page

    operator = await agent("li")
    assert (await operator.get(LOOP)).status == 200  # operators may look
    for role in ("callback", "admin"):
        assert (await (await agent(f"x-{role}", role=role)).get(LOOP)).status == 403
    async with app[SESSIONS]() as session, session.begin():
        await users.create_user(session, "h-health", role="handler", password=PASSWORD, unit="health",
                                known_units=[u.code for u in app[DIRECTORY].units])
    handler = await agent()
    assert (await handler.login("h-health")).status == 200
    assert (await handler.get(LOOP)).status == 403
    assert (await handler.get(API + review)).status == 403


async def test_review_and_decisions_through_the_ticket_page(console, sink):
    client, agent, _ = console
    app = client.app
    desk = await agent("disp", role="dispatcher")
    number = await _dispatch(desk, app)
    await sign(app, number)
    await request_extension(app, number)
    page = await (await desk.get(f"/console/tickets/{number}")).text()
    assert "同意延期" in page and "下发督办单" in page and "修改办理时限" in page
    assert 'id="claim-button"' not in page and 'id="reply-form"' not in page  # dispatchers do not take in hand-offs
    resp = await desk.form(f"/console/tickets/{number}/extension", {"approve": "0", "note": ""})
    assert resp.status == 303
    follow = await (await desk.get(f"/console/tickets/{number}")).text()
    assert "不同意延期须说明理由" in follow
    assert (await desk.form(f"/console/tickets/{number}/extension", {"approve": "1"})).status == 303
    assert (await desk.form(f"/console/tickets/{number}/supervise", {"text": "请加快办理", "date": ""})).status == 303
    assert (await desk.form(f"/console/tickets/{number}/deadline",
                            {"date": local_day(80).isoformat(), "reason": "上级要求"})).status == 303
    await answer(app, number)
    assert (await desk.form(f"/console/tickets/{number}/review", {"decision": "reject", "reason": "答复过于简单"})
            ).status == 303
    t = (await (await desk.get(API + number)).json())["ticket"]
    models.TicketResponse.model_validate({"ticket": t})
    assert t["status"] == "handling" and t["loop"]["extensions"][0]["state"] == "approved"
    assert t["loop"]["notes"][0]["text"] == "请加快办理"
    labels = {e["action"]: e["action_label"] for e in t["events"]}
    assert {"extension_requested": "申请延期", "extension_approved": "同意延期", "supervision": "督办",
            "answer_rejected": "答复审核退回", "unit_notified": "通知单位"}.items() <= labels.items()
    await answer(app, number, "第二次答复：已于本周完成整改并由院方向群众当面说明。")
    resp = await desk.form(f"/console/tickets/{number}/review", {"decision": "approve", "text": ""})
    assert resp.status == 303
    body = await (await desk.get(API + number)).json()
    assert body["ticket"]["status"] == "answered"
    assert len(await events_of(app, number, "survey_sent")) == 1


async def test_a_dispatcher_lands_on_the_desk_and_sees_the_loop_nav(console, sink):
    client, agent, user = console
    await user("disp", role="dispatcher")
    browser = await agent()
    resp = await browser.form("/console/login", {"username": "disp", "password": PASSWORD})
    assert resp.status == 303 and resp.headers["Location"] == "/console/loop"
    page = await (await browser.get("/console/loop")).text()
    assert 'href="/console/loop"' in page and 'href="/console?status=open"' in page and "人工录入" not in page
    assert (await browser.form("/console/logout")).status == 303
