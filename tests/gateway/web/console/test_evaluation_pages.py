"""考评 in the console: the ranking page, its CSV/XLSX exports, the JSON API, and who may see them."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from config.local_time import LOCAL_TZ
from gateway.infra.resources import DIRECTORY, SESSIONS
from gateway.web.console import models
from tests.gateway.web.console.conftest import PASSWORD, Agent, make_ticket
from ticketing.accounts import users
from ticketing.accounts.roles import Actor
from ticketing.db.models.base import utcnow
from ticketing.tickets import store
from ticketing.tickets.lifecycle import Action
from ticketing.workflow import assignments, surveys


async def _one_dispatch_each(app) -> None:
    """This month: health signs and answers at once and the citizen is satisfied; ruzhou returns its
    ticket as not its duty (dispatcher zhao's wrong dispatch)."""
    directory = app[DIRECTORY]
    zhao = Actor("zhao", "赵调度", "dispatcher")
    for unit, clerk in (("health", Actor("wjw1", "卫健委", "handler", unit="health")),
                        ("ruzhou", Actor("rz1", "汝州", "handler", unit="ruzhou"))):
        number = await make_ticket(app, at=utcnow() - timedelta(minutes=5))
        async with app[SESSIONS]() as session, session.begin():
            ticket = await store.ticket_by_number(session, number)
            row = await assignments.dispatch(session, ticket, zhao, directory, target=unit)
            if unit == "ruzhou":
                await assignments.return_ticket(session, ticket, clerk, directory, reason="not_our_duty", text="不归我们")
                continue
            await assignments.sign(session, ticket, clerk)
            await store.transition(session, ticket, Action.SUBMIT, actor=clerk.username)
            row.state, row.answered_at = "accepted", utcnow()
            await store.transition(session, ticket, Action.APPROVE, actor=zhao.username)
            survey = await surveys.create_survey(session, ticket, directory, dispatch=row, report=None)
            await surveys.respond(session, survey, directory, solved=True, satisfaction="satisfied")


@pytest.fixture
async def people(console):
    client, agent, user = console
    await user("zhao", role="dispatcher", display_name="赵调度")
    async with client.app[SESSIONS]() as session, session.begin():
        await users.create_user(session, "wjw1", role="handler", password=PASSWORD, unit="health",
                                known_units=client.app[DIRECTORY].unit_codes)
    await _one_dispatch_each(client.app)
    dispatcher = Agent(client)
    assert (await dispatcher.login("zhao")).status == 200
    handler = Agent(client)
    assert (await handler.login("wjw1")).status == 200
    yield {"dispatcher": dispatcher, "supervisor": await agent("boss", role="supervisor"),
           "operator": await agent("li"), "handler": handler}
    await dispatcher.close()
    await handler.close()


async def test_the_ranking_page_for_dispatchers_and_supervisors(people):
    for who in ("dispatcher", "supervisor"):
        resp = await people[who].get("/console/evaluation")
        assert resp.status == 200
        page = await resp.text()
        month = utcnow().astimezone(LOCAL_TZ)
        assert f"承办单位考评 · {month.year}年{month.month}月" in page
        assert 'href="/console/evaluation"' in page  # the nav link
        health = page[page.index('data-unit="health"'):]
        assert '<td data-stat="rank">1</td>' in health[:300] and "100.00" in health[:600]
        ruzhou = page[page.index('data-unit="ruzhou"'):]
        assert '<td data-stat="returned_pct">100.0%</td>' in ruzhou[:1500]
        errors = page[page.index('id="operator-errors"'):]
        zhao = errors[errors.index('data-username="zhao"'):]
        assert '<td data-stat="wrong_dispatches">1</td>' in zhao[:800]
    pages = ("/console/evaluation", "/console/evaluation.csv", "/console/evaluation.xlsx")
    for path in pages:
        assert (await people["operator"].get(path)).status == 403
        redirected = await people["handler"].get(path)  # a unit's clerk is sent to the unit's desk
        assert redirected.status == 303 and redirected.headers["Location"] == "/desk"
    for who in ("operator", "handler"):
        assert (await people[who].get("/api/v1/console/evaluation")).status == 403


async def test_a_bad_period_on_the_page_falls_back_to_this_month_with_a_message(people):
    resp = await people["supervisor"].get("/console/evaluation?from=2024-05-01&to=2024-04-01")
    assert resp.status == 200 and "开始日期不能晚于结束日期" in await resp.text()
    resp = await people["supervisor"].get("/console/evaluation?from=2024-01-01&to=2024-01-31")
    assert resp.status == 200 and "2024年1月" in await resp.text()


async def test_exports_parse_back(people):
    today = utcnow().astimezone(LOCAL_TZ).date()
    query = f"from={today.replace(day=1).isoformat()}&to={today.isoformat()}"
    resp = await people["dispatcher"].get(f"/console/evaluation.csv?{query}")
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    raw = await resp.read()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:4] == ["名次", "单位", "类别", "得分"]
    health_name = people["dispatcher"].client.app[DIRECTORY].unit("health").name
    health = next(r for r in rows[1:] if r[1] == health_name)
    assert health[0] == "1" and health[3] == "100.0" and health[4] == "1"
    assert len(rows) == 1 + len(people["dispatcher"].client.app[DIRECTORY].units)

    resp = await people["dispatcher"].get(f"/console/evaluation.csv?{query}&table=operators")
    ops = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    zhao = next(r for r in ops[1:] if r[1] == "zhao")
    assert ops[0][0] == "坐席" and zhao[5] == "1" and zhao[7] == "1"

    resp = await people["supervisor"].get(f"/console/evaluation.xlsx?{query}")
    assert resp.status == 200
    book = load_workbook(io.BytesIO(await resp.read()), read_only=True)
    assert book.sheetnames == ["单位考评", "坐席差错", "权重"]
    units = list(book["单位考评"].iter_rows(values_only=True))
    assert units[1][:4] == ("名次", "单位", "类别", "得分")
    health = next(r for r in units[2:] if r[1] == health_name)
    assert health[0] == 1 and health[3] == 100 and health[4] == 1
    weights = dict(list(book["权重"].iter_rows(values_only=True))[1:])
    assert weights["满意率"] == pytest.approx(0.25) and sum(weights.values()) == pytest.approx(1)

    assert (await people["supervisor"].get("/console/evaluation.xlsx?from=2024-13-01&to=2024-12-31")).status == 400


