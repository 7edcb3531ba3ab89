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
