"""The lean ingress: rate limit + XADD in one script, publishes coalesced per event-loop tick.

Still: 429 over the limit, 409 for a reused client message id with another text, 503 when
Redis is away, no cookie on an API 202, and nothing acknowledged that is not on the stream.
"""

import asyncio
import uuid
from datetime import datetime, timezone

import orjson

from connectors.base import Contact, InboundMessage
from gateway.infra.coalesce import TickPipeline
from gateway.infra.resources import REDIS
from gateway.infra.stream import STREAM
from tests.rate_windows import begin_in_a_fresh_window

MESSAGES = "/api/v1/web/messages"


def body(text="小区路灯坏了", session=None, **extra) -> dict:
    return {"session_id": session or "sess" + uuid.uuid4().hex, "text": text, **extra}


async def stream_ids(app) -> list[str]:
    stream = app[STREAM]
    rows = await stream.redis.xrange(stream.key)
    return [orjson.loads(fields[b"msg"])["native_id"] for _id, fields in rows]


async def test_accepted_posts_are_on_the_stream_and_the_one_over_the_limit_is_429(make_client):
    await begin_in_a_fresh_window()
    client = await make_client(run_worker=False, HOTLINE_RATE_LIMIT_PER_MINUTE=5)
    answers = await asyncio.gather(*(client.post(MESSAGES, json=body(f"第{i}条")) for i in range(7)))
    statuses = sorted(resp.status for resp in answers)
    assert statuses == [202] * 5 + [429] * 2
    accepted = [(await resp.json())["message_id"] for resp in answers if resp.status == 202]
    refused = [await resp.json() for resp in answers if resp.status == 429]
    assert all(r["error"]["code"] == "rate_limited" and r["error"]["message"] for r in refused)
    assert sorted(await stream_ids(client.app)) == sorted(accepted)  # the refused ones were not stored


async def test_an_api_202_sets_no_cookie(make_client):
    client = await make_client(run_worker=False)
    resp = await client.post(MESSAGES, json=body())
    assert resp.status == 202
    assert "Set-Cookie" not in resp.headers
    assert resp.headers["Content-Type"].startswith("application/json")
    # A page still gets its CSRF cookie (forms need it).
    page = await client.get("/message")
    assert page.status == 200
    assert any(c.startswith("hotline_csrf=") for c in page.headers.getall("Set-Cookie", ()))


async def test_a_reused_client_message_id_with_another_text_is_409_and_a_true_retry_is_202(make_client):
    client = await make_client(run_worker=False)
    session = "sess" + uuid.uuid4().hex
    first = await client.post(MESSAGES, json=body("第一次的内容", session, client_message_id="abcdefgh1"))
    retry = await client.post(MESSAGES, json=body("第一次的内容", session, client_message_id="abcdefgh1"))
    other = await client.post(MESSAGES, json=body("换了内容", session, client_message_id="abcdefgh1"))
    assert (first.status, retry.status, other.status) == (202, 202, 409)
    assert (await other.json())["error"]["code"] == "client_message_id_reused"
    assert len(await stream_ids(client.app)) == 2  # the retry is stored again; the worker dedupes it


async def test_503_when_redis_is_down(make_client):
    client = await make_client(redis_url="redis://127.0.0.1:1/0", run_worker=False)
    resp = await client.post(MESSAGES, json=body())
    assert resp.status == 503
    assert (await resp.json())["error"]["code"] == "intake_unavailable"


async def test_a_redis_that_forgot_the_script_still_takes_the_message(make_client):
    client = await make_client(run_worker=False)
    assert (await client.post(MESSAGES, json=body())).status == 202
    await client.app[REDIS].script_flush()
    resp = await client.post(MESSAGES, json=body())
    assert resp.status == 202
    assert len(await stream_ids(client.app)) == 2


class CountingTicks(TickPipeline):
    round_trips = 0

    async def _round_trip(self, commands):
        self.round_trips += 1
        return await super()._round_trip(commands)


async def test_publishes_of_one_tick_share_one_round_trip_and_each_gets_its_own_id(make_client):
    client = await make_client(run_worker=False)
    stream = client.app[STREAM]
    stream.tick = ticks = CountingTicks(stream.redis)
    messages = [InboundMessage(channel="web", native_id=uuid.uuid4().hex, sender_id=f"s{i}", text=f"诉求{i}",
                               received_at=datetime.now(timezone.utc),
                               contact=Contact()) for i in range(100)]
    ids = await asyncio.gather(*(stream.publish(msg) for msg in messages))
    assert ticks.round_trips == 1
    assert len(set(ids)) == 100
    rows = await stream.redis.xrange(stream.key)
    assert [row[0].decode() for row in rows] == ids  # in order, each caller its own entry
