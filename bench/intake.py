"""Intake benchmark: web messages → tickets committed, against a bare XADD endpoint.

    .venv/bin/python -m bench.intake [--messages 2000] [--concurrency 32]

Both servers run in their own process on PostgreSQL + Redis (local standard ports), the NLU
disabled.  The gateway is measured end to end: from the POST until the worker has committed
the ticket (its reply announcement on Redis pub/sub).  The baseline is a bare aiohttp
endpoint that parses the JSON and XADDs it — the floor any durable intake must pay.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import time
import uuid

import aiohttp
import redis.asyncio as aioredis

from bench.common import REDIS_URL, fresh_database, pct

DB_NAME = "hotline_bench"


def _serve_gateway(port: int, prefix: str, db_url: str) -> None:
    from aiohttp import web

    from config.settings import load_settings
    from gateway.runtime.assembly import create_app

    settings = load_settings(DATABASE_URL=db_url, REDIS_URL=REDIS_URL, HOTLINE_REDIS_PREFIX=prefix,
                             HOTLINE_NLU_ENABLED=False, HOTLINE_RATE_LIMIT_PER_MINUTE=10**9,
                             HOTLINE_DATA_DIR="/tmp/hotline-bench")
    app = create_app(settings, redis_url=REDIS_URL, run_worker=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _serve_bare(port: int, prefix: str) -> None:
    import json

    from aiohttp import web

    async def ctx(app):
        app["redis"] = aioredis.Redis.from_url(REDIS_URL)
        yield
        await app["redis"].aclose()

    async def handler(request: web.Request) -> web.Response:
        payload = json.loads(await request.read())
        await request.app["redis"].xadd(f"{prefix}:bare", {"msg": json.dumps(payload, ensure_ascii=False)})
        return web.json_response({"message_id": uuid.uuid4().hex}, status=202)

    app = web.Application()
    app.cleanup_ctx.append(ctx)
    app.router.add_post("/api/v1/web/messages", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


async def _drive(port: int, n: int, concurrency: int, *, wait_commit: str | None) -> dict:
    """POST n messages with `concurrency` clients; latency to 202, or to the commit announcement."""
    url = f"http://127.0.0.1:{port}/api/v1/web/messages"
    started: dict[str, float] = {}
    finished: dict[str, float] = {}
    all_done = asyncio.Event()
    listener = None
    if wait_commit:
        redis = aioredis.Redis.from_url(REDIS_URL)
        pubsub = redis.pubsub()
        await pubsub.subscribe(wait_commit)

        async def listen():
            while len(finished) < n:
                msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if msg:
                    key = msg["data"].decode().split(":", 1)[1]
                    finished.setdefault(key, time.perf_counter())
            all_done.set()

        listener = asyncio.create_task(listen())
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def client(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            sid = f"bench{uuid.uuid4().hex}"
            native = f"{sid}:m{i:08d}"
            started[native] = time.perf_counter()
            async with session.post(url, json={"session_id": sid, "text": f"第{i}号测试诉求：小区路灯不亮",
                                               "client_message_id": f"m{i:08d}"}) as resp:
                assert resp.status == 202, await resp.text()
                await resp.read()
            if not wait_commit:
                finished[native] = time.perf_counter()

    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    if listener:
        await asyncio.wait_for(all_done.wait(), timeout=300)
        await pubsub.aclose()
        await redis.aclose()
    elapsed = max(finished.values()) - t0
    lat = [finished[k] - started[k] for k in started if k in finished]
    return {"n": len(lat), "rate": len(lat) / elapsed, "p50": pct(lat, 50) * 1000, "p99": pct(lat, 99) * 1000}


async def _fresh_db() -> str:
    return (await fresh_database(DB_NAME))[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)

    from ticketing.db.migrate import upgrade

    db_url = asyncio.run(_fresh_db())
    upgrade(db_url)
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    ctx = multiprocessing.get_context("spawn")
    bare = ctx.Process(target=_serve_bare, args=(18181, prefix), daemon=True)
    gw = ctx.Process(target=_serve_gateway, args=(18182, prefix, db_url), daemon=True)
    bare.start()
    gw.start()
    try:
        asyncio.run(_wait_port(18181))
        asyncio.run(_wait_port(18182))
        base = asyncio.run(_drive(18181, args.messages, args.concurrency, wait_commit=None))
        full = asyncio.run(_drive(18182, args.messages, args.concurrency, wait_commit=f"{prefix}:reply-ready"))
    finally:
        for p in (bare, gw):
            p.terminate()
            p.join(10)

        async def cleanup():
            r = aioredis.Redis.from_url(REDIS_URL)
            keys = [k async for k in r.scan_iter(match=f"{prefix}:*", count=1000)]
            if keys:
                await r.delete(*keys)
            await r.aclose()

        asyncio.run(cleanup())

    print(f"intake benchmark: {args.messages} messages, {args.concurrency} concurrent clients, "
          f"PostgreSQL + Redis, NLU disabled, {os.cpu_count()} cores")
    print(f"{'':34}{'msgs/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'baseline: bare XADD endpoint (202)':34}{base['rate']:>10.0f}{base['p50']:>10.1f}{base['p99']:>10.1f}")
    print(f"{'gateway: POST → ticket committed':34}{full['rate']:>10.0f}{full['p50']:>10.1f}{full['p99']:>10.1f}")
    print(f"ratio gateway/baseline: throughput {full['rate'] / base['rate']:.2f}×, "
          f"p50 latency {full['p50'] / base['p50']:.1f}×, p99 latency {full['p99'] / base['p99']:.1f}×")


if __name__ == "__main__":
    main()
