"""The reply bus's live side: every listener of a process on one pub/sub connection, a slow
listener dropped instead of holding up the others, reply waits without a connection each."""

from __future__ import annotations

import asyncio
import json

import pytest

from connectors.task_stop import cancel_and_wait
from gateway.infra.keys import RedisKeys
from gateway.infra.redis_client import connect
from gateway.infra.replies import LISTENER_QUEUE, ReplyBus
from tests.gateway.infra.redis_server import redis_server_fixture

redis_server = redis_server_fixture()


@pytest.fixture
async def bus(redis_server):
    redis = connect(redis_server.url)
    replies = ReplyBus(redis, RedisKeys("test"))
    yield replies
    await replies.fanout.close()
    await redis.aclose()


async def _subscribed_connections(bus: ReplyBus) -> int:
    return sum(1 for client in await bus.redis.client_list() if int(client.get("sub", 0)) > 0)


async def _started(events):
    assert await anext(events) is None  # subscribed
    return events


async def test_a_hundred_listeners_share_one_redis_connection(bus):
    streams = [await _started(bus.subscribe(bus.session_topic(f"session-{n:04d}"))) for n in range(100)]
    waits = [asyncio.create_task(bus.wait_reply("web", f"m{n}", 10)) for n in range(100)]
    await asyncio.sleep(0.2)
    try:
        assert await _subscribed_connections(bus) == 1
        await bus.publish_event(bus.session_topic("session-0042"), {"type": "reply", "text": "已受理"})
        assert await asyncio.wait_for(anext(streams[42]), 5) == {"type": "reply", "text": "已受理"}
        await bus.deliver("web", "m7", "您的工单号是 N1")
        assert await asyncio.wait_for(waits[7], 5) == "您的工单号是 N1"
    finally:
        await cancel_and_wait(waits)
        for events in streams:
            await events.aclose()
    assert bus.fanout.topics == 0  # every topic given back when its last listener left


async def test_a_listener_that_stops_reading_is_dropped_and_the_others_get_everything(bus):
    topic = bus.session_topic("busy-session-0001")
    laggard = await _started(bus.subscribe(topic, heartbeat=60))
    reader = await _started(bus.subscribe(topic, heartbeat=60))
    total = LISTENER_QUEUE + 50

    async def read_all() -> list[int]:
        return [(await anext(reader))["n"] for _ in range(total)]

    reading = asyncio.create_task(read_all())
    for n in range(total):
        await bus.redis.publish(topic, json.dumps({"n": n}).encode())
    assert await asyncio.wait_for(reading, 10) == list(range(total))
    # The laggard's stream ends (the browser reconnects and reads what it missed).
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(laggard), 5)
    await reader.aclose()


async def test_a_reply_stored_before_the_wait_is_found_at_once(bus):
    await bus.deliver("wechat", "123", "已收到")
    assert await asyncio.wait_for(bus.wait_reply("wechat", "123", 5), 1) == "已收到"
    assert await bus.wait_reply("wechat", "never", 0.3) is None
