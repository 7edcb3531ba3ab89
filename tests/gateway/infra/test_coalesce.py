"""The tick pipeline's round trip on a pooled connection: a Redis restart is survived like any
command's, one command's error is its own, and a round trip cut short never leaves a connection
out of step for the next caller."""

from __future__ import annotations

import asyncio

import pytest

from gateway.infra.coalesce import TickPipeline
from gateway.infra.redis_client import connect
from tests.gateway.infra.redis_server import redis_server_fixture

redis_server = redis_server_fixture()


async def test_the_first_tick_after_a_redis_restart_goes_through(redis_server):
    redis = connect(redis_server.url)
    tick = TickPipeline(redis)
    try:
        assert await tick.execute("SET", "k", "1") == b"OK"
        redis_server.restart()
        replies = await asyncio.gather(*(tick.execute("INCR", f"n{i}") for i in range(5)))
        assert replies == [1] * 5
    finally:
        await redis.aclose()


async def test_one_commands_error_is_its_own_and_the_connection_stays_in_step(redis_server):
    redis = connect(redis_server.url, max_connections=1)  # every round trip on the same connection
    tick = TickPipeline(redis)
    try:
        await redis.set("text", "abc")
        results = await asyncio.gather(tick.execute("INCR", "a"), tick.execute("INCR", "text"),
                                       tick.execute("INCR", "a"), return_exceptions=True)
        assert results[0] == 1 and results[2] == 2
        assert "not an integer" in str(results[1])
        assert await tick.execute("GET", "a") == b"2"
    finally:
        await redis.aclose()


async def test_a_round_trip_cut_short_does_not_desynchronise_the_next(redis_server):
    redis = connect(redis_server.url, max_connections=1)
    tick = TickPipeline(redis)
    try:
        await redis.rpush("list", "x")
        # The server holds the reply back (BLPOP on an empty list); the caller gives up meanwhile.
        slow = asyncio.ensure_future(tick.execute("BLPOP", "empty", 2))
        await asyncio.sleep(0.1)
        for task in list(tick._tasks):
            task.cancel()
        with pytest.raises(Exception):
            await slow
        # The late BLPOP reply must not be read as the answer to this command.
        assert await tick.execute("LRANGE", "list", 0, -1) == [b"x"]
        assert await tick.execute("RPUSH", "empty", "y") == 1
    finally:
        await redis.aclose()
