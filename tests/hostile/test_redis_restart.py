"""Issue #12, item 2: after a Redis restart, pooled connections are stale; the first request on
each used to fail (503), still minutes later.  With retries and health checks on the pool, the
first request after the restart succeeds, in the web process and in the worker."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from gateway.infra.resources import SESSIONS
from tests.gateway.conftest import eventually
from tests.gateway.infra.redis_server import redis_server_fixture
from ticketing.db.models.tickets import Ticket

redis_server = redis_server_fixture()

MESSAGES = "/api/v1/web/messages"


def _sid() -> str:
    return uuid.uuid4().hex


async def _tickets(client) -> int:
    async with client.app[SESSIONS]() as session:
        return (await session.execute(select(func.count(Ticket.id)))).scalar_one()


async def test_every_first_request_after_a_redis_restart_succeeds(make_client, redis_server):
    client = await make_client(redis_url=redis_server.url, run_worker=False)
    # Fill the pool with several connections, all of which go stale at the restart.
    first = await asyncio.gather(*(client.post(MESSAGES, json={"session_id": _sid(), "text": "路灯不亮"})
                                   for _ in range(10)))
    assert [r.status for r in first] == [202] * 10
    redis_server.restart()
    after = await asyncio.gather(*(client.post(MESSAGES, json={"session_id": _sid(), "text": "路灯还是不亮"})
                                   for _ in range(10)))
    assert [r.status for r in after] == [202] * 10
    assert (await client.get("/healthz")).status == 200


async def test_the_worker_processes_the_first_message_after_a_redis_restart(make_client, redis_server):
    client = await make_client(redis_url=redis_server.url)
    assert (await client.post(MESSAGES, json={"session_id": _sid(), "text": "小区停水"})).status == 202
    await eventually(lambda: _count_is(client, 1), timeout=20)
    redis_server.restart()
    assert (await client.post(MESSAGES, json={"session_id": _sid(), "text": "小区停电"})).status == 202
    await eventually(lambda: _count_is(client, 2), timeout=30)


async def test_live_streams_and_reply_waits_work_after_a_redis_restart(make_client, redis_server):
    client = await make_client(redis_url=redis_server.url)
    sid = _sid()
    before = await client.get(f"/api/v1/web/sessions/{sid}/events")
    assert before.status == 200
    before.close()
    redis_server.restart()
    stream = await client.get(f"/api/v1/web/sessions/{sid}/events")
    try:
        assert stream.status == 200
        assert (await client.post(MESSAGES, json={"session_id": sid, "text": "噪音扰民"})).status == 202

        async def read_until_event() -> bytes:
            seen = b""
            while b"event:" not in seen:
                seen += await stream.content.readany()
            return seen

        assert b"event:" in await asyncio.wait_for(read_until_event(), 30)
    finally:
        stream.close()


async def _count_is(client, expected: int) -> bool:
    return await _tickets(client) >= expected
