"""一事一评 over real HTTP: the citizen's link page, its refusals (nothing written), CSRF, the rate
limit, the JSON twin, and the evaluation written back to the national platform simulator."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta

from sqlalchemy import func, select

from connectors.national_feed.simulator import SIMULATOR, create_simulator_app, demo_items
from connectors.task_stop import cancel_and_wait
from gateway.channels.survey_links import survey_link
from gateway.infra.replies import REPLIES
from gateway.infra.resources import SECRET, SESSIONS
from gateway.web.citizen.survey_pages import GUARD, SurveyInfo, SurveyResult
from tests.gateway.web.citizen.helpers import CSRF_RE
from tests.gateway.web.console.conftest import make_ticket
from tests.ticketing.factories import DIRECTORY, HEALTH_CLERK, ZHAO
from tests.rate_windows import begin_in_a_fresh_window
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Dispatch, Ticket, TicketEvent
from ticketing.db.models.workflow import Survey, UnitReport
from ticketing.tickets import store
from ticketing.tickets.lifecycle import Action
from ticketing.workflow import assignments, surveys

ANSWER = "经核实，您反映的卫东区建设路路灯已于今日修复，感谢您的监督。"


async def answered_ticket(app, *, channel: str = "web", at: datetime | None = None, message_id: str | None = None,
                          phone: str | None = "13837512345") -> tuple[str, int]:
    """A ticket the health commission answered and the platform accepted, with its survey
    (created ``at``): (ticket number, survey id)."""
    number = await make_ticket(app, channel=channel, message_id=message_id, phone=phone)
    async with app[SESSIONS]() as session, session.begin():
        ticket = await store.ticket_by_number(session, number)
        row = await assignments.dispatch(session, ticket, ZHAO, DIRECTORY, target="health")
        await assignments.sign(session, ticket, HEALTH_CLERK)
        report = UnitReport(ticket_id=ticket.id, dispatch_id=row.id, unit="health", kind="answer",
                            author=HEALTH_CLERK.username, author_name=HEALTH_CLERK.display_name, text=ANSWER,
                            review_state="accepted", reviewed_by=ZHAO.username)
        session.add(report)
        await session.flush()
        await store.transition(session, ticket, Action.SUBMIT, actor=HEALTH_CLERK.username)
        await store.transition(session, ticket, Action.APPROVE, actor=ZHAO.username)
        survey = await surveys.create_survey(session, ticket, DIRECTORY, dispatch=row, report=report, now=at)
        return number, survey.id


async def link_path(app, survey_id: int) -> str:
    async with app[SESSIONS]() as session:
        survey = await session.get(Survey, survey_id)
        return "/survey/" + surveys.token_for(app[SECRET], survey)


async def footprint(app, number: str) -> tuple:
    """What an evaluation would change: the ticket's status, its events, the survey rows."""
    async with app[SESSIONS]() as session:
        ticket = await store.ticket_by_number(session, number)
        events = (await session.execute(select(func.count()).select_from(TicketEvent)
                                        .where(TicketEvent.ticket_id == ticket.id))).scalar_one()
        rows = (await session.execute(select(Survey.responded_at, Survey.outcome, Survey.solved)
                                      .where(Survey.ticket_id == ticket.id))).all()
        return ticket.status, events, rows


async def answer(client, path: str, **fields):
    page = await client.get(path)
    assert page.status == 200, await page.text()
    token = CSRF_RE.search(await page.text()).group(1)
    return await client.post(path, data={"csrf_token": token, **fields}, allow_redirects=False)


async def test_solved_and_satisfied_closes_the_ticket(client):
    number, survey_id = await answered_ticket(client.app)
    path = await link_path(client.app, survey_id)
    page = await client.get(path)
    html = await page.text()
    assert page.status == 200 and number in html and "卫生健康委" in html and ANSWER in html
    assert page.headers["Cache-Control"] == "no-store"
    resp = await answer(client, path, solved="yes", satisfaction="basic", comment="  辛苦了 ")
    assert resp.status == 303 and resp.headers["Location"] == path + "/done"
    done = await client.get(path + "/done")
    assert done.status == 200 and "已办结" in await done.text()
    status, _, rows = await footprint(client.app, number)
    assert status == "closed" and rows[0].outcome == "closed" and rows[0].solved is True
    async with client.app[SESSIONS]() as session:
        survey = await session.get(Survey, survey_id)
        assert survey.source == "link" and survey.comment == "辛苦了" and survey.satisfaction == "basic"


