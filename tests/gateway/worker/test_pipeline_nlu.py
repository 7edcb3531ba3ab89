"""The pipeline and the NLU API with the real Rasa server trained on our data (no stand-ins)."""

import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from connectors.base import Contact, InboundMessage
from gateway.infra.resources import DIRECTORY, SESSIONS
from gateway.worker.service import PIPELINE
from ticketing.db.models.tickets import Conversation, Entry, Prediction, Ticket

pytestmark = pytest.mark.rasa


@pytest.fixture
async def nlu_client(make_client, rasa_url):
    return await make_client(run_worker=False, RASA_URL=rasa_url, HOTLINE_NLU_ENABLED=True)


def message(text: str, sender: str | None = None) -> InboundMessage:
    return InboundMessage(channel="web", native_id=uuid.uuid4().hex, sender_id=sender or "s-" + uuid.uuid4().hex,
                          text=text, received_at=datetime.now(timezone.utc), contact=Contact(phone="13900001111"))


async def entries_of(app, sender: str) -> list[Entry]:
    async with app[SESSIONS]() as session:
        stmt = (select(Entry).join(Conversation, Conversation.id == Entry.conversation_id)
                .where(Conversation.sender_id == sender).order_by(Entry.id))
        return list((await session.execute(stmt)).scalars())


async def test_an_faq_is_answered_by_the_bot_and_makes_no_ticket(nlu_client):
    app = nlu_client.app
    sender = "s-" + uuid.uuid4().hex
    outcome = await app[PIPELINE].process(message("住房公积金提取打哪个电话", sender))
    assert outcome.kind == "faq" and outcome.ticket_no is None
    assert "12329" in outcome.reply
    entries = await entries_of(app, sender)
    assert [e.author for e in entries] == ["citizen", "bot"]  # the exchange is kept
    assert all(e.ticket_id is None for e in entries)


async def test_a_complaint_becomes_a_pre_classified_ticket_with_alternatives(nlu_client):
    app = nlu_client.app
    outcome = await app[PIPELINE].process(message("湛河区姚孟街道有个饭店后厨老鼠乱跑，卫生太差了，希望市场监管部门查一查"))
    assert outcome.kind == "ticket" and outcome.ticket_no in outcome.reply
    async with app[SESSIONS]() as session:
        ticket = (await session.execute(select(Ticket).where(Ticket.number == outcome.ticket_no))).scalar_one()
        prediction = (await session.execute(select(Prediction).where(Prediction.ticket_id == ticket.id))).scalar_one()
    # Pre-classified whether or not the bot still asks the citizen for a detail first (#19: 补充信息中).
    assert ticket.status in {"pending_review", "gathering"} and ticket.classification == "predicted"
    assert ticket.department == prediction.department == "market_supervision"
    assert ticket.region == "zhanhe"
    assert ticket.request_type in app[DIRECTORY].request_type_codes
    assert len(prediction.alternatives) == 3 and prediction.model_version.startswith("nlu-")
    assert {a["code"] for a in prediction.alternatives} <= app[DIRECTORY].department_codes
    # The request-type classifier's ranking is kept for the console (its type first, with its confidence).
    typed = prediction.request_type_alternatives
    assert typed[0]["code"] == ticket.request_type == prediction.request_type and 0 < typed[0]["confidence"] <= 1
    assert 2 <= len(typed) <= 3 and {a["code"] for a in typed} <= app[DIRECTORY].request_type_codes


async def test_an_emergency_gets_the_number_at_once_and_an_urgent_record(nlu_client):
    app = nlu_client.app
    outcome = await app[PIPELINE].process(message("新华区光明路一个居民楼着火了，火很大，有人被困在楼上"))
    assert outcome.kind == "emergency"
    assert "119" in outcome.reply
    async with app[SESSIONS]() as session:
        ticket = (await session.execute(select(Ticket).where(Ticket.number == outcome.ticket_no))).scalar_one()
    assert ticket.urgent


async def test_the_parse_api_speaks_the_contract(nlu_client):
    resp = await nlu_client.post("/api/v1/nlu/parse", json={"text": "12319还能打吗"})
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == {"request_type", "request_type_alternatives", "department", "department_alternatives",
                         "region", "emergency", "faq", "handoff", "intent", "model"}
    assert body["faq"] and "12345" in body["faq"]["answer"] and body["handoff"] is False
    assert body["request_type"] is None and body["request_type_alternatives"] == []  # answered: no ticket to type

    for payload, status in (({"text": ""}, 400), ({"text": "x", "extra": 1}, 400), ({"text": "长" * 6000}, 413)):
        resp = await nlu_client.post("/api/v1/nlu/parse", json=payload)
        assert resp.status == status
        assert set((await resp.json())["error"]) == {"code", "message"}