async def test_the_json_api_and_its_refusals(people):
    boss = people["supervisor"]
    resp = await boss.get("/api/v1/console/evaluation")
    assert resp.status == 200
    body = models.EvaluationResponse.model_validate(await resp.json())
    health = next(u for u in body.units if u.unit == "health")
    assert (health.rank, health.received, health.solved_pct, health.satisfied_pct) == (1, 1, 100.0, 100.0)
    ruzhou = next(u for u in body.units if u.unit == "ruzhou")
    assert ruzhou.returned_pct == 100.0 and ruzhou.score == pytest.approx(90.0)  # 10 % weight of not returned
    assert next(o for o in body.operators if o.username == "zhao").wrong_dispatches == 1

    resp = await boss.get("/api/v1/console/evaluation?month=2024-02")
    assert (await resp.json())["from"] == "2024-02-01" and (await resp.json())["to"] == "2024-02-29"
    for query, code in (("from=2024-02-30&to=2024-03-01", "invalid_date"), ("from=2024-03-01", "invalid_date"),
                        ("from=yesterday&to=today", "invalid_date"), ("month=2024-13", "invalid_date"),
                        ("from=2024-03-02&to=2024-03-01", "invalid_period"),
                        ("from=2023-01-01&to=2024-01-02", "period_too_long")):
        resp = await boss.get(f"/api/v1/console/evaluation?{query}")
        assert resp.status == 400, query
        assert (await resp.json())["error"]["code"] == code, query
    # 366 days is the longest period (a leap year).
    assert (await boss.get("/api/v1/console/evaluation?from=2024-01-01&to=2024-12-31")).status == 200
    assert (await boss.get("/api/v1/console/evaluation?from=2023-01-01&to=2023-12-31")).status == 200


async def test_the_api_document_lists_the_evaluation(people):
    resp = await people["supervisor"].get("/api/openapi.json")
    spec = await resp.json()
    op = spec["paths"]["/api/v1/console/evaluation"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"from", "to", "month"}
    assert "400" in op["responses"] and "200" in op["responses"]
