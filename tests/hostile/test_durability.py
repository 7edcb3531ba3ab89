"""Issue #12, item 6: accepted messages live in Redis until a worker commits them, so a Redis
without its append-only file loses them when it restarts (482 did).  The gateway says so loudly
at start-up and on /healthz, and the embedded Redis always keeps an AOF."""

from __future__ import annotations

import logging
import uuid

from gateway.infra.redis_client import EmbeddedRedis, connect
from tests.gateway.infra.redis_server import redis_server_fixture

volatile_redis = redis_server_fixture(appendonly=False)
durable_redis = redis_server_fixture(appendonly=True)


async def test_a_redis_without_aof_is_warned_about_at_start_up_and_on_healthz(make_client, volatile_redis, caplog):
    with caplog.at_level(logging.WARNING):
        client = await make_client(redis_url=volatile_redis.url, run_worker=False)
    assert any("PERSISTENCE IS OFF" in r.getMessage() and r.levelno >= logging.WARNING for r in caplog.records)
    body = await (await client.get("/healthz")).json()
    assert body["redis_persistence"] == "off"


async def test_a_redis_with_aof_is_reported_and_not_warned_about(make_client, durable_redis, caplog):
    with caplog.at_level(logging.WARNING):
        client = await make_client(redis_url=durable_redis.url, run_worker=False)
    assert not any("PERSISTENCE" in r.getMessage() for r in caplog.records)
    assert (await (await client.get("/healthz")).json())["redis_persistence"] == "aof"


async def test_a_worker_process_warns_too(stack, volatile_redis, caplog):
    from gateway.runtime.assembly import create_service_app

    app = create_service_app(stack.settings(), redis_url=volatile_redis.url, services=())
    with caplog.at_level(logging.WARNING):
        contexts = [ctx(app) for ctx in app.cleanup_ctx]
        try:
            for ctx in contexts:
                await anext(ctx)
        finally:
            for ctx in reversed(contexts):
                await anext(ctx, None)
    assert any("PERSISTENCE IS OFF" in r.getMessage() for r in caplog.records)


async def test_the_embedded_redis_keeps_accepted_entries_across_its_restart(tmp_path):
    path = tmp_path / "redis.db"
    server = EmbeddedRedis(path)
    redis = connect(server.url)
    marker = uuid.uuid4().hex.encode()
    try:
        assert (await redis.config_get("appendonly"))["appendonly"] == "yes"
        await redis.xadd("hotline:intake", {"msg": marker})
    finally:
        await redis.aclose()
        server.shutdown()
    server = EmbeddedRedis(path)
    redis = connect(server.url)
    try:
        entries = await redis.xrange("hotline:intake")
        assert [fields[b"msg"] for _id, fields in entries] == [marker]
    finally:
        await redis.aclose()
        server.shutdown()
