"""Per-process capacity: CPU time per message of a `hotline web` and of a `hotline worker`, each in
its own OS process as they run in production (docs/scaling.md sizes the replicas from these).

    .venv/bin/python -m bench.processes [--messages 1500] [--concurrency 16]

PostgreSQL + Redis on their local standard ports, the NLU disabled. First the web alone: the
messages are posted and accepted (202, on the stream) with no worker running, so the web's CPU time
is its own. Then one worker is started and drains the stream: its CPU time per ticket committed.
The baseline, measured in the same run, is a bare aiohttp endpoint that parses the JSON and XADDs
it (bench.intake's), the floor of any durable intake.  CPU time is each server process's own
user + system time (Linux /proc), so a busy machine slows the wall-clock rates far more than it
changes these.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

from bench.common import REDIS_URL, free_port, fresh_database, process_cpu_seconds
from bench.intake import _serve_bare, _wait_port

DB_NAME = "hotline_bench_processes"
HOTLINE = str(Path(sys.executable).with_name("hotline"))
WARM_UP = 100


async def _post(port: int, n: int, concurrency: int) -> float:
    """POST n web messages with `concurrency` clients; seconds until the last 202."""
    url = f"http://127.0.0.1:{port}/api/v1/web/messages"
    pending = list(range(n))

    async def client(session: aiohttp.ClientSession) -> None:
        while pending:
            i = pending.pop()
            async with session.post(url, json={"session_id": f"proc{uuid.uuid4().hex}", "text": f"第{i}号测试诉求：小区路灯不亮",
                                               "client_message_id": f"m{i:08d}"}) as resp:
                assert resp.status == 202, await resp.text()

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    return time.perf_counter() - started


async def _drained(stream: str, total: int) -> tuple[float, float] | None:
    """Wait until the group has read and acknowledged `total` entries; returns when it first existed
    (perf_counter) so the worker's start-up is not counted as draining time."""
    redis = aioredis.Redis.from_url(REDIS_URL)
    seen = None
    try:
        while True:
            groups = await redis.xinfo_groups(stream)
            group = next((g for g in groups if g["name"] in (b"workers", "workers")), None)
            if group is not None:
                seen = seen or time.perf_counter()
                if group["entries-read"] >= total and group["lag"] == 0 and group["pending"] == 0:
                    return seen, time.perf_counter()
            await asyncio.sleep(0.2)
    finally:
        await redis.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    n = args.messages

    from ticketing.db.migrate import upgrade

    _, db_url = asyncio.run(fresh_database(DB_NAME))
    upgrade(db_url)
    prefix = f"benchproc{uuid.uuid4().hex[:8]}"
    port, bare_port = free_port(), free_port()
    env = dict(os.environ, DATABASE_URL=db_url, REDIS_URL=REDIS_URL, HOTLINE_REDIS_PREFIX=prefix,
               HOTLINE_NLU_ENABLED="false", HOTLINE_RATE_LIMIT_PER_MINUTE=str(10**9), HOTLINE_HTTP_PORT=str(port),
               HOTLINE_DATA_DIR=tempfile.mkdtemp(prefix="hotline-bench-processes-"),
               HOTLINE_SECRET_KEY=uuid.uuid4().hex)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    web = subprocess.Popen([HOTLINE, "web"], **quiet)
    bare = multiprocessing.get_context("spawn").Process(target=_serve_bare, args=(bare_port, prefix), daemon=True)
    bare.start()
    worker = None
    try:
        asyncio.run(_wait_port(port))
        asyncio.run(_wait_port(bare_port))
        asyncio.run(_post(bare_port, WARM_UP, args.concurrency))
        asyncio.run(_post(port, WARM_UP, args.concurrency))
        cpu = process_cpu_seconds(bare.pid)
        bare_wall = asyncio.run(_post(bare_port, n, args.concurrency))
        bare_cpu = process_cpu_seconds(bare.pid) - cpu
        cpu = process_cpu_seconds(web.pid)
        web_wall = asyncio.run(_post(port, n, args.concurrency))
        web_cpu = process_cpu_seconds(web.pid) - cpu
        worker = subprocess.Popen([HOTLINE, "worker"], **quiet)
        cpu = process_cpu_seconds(worker.pid)
        first, last = asyncio.run(_drained(f"{prefix}:intake", n + WARM_UP))
        worker_cpu = process_cpu_seconds(worker.pid) - cpu  # start-up included: a slight overestimate
    finally:
        for process in (worker, web):
            if process is not None:
                process.terminate()
                process.wait(20)
        bare.terminate()
        bare.join(10)

        async def cleanup() -> None:
            redis = aioredis.Redis.from_url(REDIS_URL)
            keys = [key async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()

        asyncio.run(cleanup())

    tickets = n + WARM_UP
    print(f"process benchmark: {n} messages, {args.concurrency} concurrent clients, PostgreSQL + Redis, NLU "
          f"disabled, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{'':44}{'per s (wall)':>14}{'CPU-ms each':>13}")
    print(f"{'baseline: bare XADD endpoint (202)':44}{n / bare_wall:>14.0f}{bare_cpu * 1000 / n:>13.2f}")
    print(f"{'hotline web: POST → 202 (on the stream)':44}{n / web_wall:>14.0f}{web_cpu * 1000 / n:>13.2f}")
    print(f"{'hotline worker: entry → ticket committed':44}{tickets / (last - first):>14.0f}"
          f"{worker_cpu * 1000 / tickets:>13.2f}")
    print(f"ratio web/baseline: CPU per request {web_cpu / bare_cpu:.2f}×, wall rate {bare_wall / web_wall:.2f}×")


if __name__ == "__main__":
    main()
