"""The client never raises: Rasa down, slow or answering nonsense -> handoff, nothing classified."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from aiohttp import web

from nlu.client import NluClient


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the socket is: nothing listens there


async def test_rasa_down_means_handoff():
    client = NluClient(f"http://127.0.0.1:{closed_port()}", timeout=1.0)
    try:
        result = await client.parse("新华区光明路的路灯坏了")
        assert result.handoff is True
        body = result.to_dict()
        assert body["department"] is None and body["region"] is None and body["request_type"] is None
        assert body["faq"] is None and body["intent"] is None and body["model"] is None
        assert body["department_alternatives"] == []
        assert await client.healthy() is False
        assert await client.model_version() is None
    finally:
        await client.close()


async def test_rasa_down_still_flags_emergencies():
    # The safety net runs locally: a fire is a fire even without the NLU server.
    client = NluClient(f"http://127.0.0.1:{closed_port()}", timeout=1.0)
    try:
        result = await client.parse("着火了！快来人，卫东区优越路")
        assert result.emergency == {"number": "119", "kind": "fire"}
        assert result.handoff is True and result.department is None
        negative = await client.parse("上个月着过火，墙还没修")
        assert negative.emergency is None
    finally:
        await client.close()


async def test_no_url_configured():
    client = NluClient(None)
    result = await client.parse("你好")
    assert result.handoff is True and result.faq is None and result.intent is None
    await client.close()


@pytest.fixture
async def fake_rasa(aiohttp_server):
    """A local server playing Rasa: /slow sleeps past the client's timeout, /garbage answers nonsense."""
    state = {"mode": "slow"}

    async def parse(request: web.Request) -> web.StreamResponse:
        if state["mode"] == "slow":
            await asyncio.sleep(3)
            return web.json_response({})
        if state["mode"] == "garbage":
            return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")
        if state["mode"] == "error":
            return web.json_response({"error": "boom"}, status=500)
        return web.json_response({"intent": "not a dict", "intent_ranking": [{"nope": 1}]})

    async def status(request: web.Request) -> web.Response:
        return web.json_response({"model_file": "/models/nlu-fake.tar.gz"})

    app = web.Application()
    app.router.add_post("/model/parse", parse)
    app.router.add_get("/status", status)
    server = await aiohttp_server(app)
    return server, state


async def test_slow_rasa_means_handoff(fake_rasa):
    server, state = fake_rasa
    client = NluClient(str(server.make_url("/")), timeout=0.5)
    try:
        started = time.monotonic()
        result = await client.parse("我家停水了，拨打12345也没人管")
        assert time.monotonic() - started < 2.0  # the timeout, not the server, decides
        assert result.handoff is True and result.department is None and result.intent is None
    finally:
        await client.close()


@pytest.mark.parametrize("mode", ["garbage", "error", "wrong-shape"])
async def test_invalid_rasa_answers_mean_handoff(fake_rasa, mode):
    server, state = fake_rasa
    state["mode"] = mode
    client = NluClient(str(server.make_url("/")), timeout=1.0)
    try:
        result = await client.parse("我家停水了")
        assert result.handoff is True and result.department is None and result.faq is None
        assert result.emergency is None
    finally:
        await client.close()


async def test_shared_session_is_not_closed_by_client():
    import aiohttp

    async with aiohttp.ClientSession() as session:
        client = NluClient(f"http://127.0.0.1:{closed_port()}", timeout=0.5, session=session)
        await client.parse("你好")
        await client.close()
        assert not session.closed
