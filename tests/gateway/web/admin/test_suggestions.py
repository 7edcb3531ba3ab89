"""The console's training-suggestion page and API review through the one path of the NLU
administration: accepting a department correction teaches the bot (its text becomes an example)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.infra.resources import SESSIONS
from tests.gateway.web.console.conftest import make_ticket
from ticketing.db.models.base import utcnow
from ticketing.db.models.nlu import TrainingSuggestion
from ticketing.db.models.tickets import Ticket

P = "/api/v1/admin/nlu"


@pytest.fixture
def backend() -> str:
    return "embedded"


async def _suggestion(app, field: str, chosen: str, text: str) -> int:
    number = await make_ticket(app, text=text)
    async with app[SESSIONS]() as session, session.begin():
        ticket = (await session.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
        row = TrainingSuggestion(ticket_id=ticket.id, field=field, text=text, predicted="urban_management",
                                 chosen=chosen, operator="li", status="new", created_at=utcnow())
        session.add(row)
        await session.flush()
        return row.id


async def _examples(admin, intent: str) -> list[str]:
    return [e["text"] for e in (await (await admin.get(f"{P}/examples?intent={intent}")).json())["examples"]]


async def test_accepting_on_the_console_page_adds_the_text_as_an_example_of_its_intent(console):
    client, agent, _ = console
    admin = await agent("root", role="admin")
    sid = await _suggestion(client.app, "department", "transport", "公交站台的顶棚被风吹坏了")
    resp = await admin.form(f"/console/admin/suggestions/{sid}", {"status": "accepted"})
    assert resp.status == 303 and resp.headers["Location"] == "/console/admin/suggestions"
    assert "公交站台的顶棚被风吹坏了" in await _examples(admin, "dept_transport")
    async with client.app[SESSIONS]() as session:
        row = await session.get(TrainingSuggestion, sid)
        assert (row.status, row.reviewed_by) == ("accepted", "root")


async def test_accepting_through_the_console_api_adds_the_example_and_rejecting_does_not(console):
    client, agent, _ = console
    admin = await agent("root", role="admin")
    accepted = await _suggestion(client.app, "department", "transport", "出租车司机拒载")
    rejected = await _suggestion(client.app, "department", "transport", "随便写的一句话")
    resp = await admin.post(f"/api/v1/console/training-suggestions/{accepted}", {"status": "accepted"})
    assert resp.status == 200 and (await resp.json())["training_suggestion"]["status"] == "accepted"
    resp = await admin.post(f"/api/v1/console/training-suggestions/{rejected}", {"status": "rejected"})
    assert resp.status == 200 and (await resp.json())["training_suggestion"]["status"] == "rejected"
    texts = await _examples(admin, "dept_transport")
    assert "出租车司机拒载" in texts and "随便写的一句话" not in texts
    bad = await admin.post(f"/api/v1/console/training-suggestions/{rejected}", {"status": "maybe"})
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid_status"


async def test_an_accepted_request_type_correction_is_a_label_of_the_next_training(console, tmp_path):
    from gateway.web.admin.workspace import CORRECTIONS_FILE, export_files, export_labels, write_project
    from nlu import training

    client, agent, _ = console
    admin = await agent("root", role="admin")
    async with client.app[SESSIONS]() as session:
        assert await export_labels(session) == {}  # nothing accepted: the project is as before
    kept = await _suggestion(client.app, "request_type", "consult", "请问\t老旧小区加装电梯\n怎么申请补贴")
    edited = await _suggestion(client.app, "request_type", "report", "有人在河边偷偷倒垃圾")
    refused = await _suggestion(client.app, "request_type", "praise", "这是一条被驳回的更正")
    resp = await admin.post(f"{P}/suggestions/review", {"decisions": [
        {"id": kept, "action": "accept", "text": "请问\t老旧小区加装电梯\n怎么申请补贴"},
        {"id": edited, "action": "accept", "text": "  有人夜里在湛河边偷偷倒建筑垃圾 "},
        {"id": refused, "action": "reject"}]})
    assert resp.status == 200, await resp.text()
    async with client.app[SESSIONS]() as session:
        labels = await export_labels(session)
        files = await export_files(session)
    lines = labels[CORRECTIONS_FILE].splitlines()
    # One line each (tabs and line breaks inside the citizen's text would break the format), the edited text kept.
    assert lines[1:] == ["consult\t请问 老旧小区加装电梯 怎么申请补贴", "report\t有人夜里在湛河边偷偷倒建筑垃圾"]
    nlu_dir, with_labels = write_project(tmp_path / "a", files, None, labels)
    # Where the request-type model looks for it (relative to the project Rasa trains in), and a new data hash.
    assert (nlu_dir.parent / "nlu" / "data" / CORRECTIONS_FILE).read_text(encoding="utf-8") == labels[CORRECTIONS_FILE]
    assert not (nlu_dir / "data" / "nlu" / CORRECTIONS_FILE).exists()  # not among Rasa's NLU files
    _, without = write_project(tmp_path / "b", files, None)
    assert with_labels != without and with_labels == training.data_hash(nlu_dir)
    # The training page tells the admin how many corrections the next training reads.
    page = await (await admin.get("/admin/nlu/training")).text()
    assert "还使用 2 条已采纳的坐席更正" in page
