import json
import uuid
from datetime import datetime, timezone

from sqlalchemy import select

from connectors.base import Contact, InboundMessage
from gateway.infra.resources import REDIS, SESSIONS
from gateway.infra.stream import STREAM
from gateway.worker.service import PIPELINE
from tests.gateway.conftest import eventually
from ticketing.db.models.tickets import Entry, Ticket

AUTH = {"Authorization": "Bearer test-admin-token-0123456789"}


async def _dead_letters(client) -> list[dict]:
    resp = await client.get("/api/v1/admin/dead-letters", headers=AUTH)
    assert resp.status == 200
    return (await resp.json())["dead_letters"]


async def test_an_undecodable_entry_is_listed_and_an_unknown_id_is_404(client):
    app = client.app
    await app[STREAM].ensure_group()
    await app[REDIS].xadd(app[STREAM].key, {"msg": b"garbage"})

    letters = await eventually(lambda: _dead_letters(client))
    assert letters[0]["message"] == "garbage" and "undecodable" in letters[0]["error"]
    missing = await client.post("/api/v1/admin/dead-letters/1-1/replay", headers=AUTH)
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"


async def test_a_replayed_dead_letter_re_enters_intake_and_leaves_the_dead_list(make_client, monkeypatch):
    # The running worker gives up after one failed delivery.
    client = await make_client(HOTLINE_MAX_DELIVERIES=1)
    app = client.app
    pipeline = app[PIPELINE]

    async def database_down(message):
        raise RuntimeError("database is down")

    monkeypatch.setattr(pipeline, "process", database_down)
    monkeypatch.setattr(pipeline, "process_batch", database_down)
    session_id = "s-" + uuid.uuid4().hex
    message = InboundMessage(channel="web", native_id=uuid.uuid4().hex, sender_id=session_id,
                             text="建设路的路灯坏了一个星期", received_at=datetime.now(timezone.utc),
                             contact=Contact(phone="13900001111"))
    await app[STREAM].publish(message)

    [letter] = await eventually(lambda: _dead_letters(client))
    assert "database is down" in letter["error"] and letter["deliveries"] == 1
    assert json.loads(letter["message"])["native_id"] == message.native_id
    async with app[SESSIONS]() as session:
        assert (await session.execute(select(Ticket))).first() is None

    # The database is back: the admin replays the entry and the worker turns it into a ticket.
    monkeypatch.undo()
    resp = await client.post(f"/api/v1/admin/dead-letters/{letter['id']}/replay", headers=AUTH)
    assert resp.status == 202
    assert (await resp.json())["replayed_as"] != letter["original_id"]

    async def stored_ticket():
        async with app[SESSIONS]() as session:
            stmt = (select(Ticket).join(Entry, Entry.ticket_id == Ticket.id)
                    .where(Entry.channel == "web", Entry.channel_message_id == message.native_id))
            return (await session.execute(stmt)).scalar_one_or_none()

    ticket = await eventually(stored_ticket)
    assert ticket.status == "pending_review" and ticket.citizen_phone == "13900001111"
    assert await _dead_letters(client) == []
    assert (await app[STREAM].backlog())["pending"] == 0

    async def bot_reply():
        resp = await client.get(f"/api/v1/web/sessions/{session_id}/messages")
        return next((m for m in (await resp.json())["messages"] if m["author"] == "bot"), None)

    assert (await eventually(bot_reply))["ticket_no"] == ticket.number


async def test_admin_api_needs_the_token(client):
    assert (await client.get("/api/v1/admin/dead-letters")).status == 401
    bad = await client.get("/api/v1/admin/dead-letters", headers={"Authorization": "Bearer wrong"})
    assert bad.status == 401
    assert (await bad.json())["error"]["code"] == "unauthorized"


async def test_admin_api_is_closed_without_a_configured_token(make_client):
    client = await make_client(HOTLINE_ADMIN_TOKEN=None)
    resp = await client.get("/api/v1/admin/dead-letters", headers=AUTH)
    assert resp.status == 403
