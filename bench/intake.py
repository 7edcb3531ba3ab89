"""Intake benchmark: the 202 ingress, the worker, and POST → committed ticket, against a bare XADD endpoint.

    .venv/bin/python -m bench.intake [--messages 2000] [--concurrency 32] [--rounds 3] [--batch 200]

PostgreSQL + Redis on their local standard ports, the NLU off.  Every server is a process of
its own, started as in production (``hotline web``, ``hotline worker``), and four measures run
in alternating rounds so the machine's other load spreads over all of them alike:

* **bare**: an aiohttp endpoint that parses the JSON and XADDs it, nothing else — the floor any
  durable intake pays (same event loop, uvloop, and the same Redis client with hiredis);
* **202 alone**: ``hotline web`` with no worker reading its stream: validation, rate limit,
  the retried-text check and XADD, then the 202;
* **worker alone**: ``hotline worker`` draining a stream the bench filled in one go: tickets
  committed and announced per second;
* **end to end**: ``hotline web`` + ``hotline worker`` (two processes): from the POST until the
  worker's reply announcement on Redis (the ticket is committed before it).

Each figure is printed beside the bare endpoint's of the same round (ratio), with the CPU the
servers used per request or ticket (from /proc: user + system time, ended children included),
since wall-clock rates on a shared machine say as much about the neighbours as about the code;
and the whole machine's busy CPU per request (/proc/stat: PostgreSQL, Redis and the load generator
too), which gives the most the cores could carry at that cost on an idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import orjson
import redis.asyncio as aioredis

from bench.common import (
    REDIS_URL,
    command_cpu_seconds,
    free_port,
    fresh_database,
    median,
    pct,
    post_json_many,
    machine_cpu_seconds,
    process_tree_cpu_seconds,
)

DB_NAME = "hotline_bench_batch"
PATH = "/api/v1/web/messages"


# --------------------------------------------------------------------------- the bare endpoint

def serve_bare(port: int, stream: str) -> None:
    import uvloop
    from aiohttp import web

    async def ctx(app: web.Application):
        app["redis"] = aioredis.Redis.from_url(REDIS_URL)
        yield
        await app["redis"].aclose()

    async def handler(request: web.Request) -> web.Response:
        payload = orjson.loads(await request.read())
        await request.app["redis"].xadd(stream, {"msg": orjson.dumps(payload)})
        return web.Response(body=orjson.dumps({"message_id": uuid.uuid4().hex}), status=202,
                            content_type="application/json")

    app = web.Application()
    app.cleanup_ctx.append(ctx)
    app.router.add_post(PATH, handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=uvloop.new_event_loop())


# --------------------------------------------------------------------------- processes

class Server:
    """A child process of the bench (its output in a log file), stopped at the end."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log = (log_dir / f"{name}.log").open("wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def cpu(self) -> float:
        return process_tree_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def hotline_env(db_url: str, prefix: str, data_dir: Path, *, batch: int, port: int | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": db_url, "REDIS_URL": REDIS_URL, "HOTLINE_REDIS_PREFIX": prefix,
        "HOTLINE_NLU_ENABLED": "false", "HOTLINE_RATE_LIMIT_PER_MINUTE": str(10**9),
        "HOTLINE_DATA_DIR": str(data_dir), "HOTLINE_SECRET_KEY": "bench-" + "k" * 40,
        "HOTLINE_WORKER_BATCH": str(batch),
    })
    if port is not None:
        env["HOTLINE_HTTP_PORT"] = str(port)
    return env


def hotline_bin() -> str:
    return str(Path(sys.executable).with_name("hotline"))


async def wait_port(port: int, server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}; see {server.log.name}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{server.name} did not listen on {port}")


# --------------------------------------------------------------------------- the measures

def bodies(n: int, tag: str) -> list[bytes]:
    """Each message from a citizen of its own: all become new tickets (the plain intake)."""
    return [orjson.dumps({"session_id": f"b{tag}{i:08d}x{uuid.uuid4().hex[:8]}",
                          "text": f"第{i}号测试诉求：建设路小区门口的路灯坏了一个星期",
                          "client_message_id": f"m{tag}{i:08d}"}) for i in range(n)]


class Meter:
    """CPU per request or ticket over one measure: the servers', PostgreSQL's, Redis's and the machine's."""

    def __init__(self, servers: list[Server]) -> None:
        self.servers = servers
        self.start = self._read()

    def _read(self) -> tuple[float, float, float, float]:
        return (sum(s.cpu() for s in self.servers), command_cpu_seconds("postgres"),
                command_cpu_seconds("redis-server"), machine_cpu_seconds())

    def per(self, n: int) -> dict[str, float]:
        used = [(end - start) * 1000 / n for start, end in zip(self.start, self._read())]
        return dict(zip(("cpu_ms", "postgres_ms", "redis_ms", "machine_ms"), used))


