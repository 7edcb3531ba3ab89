"""回访 over real HTTP: the callback seats' queue (who may see it), the audited number reveal, a
callback reached or not, and a supervisor's ruling — through the JSON API and the pages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from gateway.infra.resources import SESSIONS
from gateway.web.console import models
from tests.gateway.web.citizen.test_survey_pages import answered_ticket
from tests.gateway.web.console.conftest import PASSWORD
from ticketing.accounts import users
from ticketing.db.models.accounts import AuditLog
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Dispatch, Ticket, TicketEvent
from ticketing.db.models.workflow import Survey
from ticketing.tickets import store

API = "/api/v1/console/callbacks"


def days_ago(days: float):
    return utcnow() - timedelta(days=days)


async def _survey(app, survey_id: int) -> Survey:
    async with app[SESSIONS]() as session:
        return await session.get(Survey, survey_id)


async def _ticket(app, number: str) -> Ticket:
    async with app[SESSIONS]() as session:
        return await store.ticket_by_number(session, number)


async def test_the_queue_holds_unanswered_surveys_after_n_days_oldest_first_for_callback_seats_only(console):
    client, agent, _ = console
    app = client.app
    old_no, old_id = await answered_ticket(app, at=days_ago(5))
    older_no, older_id = await answered_ticket(app, at=days_ago(6))
    await answered_ticket(app, at=days_ago(1))  # not due yet
    phone_no, phone_id = await answered_ticket(app, channel="phone", at=days_ago(0))  # no link can reach it
    answered_no, answered_id = await answered_ticket(app, at=days_ago(7))
    async with app[SESSIONS]() as session, session.begin():
        survey = await session.get(Survey, answered_id)
        survey.responded_at, survey.solved, survey.satisfaction, survey.outcome = utcnow(), True, "satisfied", "closed"

    seat = await agent("hf1", role="callback")
    resp = await seat.get(API)
    body = await resp.json()
    assert resp.status == 200 and models.CallbackQueue.model_validate(body)
    assert [s["survey_id"] for s in body["surveys"]] == [older_id, old_id, phone_id] and body["total"] == 3
    first = body["surveys"][0]
    assert first["ticket_no"] == older_no and first["unit"] == "health" and first["channel"] == "web"
    assert first["phone_masked"] == "138****2345" and "13837512345" not in await resp.text()
    assert first["answer_excerpt"].startswith("经核实")
    page = await seat.get("/console/callbacks")
    html = await page.text()
    assert page.status == 200 and older_no in html and phone_no in html and answered_no not in html
    assert "13837512345" not in html
    # Paginated.
    second = await (await seat.get(API + "?limit=2&offset=2")).json()
    assert [s["survey_id"] for s in second["surveys"]] == [phone_id]
    # Only supervisors see the rulings list.
    assert (await seat.get(API + "?view=redo")).status == 403

    for role in ("operator", "handler", "dispatcher", "admin"):
        if role == "handler":  # scoped to a unit: made here, the fixture knows no units
            async with app[SESSIONS]() as session, session.begin():
                await users.create_user(session, "wjw-h", role="handler", password=PASSWORD, unit="health",
                                        known_units=["health"])
            other = await agent()
            assert (await other.login("wjw-h")).status == 200
        else:
            other = await agent(f"x-{role}", role=role)
        assert (await other.get(API)).status == 403, role
        assert (await other.post(f"{API}/{old_id}/reveal")).status == 403, role
        assert (await other.post(f"{API}/{old_id}/record", {"reached": False})).status == 403, role
        page = await other.get("/console/callbacks")
        if role == "handler":  # a unit's clerk is sent to the unit's desk instead
            assert page.status == 303 and page.headers["Location"] == "/desk", role
        else:
            assert page.status == 403, role
    boss = await agent("banzhang", role="supervisor")
    assert (await boss.get(API)).status == 200


async def test_showing_the_number_is_audited(console):
    client, agent, _ = console
    number, survey_id = await answered_ticket(client.app, at=days_ago(4))
    seat = await agent("hf2", role="callback")
    resp = await seat.post(f"{API}/{survey_id}/reveal")
    assert resp.status == 200 and models.CallbackPhone.model_validate(await resp.json()).phone == "13837512345"
    page = await seat.form(f"/console/callbacks/{survey_id}/reveal")
    assert page.status == 200 and "13837512345" in await page.text()
    ticket = await _ticket(client.app, number)
    async with client.app[SESSIONS]() as session:
        rows = (await session.execute(select(AuditLog).where(AuditLog.ticket_id == ticket.id,
                                                             AuditLog.action == "reveal_contact"))).scalars().all()
    assert [(r.actor, r.detail["purpose"], r.detail["survey_id"]) for r in rows] == [
        ("hf2", "callback", survey_id)] * 2
    # Without the reveal the page shows the masked number only.
    plain = await seat.get(f"/console/callbacks/{survey_id}")
    assert "138****2345" in await plain.text() and "13837512345" not in await plain.text()


async def test_a_callback_not_reached_is_counted_and_flagged_after_three(console):
    client, agent, _ = console
    number, survey_id = await answered_ticket(client.app, at=days_ago(4))
    seat = await agent("hf3", role="callback")
    for attempt in (1, 2):
        resp = await seat.post(f"{API}/{survey_id}/record", {"reached": False, "note": "无人接听"})
        body = await resp.json()
        assert resp.status == 200 and body["survey"]["callback_attempts"] == attempt
        assert body["survey"]["unreachable"] is False
    page = await seat.form(f"/console/callbacks/{survey_id}/record", {"reached": "no", "note": "关机"})
    assert page.status == 303
    survey = await _survey(client.app, survey_id)
    assert survey.callback_attempts == 3 and survey.callback_note == "关机" and survey.responded_at is None
    boss = await agent("bz3", role="supervisor")
    html = await (await boss.get("/console/callbacks")).text()
    assert "多次联系未果" in html
    ticket = await _ticket(client.app, number)
    assert ticket.status == "answered"
    async with client.app[SESSIONS]() as session:
        events = (await session.execute(select(TicketEvent.action).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.action == "callback_attempt"))).scalars().all()
    assert len(events) == 3
    refused = await seat.post(f"{API}/{survey_id}/record", {"reached": True, "solved": True})
    assert refused.status == 400 and (await refused.json())["error"]["code"] == "satisfaction_required"


async def test_a_callback_reached_records_the_evaluation_and_closes_or_sends_back(console):
    client, agent, _ = console
    closed_no, closed_id = await answered_ticket(client.app, at=days_ago(4))
    redo_no, redo_id = await answered_ticket(client.app, at=days_ago(4))
    seat = await agent("hf4", role="callback")
    resp = await seat.post(f"{API}/{closed_id}/record",
                           {"reached": True, "solved": True, "satisfaction": "satisfied", "comment": "挺好"})
    body = await resp.json()
    assert resp.status == 200 and models.CallbackResult.model_validate(body)
    assert body["survey"]["outcome"] == "closed" and body["survey"]["source"] == "callback"
    assert (await _ticket(client.app, closed_no)).status == "closed"
    survey = await _survey(client.app, closed_id)
    assert survey.recorded_by == "hf4" and survey.comment == "挺好"
    again = await seat.post(f"{API}/{closed_id}/record", {"reached": False})
    assert again.status == 409

    page = await seat.form(f"/console/callbacks/{redo_id}/record",
                           {"reached": "yes", "solved": "no", "satisfaction": "unsatisfied"})
    assert page.status == 303
    ticket = await _ticket(client.app, redo_no)
    assert ticket.status == "dispatched"
    async with client.app[SESSIONS]() as session:
        rounds = (await session.execute(select(Dispatch.round).where(Dispatch.ticket_id == ticket.id,
                                                                     Dispatch.active.is_(True)))).scalars().all()
    assert rounds == [2]
    queue = await (await seat.get(API)).json()
    assert queue["total"] == 0


async def test_a_supervisor_rules_a_bad_evaluation_unreasonable(console):
    client, agent, _ = console
    number, survey_id = await answered_ticket(client.app, at=days_ago(4))
    seat = await agent("hf5", role="callback")
    await seat.post(f"{API}/{survey_id}/record", {"reached": True, "solved": False, "satisfaction": "unsatisfied"})
    assert (await seat.post(f"{API}/{survey_id}/rule", {"reason": "超出政策"})).status == 403
    assert (await seat.form(f"/console/callbacks/{survey_id}/rule", {"reason": "超出政策"})).status == 403

    boss = await agent("bz5", role="supervisor")
    listed = await (await boss.get(API + "?view=redo")).json()
    assert [s["survey_id"] for s in listed["surveys"]] == [survey_id]
    page = await boss.get(f"/console/callbacks/{survey_id}")
    assert "裁定不合理" in await page.text()
    empty = await boss.post(f"{API}/{survey_id}/rule", {"reason": "  "})
    assert empty.status == 400 and (await empty.json())["error"]["code"] == "reason_required"
    done = await boss.form(f"/console/callbacks/{survey_id}/rule", {"reason": "诉求超出政策规定，单位已依法答复"})
    assert done.status == 303
    survey = await _survey(client.app, survey_id)
    assert survey.outcome == "ruled" and survey.ruled_by == "bz5"
    ticket = await _ticket(client.app, number)
    assert ticket.status == "closed"
    async with client.app[SESSIONS]() as session:
        active = (await session.execute(select(Dispatch).where(Dispatch.ticket_id == ticket.id,
                                                               Dispatch.active.is_(True)))).scalars().all()
    assert active == []
    twice = await boss.post(f"{API}/{survey_id}/rule", {"reason": "再次裁定"})
    assert twice.status == 409
    assert (await (await boss.get(API + "?view=redo")).json())["total"] == 0