async def test_unsolved_goes_back_to_the_unit_for_a_second_round_and_tells_its_desks(client):
    number, survey_id = await answered_ticket(client.app)
    path = await link_path(client.app, survey_id)
    bus = client.app[REPLIES]
    heard: list[dict] = []

    async def listen(topic: str):
        async for event in bus.subscribe(topic, heartbeat=0.2):
            if event:
                heard.append(event)

    listeners = [asyncio.create_task(listen(bus.desk_topic("health"))),
                 asyncio.create_task(listen(bus.console_topic))]
    await asyncio.sleep(0.3)
    try:
        resp = await answer(client, path, solved="no", satisfaction="unsatisfied", comment="路灯还是不亮")
        assert resp.status == 303
        for _ in range(50):
            if len(heard) >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await cancel_and_wait(listeners)
    assert {"type": "redo", "ticket_no": number} in heard
    assert any(e.get("type") == "updated" and e.get("ticket_no") == number for e in heard)
    done = await client.get(path + "/done")
    assert "已转回承办单位重新办理" in await done.text()
    async with client.app[SESSIONS]() as session:
        ticket = await store.ticket_by_number(session, number)
        rows = (await session.execute(select(Dispatch).where(Dispatch.ticket_id == ticket.id,
                                                             Dispatch.active.is_(True)))).scalars().all()
        assert ticket.status == "dispatched"
        assert [(r.target, r.round, r.state) for r in rows] == [("health", 2, "pending_sign")]


async def test_forged_reused_and_expired_links_get_a_clear_page_and_change_nothing(client):
    number, survey_id = await answered_ticket(client.app)
    path = await link_path(client.app, survey_id)
    page = await client.get(path)
    token = CSRF_RE.search(await page.text()).group(1)
    before = await footprint(client.app, number)

    forged = [path[:-2] + ("AA" if not path.endswith("AA") else "BB"), f"/survey/{survey_id + 999}.abc",
              "/survey/x.y", "/survey/" + "9" * 90]
    for bad in forged:
        got = await client.get(bad)
        assert got.status == 404 and "评价链接无效" in await got.text(), bad
        posted = await client.post(bad, data={"csrf_token": token, "solved": "yes", "satisfaction": "satisfied"})
        assert posted.status == 404, bad
        assert (await client.get(bad + "/done")).status == 404
    assert await footprint(client.app, number) == before

    # Expired: a survey made 20 days ago (links live 15).
    old_number, old_id = await answered_ticket(client.app, at=utcnow() - timedelta(days=20))
    old_path = await link_path(client.app, old_id)
    old_before = await footprint(client.app, old_number)
    got = await client.get(old_path)
    assert got.status == 410 and "已过期" in await got.text()
    posted = await client.post(old_path, data={"csrf_token": token, "solved": "yes", "satisfaction": "satisfied"})
    assert posted.status == 410
    assert await footprint(client.app, old_number) == old_before

    # Reused: answered once, the second answer is refused and the first stands.
    assert (await answer(client, path, solved="yes", satisfaction="satisfied")).status == 303
    after_first = await footprint(client.app, number)
    again = await client.post(path, data={"csrf_token": token, "solved": "no", "satisfaction": "unsatisfied"})
    assert again.status == 409 and "已评价过" in await again.text()
    assert (await client.get(path)).status == 409
    assert await footprint(client.app, number) == after_first


async def test_a_post_without_the_csrf_token_or_with_a_bad_answer_writes_nothing(client):
    number, survey_id = await answered_ticket(client.app)
    path = await link_path(client.app, survey_id)
    before = await footprint(client.app, number)
    refused = await client.post(path, data={"solved": "yes", "satisfaction": "satisfied"})
    assert refused.status == 403 and "页面已过期" in await refused.text()
    forged = await client.post(path, data={"csrf_token": "abc.def", "solved": "yes", "satisfaction": "satisfied"})
    assert forged.status == 403
    invalid = await answer(client, path, solved="yes", satisfaction="very")
    assert invalid.status == 400 and "请选择满意程度" in await invalid.text()
    too_long = await answer(client, path, solved="no", satisfaction="satisfied", comment="长" * 1001)
    assert too_long.status == 400 and "1000" in await too_long.text()
    assert await footprint(client.app, number) == before


