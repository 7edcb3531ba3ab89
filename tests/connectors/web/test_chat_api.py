import asyncio
import json
import uuid

import pytest
from sqlalchemy import func, select

from gateway.infra.resources import REDIS, SESSIONS
from gateway.infra.stream import STREAM
from tests.gateway.conftest import eventually
from ticketing.db.models.tickets import Entry, Ticket


def sid() -> str:
    return "s" + uuid.uuid4().hex


async def _messages(client, session_id):
    resp = await client.get(f"/api/v1/web/sessions/{session_id}/messages")
    assert resp.status == 200
    return (await resp.json())["messages"]


async def test_message_becomes_a_ticket_and_the_reply_reaches_the_session(client):
    session_id = sid()
    resp = await client.post("/api/v1/web/messages", json={
        "session_id": session_id, "text": "卫东区建设路的路灯坏了一个月了", "name": "张先生", "phone": "13837512345"})
    assert resp.status == 202
    message_id = (await resp.json())["message_id"]
    assert message_id

    msgs = await eventually(lambda: _messages_with_bot(client, session_id))
    citizen, bot = msgs
    assert citizen["author"] == "citizen" and citizen["text"] == "卫东区建设路的路灯坏了一个月了"
    assert bot["author"] == "bot" and bot["ticket_no"] in bot["text"]
    assert bot["ticket_no"].startswith("PDS")

    async with client.app[SESSIONS]() as session:
        ticket = (await session.execute(select(Ticket))).scalar_one()
    assert ticket.number == bot["ticket_no"]
    assert ticket.status == "pending_review" and ticket.classification == "unclassified"
    assert ticket.citizen_phone == "13837512345" and ticket.channel == "web"


async def _messages_with_bot(client, session_id):
    msgs = await _messages(client, session_id)
    return msgs if any(m["author"] == "bot" for m in msgs) else None


async def test_follow_ups_join_the_open_ticket(client):
    session_id = sid()
    for text in ("小区门口垃圾三天没人收了", "补充一下，是湛河区曙光街那个小区", "今天还是没人管"):
        assert (await client.post("/api/v1/web/messages", json={"session_id": session_id, "text": text})).status == 202

    async def three_replies():
        msgs = await _messages(client, session_id)
        return msgs if sum(m["author"] == "bot" for m in msgs) == 3 else None

    msgs = await eventually(three_replies)
    assert len({m["ticket_no"] for m in msgs}) == 1
    assert "补充信息" in msgs[-1]["text"]
    async with client.app[SESSIONS]() as session:
        assert (await session.execute(select(func.count(Ticket.id)))).scalar() == 1


async def test_a_retried_post_with_the_same_client_id_is_stored_once(client):
    session_id = sid()
    body = {"session_id": session_id, "text": "咨询一下社保卡怎么补办", "client_message_id": "retry-0001"}
    first = await client.post("/api/v1/web/messages", json=body)
    second = await client.post("/api/v1/web/messages", json=body)
    assert first.status == second.status == 202
    assert (await first.json()) == (await second.json())
    await eventually(lambda: _messages_with_bot(client, session_id))
    await asyncio.sleep(0.3)  # give the worker time to see the second copy
    async with client.app[SESSIONS]() as session:
        count = (await session.execute(select(func.count(Entry.id)).where(Entry.author == "citizen"))).scalar()
    assert count == 1


async def _sse_block(events) -> list[str]:
    """The lines of the next server-sent-events block (any of the spec's line endings)."""
    lines = []
    while True:
        line = (await events.content.readline()).decode().rstrip("\r\n")
        if not line:
            return lines
        lines.append(line)


async def test_live_reply_over_server_sent_events(client):
    session_id = sid()
    events = await client.get(f"/api/v1/web/sessions/{session_id}/events")
    assert events.status == 200 and events.headers["Content-Type"].startswith("text/event-stream")
    assert ": connected" in await _sse_block(events)  # subscribed before the stream opened
    await client.post("/api/v1/web/messages", json={"session_id": session_id, "text": "暖气不热，怎么办"})

    async def next_event():
        while True:
            block = await _sse_block(events)
            if block and block[0].startswith("event:"):
                return block

    block = await asyncio.wait_for(next_event(), 10)
    assert block[0] == "event: message"
    data = json.loads(block[1].removeprefix("data: "))
    assert data["author"] == "bot" and data["ticket_no"] in data["text"]
    events.close()


async def test_events_of_a_malformed_session_id_are_a_json_400(client):
    resp = await client.get("/api/v1/web/sessions/bad!id/events")
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_session_id"
    resp = await client.get(f"/api/v1/web/sessions/{sid()}/messages?after=x")
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_after"


@pytest.mark.parametrize("kwargs,status,code", [
    ({"data": "not json", "headers": {"Content-Type": "application/json"}}, 400, "invalid_json"),
    ({"data": "text=hi", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 415,
     "unsupported_media_type"),
    ({"json": ["a list"]}, 400, "invalid_body"),
    ({"json": {"session_id": "s" * 20, "text": "你好", "admin": True}}, 400, "unknown_field"),
    ({"json": {"session_id": "s" * 20, "text": "   "}}, 400, "empty_text"),
    ({"json": {"session_id": "s" * 20, "text": "长" * 5001}}, 413, "text_too_long"),
    ({"json": {"session_id": "short", "text": "你好"}}, 400, "invalid_session_id"),
    ({"json": {"session_id": "s" * 20, "text": "你好", "phone": "12345"}}, 400, "invalid_phone"),
    ({"json": {"session_id": "s" * 20, "text": 42}}, 400, "invalid_text"),
    ({"data": "x" * (70 * 1024), "headers": {"Content-Type": "application/json"}}, 413, "payload_too_large"),
])
async def test_bad_input_gets_a_clear_json_error_and_nothing_is_stored(client, kwargs, status, code):
    resp = await client.post("/api/v1/web/messages", **kwargs)
    assert resp.status == status
    body = await resp.json()
    assert body["error"]["code"] == code and body["error"]["message"]
    assert await client.app[REDIS].xlen(client.app[STREAM].key) == 0


async def test_redis_down_answers_503_and_nothing_is_half_written(make_client):
    # A closed port: connection refused on every call.
    client = await make_client(redis_url="redis://127.0.0.1:1/0", run_worker=False)
    resp = await client.post("/api/v1/web/messages", json={"session_id": sid(), "text": "停水了"})
    assert resp.status == 503
    assert (await resp.json())["error"]["code"] == "intake_unavailable"
    async with client.app[SESSIONS]() as session:
        assert (await session.execute(select(func.count(Entry.id)))).scalar() == 0


async def test_unknown_api_path_is_json_404(client):
    resp = await client.get("/api/v1/nothing-here")
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"