async def drive(port: int, n: int, concurrency: int, servers: list[Server]) -> dict[str, float]:
    meter = Meter(servers)
    elapsed, latencies = await post_json_many(port, PATH, bodies(n, uuid.uuid4().hex[:6]), concurrency)
    return {"rate": n / elapsed, "p50": pct(latencies, 50) * 1000, "p99": pct(latencies, 99) * 1000,
            **meter.per(n)}


class Announcements:
    """Counts the worker's reply announcements (one per committed message) on a prefix's topic."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self.pubsub = redis.pubsub()
        self.topic = f"{prefix}:reply-ready"
        self.count = 0
        self.changed = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        await self.pubsub.subscribe(self.topic)

        async def listen() -> None:
            async for message in self.pubsub.listen():
                if message["type"] == "message":
                    self.count += 1
                    self.changed.set()

        self.task = asyncio.create_task(listen())

    async def reach(self, target: int, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while self.count < target:
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"only {self.count} of {target} announced on {self.topic}")
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                pass

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
        await self.pubsub.aclose()


async def drive_end_to_end(port: int, n: int, concurrency: int, servers: list[Server],
                           done: Announcements) -> dict[str, float]:
    before = done.count
    meter = Meter(servers)
    t0 = time.perf_counter()
    _elapsed, latencies = await post_json_many(port, PATH, bodies(n, uuid.uuid4().hex[:6]), concurrency)
    await done.reach(before + n)
    elapsed = time.perf_counter() - t0
    return {"rate": n / elapsed, "p50": pct(latencies, 50) * 1000, "p99": pct(latencies, 99) * 1000,
            **meter.per(n)}


async def drain(redis: aioredis.Redis, prefix: str, n: int, worker: Server, done: Announcements) -> dict[str, float]:
    """Fill the worker's stream with ``n`` messages in one pipeline; tickets/s until all are announced."""
    from connectors.base import Contact, InboundMessage

    tag = uuid.uuid4().hex[:6]
    now = datetime.now(timezone.utc)
    payloads = [InboundMessage(channel="web", native_id=f"{tag}-{i}", sender_id=f"d{tag}{i:08d}",
                               text=f"第{i}号积压诉求：路灯不亮", received_at=now,
                               contact=Contact(phone="13900001111")).to_json().encode() for i in range(n)]
    before = done.count
    meter = Meter([worker])
    t0 = time.perf_counter()
    async with redis.pipeline(transaction=False) as pipe:
        for payload in payloads:
            pipe.xadd(f"{prefix}:intake", {"msg": payload})
        await pipe.execute()
    await done.reach(before + n)
    elapsed = time.perf_counter() - t0
    return {"rate": n / elapsed, **meter.per(n)}


# --------------------------------------------------------------------------- the run