async def test_posts_are_rate_limited_per_client(client):
    number, survey_id = await answered_ticket(client.app)
    path = await link_path(client.app, survey_id)
    await begin_in_a_fresh_window(margin=20, window=GUARD.window)
    statuses = [(await client.post(path, data={"solved": "yes"})).status for _ in range(11)]
    assert statuses[:10] == [403] * 10 and statuses[10] == 429
    before = await footprint(client.app, number)
    limited = await answer(client, path, solved="yes", satisfaction="satisfied")
    assert limited.status == 429 and "过于频繁" in await limited.text()
    assert await footprint(client.app, number) == before


async def test_the_json_api_answers_once(client):
    number, survey_id = await answered_ticket(client.app)
    token = (await link_path(client.app, survey_id)).removeprefix("/survey/")
    info = await client.get(f"/api/v1/surveys/{token}")
    assert info.status == 200 and SurveyInfo.model_validate(await info.json()).ticket_no == number
    bad = await client.post(f"/api/v1/surveys/{token}", json={"solved": True, "satisfaction": "great"})
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "satisfaction_required"
    resp = await client.post(f"/api/v1/surveys/{token}", json={"solved": True, "satisfaction": "satisfied"})
    body = await resp.json()
    assert resp.status == 200 and SurveyResult.model_validate(body)
    assert body["outcome"] == "closed" and body["ticket_no"] == number
    again = await client.post(f"/api/v1/surveys/{token}", json={"solved": True, "satisfaction": "satisfied"})
    assert again.status == 409 and (await again.json())["error"]["code"] == "survey_used"
    forged = await client.post(f"/api/v1/surveys/{token[:-3]}xyz", json={"solved": True, "satisfaction": "satisfied"})
    assert forged.status == 404
    form = await client.post(f"/api/v1/surveys/{token}", data={"solved": "true"})
    assert form.status == 415


async def test_the_link_is_absolute_under_the_public_url(make_client):
    client = await make_client(public_url="https://12345.pds.gov.cn")
    _, survey_id = await answered_ticket(client.app)
    async with client.app[SESSIONS]() as session:
        survey = await session.get(Survey, survey_id)
    link = survey_link(client.app, survey)
    assert re.fullmatch(r"https://12345\.pds\.gov\.cn/survey/\d+\.[A-Za-z0-9_-]+=*", link)
    assert (await client.get(link.removeprefix("https://12345.pds.gov.cn"))).status == 200


APP_KEY, APP_SECRET = "pds-12345", "simulator-secret-0123456789"


async def test_a_national_platform_item_gets_its_evaluation_written_back(make_client, aiohttp_server, monkeypatch):
    item = demo_items(1)[0]
    item_id = str(item["id"])
    sim = await aiohttp_server(create_simulator_app(APP_KEY, APP_SECRET, items=[item]))
    monkeypatch.setenv("NATIONAL_FEED_URL", str(sim.make_url("")).rstrip("/"))
    monkeypatch.setenv("NATIONAL_FEED_APP_KEY", APP_KEY)
    monkeypatch.setenv("NATIONAL_FEED_APP_SECRET", APP_SECRET)
    client = await make_client()
    number, survey_id = await answered_ticket(client.app, channel="national_platform", message_id=item_id)
    path = await link_path(client.app, survey_id)
    state = sim.app[SIMULATOR]
    state.fail_write_backs(3)  # every try of the client fails: kept for the poller's retry path
    assert (await answer(client, path, solved="yes", satisfaction="satisfied", comment="很及时")).status == 303
    assert state.write_backs_of(item_id) == []
    admin = {"Authorization": "Bearer test-admin-token-0123456789"}
    failed = (await (await client.get("/api/v1/admin/national-feed", headers=admin)).json())["failed_write_backs"]
    assert [(f["item_id"], f["status"], f["evaluation"]["satisfaction"]) for f in failed] == [
        (item_id, "closed", "satisfied")]
    retried = await (await client.post("/api/v1/admin/national-feed/retry", headers=admin)).json()
    assert retried["delivered"] == 1
    (record,) = state.write_backs_of(item_id)
    assert record["status"] == "closed" and record["reply"] == ANSWER
    evaluation = record["evaluation"]
    assert evaluation["solved"] is True and evaluation["satisfaction"] == "satisfied"
    assert evaluation["comment"] == "很及时" and evaluation["source"] == "link"
    assert evaluation["evaluated_at"].endswith("+08:00")
    async with client.app[SESSIONS]() as session:
        assert (await session.get(Ticket, (await store.ticket_by_number(session, number)).id)).status == "closed"
