"""The one Redis client of a process: pool size and health checks from settings, retries that
survive a Redis restart, and the persistence check."""

from __future__ import annotations

import asyncio

from gateway.infra.redis_client import connect, persistence
from gateway.infra.resources import REDIS
from gateway.runtime.assembly import create_service_app
from tests.gateway.infra.redis_server import redis_server_fixture

redis_server = redis_server_fixture()
durable_redis_server = redis_server_fixture(appendonly=True)


async def test_a_pooled_client_survives_a_redis_restart(redis_server):
    redis = connect(redis_server.url)
    try:
        await asyncio.gather(*(redis.set(f"k{i}", i) for i in range(8)))  # eight pooled connections
        redis_server.restart()
        results = await asyncio.gather(*(redis.set(f"k{i}", i) for i in range(8)), return_exceptions=True)
        assert results == [True] * 8
    finally:
        await redis.aclose()


async def test_a_burst_over_the_pool_cap_waits_for_a_connection_instead_of_failing(redis_server):
    # 200 WeChat callbacks at once used to meet MaxConnectionsError (→ 503) on a full pool.
    redis = connect(redis_server.url, max_connections=10)
    try:
        results = await asyncio.gather(*(redis.blpop([f"empty{i}"], timeout=0.2) for i in range(30)),
                                       return_exceptions=True)
        assert results == [None] * 30
    finally:
        await redis.aclose()


async def test_a_pool_that_stays_full_fails_after_its_wait(redis_server):
    redis = connect(redis_server.url, max_connections=10, pool_wait_seconds=0.3)
    try:
        results = await asyncio.gather(*(redis.blpop([f"empty{i}"], timeout=2) for i in range(11)),
                                       return_exceptions=True)
        assert sum(isinstance(r, Exception) for r in results) == 1
    finally:
        await redis.aclose()


async def test_the_worker_process_sizes_its_pool_and_health_checks_from_settings(stack, redis_server):
    settings = stack.settings(HOTLINE_REDIS_MAX_CONNECTIONS=37, HOTLINE_REDIS_HEALTH_CHECK_SECONDS=7)
    app = create_service_app(settings, redis_url=redis_server.url, services={"worker"})
    pool = app[REDIS].connection_pool
    try:
        assert pool.max_connections == 37
        assert pool.connection_kwargs["health_check_interval"] == 7
        assert pool.connection_kwargs["retry"].get_retries() >= 3
    finally:
        await app[REDIS].aclose()


async def test_persistence_reads_appendonly(redis_server, durable_redis_server):
    volatile, durable = connect(redis_server.url), connect(durable_redis_server.url)
    try:
        assert await persistence(volatile) == "off"
        assert await persistence(durable) == "aof"
    finally:
        await volatile.aclose()
        await durable.aclose()


async def test_persistence_is_unknown_when_redis_is_unreachable():
    redis = connect("redis://127.0.0.1:1/0")
    try:
        assert await persistence(redis) == "unknown"
    finally:
        await redis.aclose()