async def run(args: argparse.Namespace, log_dir: Path) -> dict[str, list[dict[str, float]]]:
    from ticketing.db.migrate import upgrade

    _, db_url = await fresh_database(DB_NAME)
    await asyncio.to_thread(upgrade, db_url)
    run_tag = uuid.uuid4().hex[:6]
    prefixes = {name: f"benchbatch{run_tag}{name}" for name in ("bare", "ingress", "drain", "e2e")}
    ports = {name: free_port() for name in ("bare", "ingress", "e2e")}
    data_dir = log_dir / "var"
    hotline = hotline_bin()
    servers: dict[str, Server] = {}
    redis = aioredis.Redis.from_url(REDIS_URL)
    drained = Announcements(redis, prefixes["drain"])
    e2e_done = Announcements(redis, prefixes["e2e"])
    results: dict[str, list[dict[str, float]]] = {"bare": [], "ingress": [], "drain": [], "e2e": []}
    try:
        servers["bare"] = Server("bare", [sys.executable, "-m", "bench.intake", "--serve-bare", str(ports["bare"]),
                                          f"{prefixes['bare']}:intake"], dict(os.environ), log_dir)
        for name, prefix in (("ingress", prefixes["ingress"]), ("e2e", prefixes["e2e"])):
            env = hotline_env(db_url, prefix, data_dir, batch=args.batch, port=ports[name])
            servers[f"{name}-web"] = Server(f"{name}-web", [hotline, "web"], env, log_dir)
        for name in ("drain", "e2e"):
            env = hotline_env(db_url, prefixes[name], data_dir, batch=args.batch)
            servers[f"{name}-worker"] = Server(f"{name}-worker", [hotline, "worker", "--consumer", f"bench-{name}"],
                                               env, log_dir)
        for name in ("bare", "ingress", "e2e"):
            await wait_port(ports[name], servers[name if name == "bare" else f"{name}-web"])
        await drained.start()
        await e2e_done.start()
        await asyncio.sleep(2)  # the workers have created their consumer groups
        # A warm-up round, not counted: connections opened, code paths and caches warm.
        warm = max(100, args.messages // 10)
        await drive(ports["bare"], warm, args.concurrency, [servers["bare"]])
        await drive(ports["ingress"], warm, args.concurrency, [servers["ingress-web"]])
        await drain(redis, prefixes["drain"], warm, servers["drain-worker"], drained)
        await drive_end_to_end(ports["e2e"], warm, args.concurrency,
                               [servers["e2e-web"], servers["e2e-worker"]], e2e_done)
        for round_no in range(args.rounds):
            results["bare"].append(await drive(ports["bare"], args.messages, args.concurrency, [servers["bare"]]))
            results["ingress"].append(await drive(ports["ingress"], args.messages, args.concurrency,
                                                  [servers["ingress-web"]]))
            results["drain"].append(await drain(redis, prefixes["drain"], args.messages, servers["drain-worker"],
                                                drained))
            results["e2e"].append(await drive_end_to_end(
                ports["e2e"], args.messages, args.concurrency, [servers["e2e-web"], servers["e2e-worker"]], e2e_done))
            await redis.delete(f"{prefixes['bare']}:intake", f"{prefixes['ingress']}:intake")
            print(f"round {round_no + 1}: " + ", ".join(f"{k} {v[-1]['rate']:.0f}/s" for k, v in results.items()),
                  flush=True)
    finally:
        await drained.close()
        await e2e_done.close()
        for server in servers.values():
            server.stop()
        keys = [key for prefix in prefixes.values() async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
    return results


def report(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    bare = results["bare"]
    cores = os.cpu_count() or 1
    print(f"\nintake benchmark: {args.messages} messages × {args.rounds} rounds, {args.concurrency} concurrent "
          f"connections, worker batch {args.batch}, PostgreSQL + Redis, NLU off, {os.cpu_count()} cores")
    print(f"{'':44}{'per s':>8}{'× bare':>8}{'p50 ms':>8}{'p99 ms':>8}{'CPU ms':>8}{'PG ms':>7}{'Redis':>7}"
          f"{'machine':>9}{'at most':>9}   target")
    rows = [
        ("bare aiohttp + XADD endpoint (202)", "bare", "baseline"),
        ("hotline web, 202 alone (no worker)", "ingress", "≥ 0.8× bare"),
        ("hotline worker alone, tickets (pre-filled)", "drain", "≥ 1,500/s"),
        ("web + worker processes: POST → ticket", "e2e", "≥ 0.5× bare, ≥ 1,000/s"),
    ]
    figures = {key: {name: median([r[name] for r in results[key]]) for name in results[key][0]} for key in results}
    for label, key, target in rows:
        runs, row = results[key], figures[key]
        ratio = median([run["rate"] / base["rate"] for run, base in zip(runs, bare)])
        p50 = f"{row['p50']:>8.1f}" if "p50" in row else f"{'':>8}"
        p99 = f"{row['p99']:>8.1f}" if "p99" in row else f"{'':>8}"
        print(f"{label:44}{row['rate']:>8.0f}{ratio:>7.2f}×{p50}{p99}{row['cpu_ms']:>8.2f}{row['postgres_ms']:>7.2f}"
              f"{row['redis_ms']:>7.2f}{row['machine_ms']:>9.2f}{cores * 1000 / row['machine_ms']:>9.0f}   {target}")
    print("(medians over the rounds; × bare: each round against the bare endpoint's rate of the same round; "
          "CPU ms: the servers' user + system CPU per request or ticket — the web process, the worker, or both; "
          "PG ms, Redis: PostgreSQL's and Redis's own CPU per request or ticket (every local `postgres` and "
          "`redis-server` process; the worker-alone Redis figure includes the bench's filling of the stream); "
          "machine: the whole machine's busy CPU ms per request or ticket — servers, PostgreSQL, Redis, the load "
          "generator and anything else running; at most: "
          f"the {cores} cores / machine, the rate the machine could carry at that cost)")
    # What 0.5× bare end to end asks of this machine when it is the cores, not the code, that are the limit.
    budget = 2 * figures["bare"]["machine_ms"]
    floor = figures["ingress"]["machine_ms"] + figures["drain"]["postgres_ms"]
    print(f"0.5× bare end to end on {cores} cores: at most {budget:.2f} machine-ms a ticket for everything; the 202 "
          f"alone takes {figures['ingress']['machine_ms']:.2f} and PostgreSQL's own commit of the ticket "
          f"{figures['drain']['postgres_ms']:.2f}, {floor:.2f} before the worker's first instruction")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=200, help="HOTLINE_WORKER_BATCH of the workers")
    parser.add_argument("--serve-bare", nargs=2, metavar=("PORT", "STREAM"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(int(args.serve_bare[0]), args.serve_bare[1])
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hotline-bench-intake-") as tmp:
        try:
            results = asyncio.run(run(args, Path(tmp)))
        except Exception:
            for log in sorted(Path(tmp).glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}", file=sys.stderr)
            raise
    report(results, args)


if __name__ == "__main__":
    main()
