"""The web channel on its own: what it asks of the gateway through its context, and its JSON errors."""

import pytest
from aiohttp import web

from connectors.web.channel import WebChannel
from tests.connectors.contexts import Recorder, entry

SID = "s" + "a" * 31


@pytest.fixture
async def chat(aiohttp_client, tmp_path):
    recorder = Recorder()
    channel = WebChannel.from_settings(recorder.context(tmp_path, HOTLINE_RATE_LIMIT_PER_MINUTE=7))
    app = web.Application()
    app.router.add_routes(channel.routes())
    return await aiohttp_client(app), recorder


async def test_an_accepted_message_is_published_counted_and_rate_limited_per_client(chat):
    client, recorder = chat
    resp = await client.post("/api/v1/web/messages", json={"session_id": SID, "text": "  路灯坏了  "})
    assert resp.status == 202
    assert (await resp.json())["message_id"] == recorder.published[0].native_id
    assert recorder.published[0].text == "路灯坏了" and recorder.published[0].sender_id == SID
    assert recorder.rate_calls == [("web-msg", 7)]  # HOTLINE_RATE_LIMIT_PER_MINUTE
    assert recorder.counted == [("accepted", "web")]


async def test_over_the_rate_limit_is_a_json_429_and_nothing_is_published(chat):
    client, recorder = chat
    recorder.allow = False
    resp = await client.post("/api/v1/web/messages", json={"session_id": SID, "text": "路灯坏了"})
    assert resp.status == 429
    assert (await resp.json())["error"] == {"code": "rate_limited", "message": "发送过于频繁，请稍后再试"}
    assert recorder.published == [] and recorder.counted == []


async def test_an_unavailable_intake_is_a_json_503_counted_as_rejected(chat):
    client, recorder = chat
    recorder.intake_down = True
    resp = await client.post("/api/v1/web/messages", json={"session_id": SID, "text": "路灯坏了"})
    assert resp.status == 503 and (await resp.json())["error"]["code"] == "intake_unavailable"
    assert recorder.counted == [("rejected", "web", "unavailable")]


async def test_invalid_input_is_counted_with_its_reason(chat):
    client, recorder = chat
    resp = await client.post("/api/v1/web/messages", json={"session_id": SID, "text": "长" * 5001})
    assert resp.status == 413 and (await resp.json())["error"]["code"] == "text_too_long"
    assert recorder.counted == [("rejected", "web", "text_too_long")] and recorder.rate_calls == []


async def test_the_conversation_shows_operator_names_only(chat):
    client, recorder = chat
    recorder.conversation = [
        entry(1, "citizen", "路灯坏了", author_name="张先生"),
        entry(2, "bot", "已受理", author_name="小助手", ticket_no="PDS2026030200001"),
        entry(3, "operator", "已派单", author_name="刘静", ticket_no="PDS2026030200001"),
    ]
    body = await (await client.get(f"/api/v1/web/sessions/{SID}/messages?after=1")).json()
    assert [(m["id"], m["author_name"], m["ticket_no"]) for m in body["messages"]] == [
        (2, None, "PDS2026030200001"), (3, "刘静", "PDS2026030200001")]
    assert body["messages"][0]["created_at"] == "2026-03-02T08:00:00+00:00"


async def test_live_events_are_the_gateway_stream_of_the_session_topic(chat):
    client, recorder = chat
    assert await (await client.get(f"/api/v1/web/sessions/{SID}/events")).text() == f"topic:{SID}"
    assert recorder.streams == [f"topic:{SID}"]
    resp = await client.get("/api/v1/web/sessions/short/events")
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_session_id"
    assert recorder.streams == [f"topic:{SID}"]
