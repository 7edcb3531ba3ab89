"""Benchmark of the WeChat callback: signed safe-mode text messages at rising concurrency.

For each concurrency level it posts fresh messages (unique MsgIds, signed and encrypted
with wechatpy's crypto exactly as WeChat does) to ``/wechat`` and reports throughput and
p50/p99 reply latency, first for a bare aiohttp endpoint that only checks, decrypts and
echoes (the baseline), then for the app under test, and prints the ratio.  Every reply
is checked afterwards (decrypted, right content) so errors cannot pass as speed.

The app under test is pluggable: ``--app module:function`` names a function returning an
``aiohttp.web.Application`` (or a coroutine of one) that serves POST ``/wechat``.  The
default, :func:`build_app`, is the WeChat connector with a real Redis-stream publish and a
``wait_reply`` that answers at once; point it at the full gateway (PostgreSQL + Redis +
Rasa) with e.g. ``--app gateway.app:build_app`` and the same WECHAT_* environment.

Servers run in child processes on 127.0.0.1 (loopback only); loops are bounded by
``--requests``.  Usage::

    .venv/bin/python bench/wechat.py [--levels 1,8,32] [--requests 400] [--app mod:fn] [--full]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import multiprocessing as mp
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web  # noqa: E402

from bench.common import process_tree_cpu_seconds  # noqa: E402

# Bench credentials, overridable through the environment (the same variables the app reads).
TOKEN = os.environ.get("WECHAT_TOKEN") or "benchtoken2024"
AES_KEY = os.environ.get("WECHAT_ENCODING_AES_KEY") or "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = os.environ.get("WECHAT_APP_ID") or "wx2c2769f8efd9abc2"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
ANSWER = "您好，您的诉求已收到，我们将尽快办理。"


# ---- the apps ---------------------------------------------------------------------------


def build_full_gateway() -> web.Application:
    """The whole gateway (worker included) on PostgreSQL + Redis + Rasa, from BENCH_FULL_* variables.

    Set by ``--full``: a freshly migrated PostgreSQL database and a Rasa server on the current
    model, so each message really goes WeChat → stream → worker → NLU → ticket → passive reply.
    """
    from config.settings import load_settings
    from gateway.runtime.assembly import create_app

    settings = load_settings(
        DATABASE_URL=os.environ["BENCH_FULL_DATABASE_URL"], REDIS_URL=REDIS_URL, RASA_URL=os.environ["BENCH_FULL_RASA_URL"],
        HOTLINE_REDIS_PREFIX=os.environ["BENCH_FULL_PREFIX"], HOTLINE_DATA_DIR=tempfile.mkdtemp(prefix="bench-wechat-"),
        HOTLINE_RATE_LIMIT_PER_MINUTE=10**9,
    )
    # The connector reads its own WECHAT_* variables (as in production).
    os.environ.update(WECHAT_TOKEN=TOKEN, WECHAT_ENCODING_AES_KEY=AES_KEY, WECHAT_APP_ID=APP_ID,
                      WECHAT_APP_SECRET="bench")
    return create_app(settings, redis_url=REDIS_URL, run_worker=True)



def build_app() -> web.Application:
    """The WeChat connector with a Redis-stream publish and an immediate answer."""
    import redis.asyncio as aioredis

    from connectors.base import InboundMessage, IntakeUnavailable
    from connectors.storage import AttachmentStore
    from connectors.wechat import load_wechat_settings, setup_wechat

    prefix = f"bench-wechat-{uuid.uuid4().hex[:8]}"
    redis = aioredis.Redis.from_url(REDIS_URL, decode_responses=False, socket_timeout=5)
    stream = f"{prefix}:intake"

    async def publish(message: InboundMessage) -> str:
        try:
            entry = await redis.xadd(stream, {"message": message.to_json().encode()})
        except Exception as exc:  # the gateway's publish raises the same on a Redis outage
            raise IntakeUnavailable(str(exc)) from exc
        return entry.decode()

    async def wait_reply(channel: str, native_id: str, timeout: float) -> str | None:
        return ANSWER

    settings = load_wechat_settings(
        WECHAT_TOKEN=TOKEN, WECHAT_ENCODING_AES_KEY=AES_KEY, WECHAT_APP_ID=APP_ID, WECHAT_APP_SECRET="bench"
    )
    app = web.Application()
    data_dir = tempfile.mkdtemp(prefix="bench-wechat-")

    async def redis_lifecycle(_app: web.Application):
        yield
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
        for i in range(0, len(keys), 500):
            await redis.delete(*keys[i : i + 500])
        await redis.aclose()
        shutil.rmtree(data_dir, ignore_errors=True)

    # Registered before the connector's own cleanup, so it runs after it (reverse order):
    # deferred deliveries may still need Redis while they stop.
    app.cleanup_ctx.append(redis_lifecycle)
    setup_wechat(
        app,
        settings,
        publish=publish,
        wait_reply=wait_reply,
        attachments=AttachmentStore(data_dir),
        redis=redis,
        key_prefix=f"{prefix}:conn:wechat",
    )
    return app


def build_baseline_app() -> web.Application:
    """Bare aiohttp: check timestamp and msg_signature, decrypt, echo the text back encrypted."""
    from connectors.wechat.security import (
        CallbackCrypto,
        CallbackRejected,
        check_timestamp,
        parse_xml,
        render_text_reply,
    )

    crypto = CallbackCrypto(TOKEN, AES_KEY, APP_ID)

    async def echo(request: web.Request) -> web.Response:
        q = request.query
        try:
            check_timestamp(q.get("timestamp"), 300)
            outer = parse_xml(await request.read())
            plain = crypto.decrypt(outer.get("Encrypt", ""), q.get("msg_signature"), q["timestamp"], q["nonce"])
            inner = parse_xml(plain)
        except CallbackRejected as exc:
            return web.Response(status=exc.status)
        xml = render_text_reply(inner["FromUserName"], inner["ToUserName"], inner.get("Content", ""))
        return web.Response(text=crypto.encrypt_reply(xml), content_type="application/xml")

    app = web.Application()
    app.router.add_post("/wechat", echo)
    return app


# ---- server processes ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(spec: str, port: int) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    module, _, name = spec.partition(":")
    factory = getattr(importlib.import_module(module), name)
    app = factory()
    # run_app accepts an Application or a coroutine of one; it handles SIGTERM with cleanup.
    # uvloop for both (``hotline web`` runs on it): the comparison stays like for like.
    import uvloop

    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, handle_signals=True,
                loop=uvloop.new_event_loop())


async def _wait_listening(port: int, proc: mp.Process, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.is_alive():
            raise RuntimeError(f"server process exited with {proc.exitcode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start listening in time")


# ---- load ------------------------------------------------------------------------------


@dataclass
class Level:
    app: str
    concurrency: int
    requests: int
    seconds: float
    latencies: list[float]
    errors: int
    deferred: int = 0
    unavailable: int = 0  # 503 answers
    cpu_ms: float = 0.0  # the server process's CPU per request

    @property
    def slowest_ms(self) -> float:
        return max(self.latencies, default=0.0) * 1000

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _prepare(count: int, tag: str) -> list[tuple[str, bytes, str, str]]:
    from connectors.wechat.simulator import WeChatPlatform

    platform = WeChatPlatform(TOKEN, mode="safe", encoding_aes_key=AES_KEY, app_id=APP_ID)
    out = []
    for i in range(count):
        openid = f"oBench{tag}{i:06d}".ljust(28, "x")[:28]
        text = f"测试消息 {tag}-{i}：新华区某小区路灯不亮"
        req = platform.sign_request(platform.text(openid, text))
        out.append((req.query, req.body, openid, text))
    return out


async def _run_level(url: str, name: str, concurrency: int, count: int, *, expect: str) -> Level:
    """``expect``: "echo" (the text sent), "answer" (ANSWER) or "any" (any passive text
    reply or `success`, for a full gateway whose bot answers vary or come late)."""
    from connectors.wechat.simulator import WeChatPlatform

    work = _prepare(count, f"{name[:1]}{concurrency}")  # signed before the clock starts
    latencies: list[float] = []
    bodies: list[tuple[int, str, str, str]] = []
    queue: asyncio.Queue[tuple[str, bytes, str, str]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)

    async with ClientSession(connector=TCPConnector(limit=concurrency), timeout=ClientTimeout(total=30)) as session:

        async def worker() -> None:
            while True:
                try:
                    query, body, openid, sent_text = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                try:
                    async with session.post(f"{url}?{query}", data=body) as resp:
                        text = await resp.text()
                        status = resp.status
                except Exception as exc:  # counted as an error, the run goes on
                    status, text = 0, repr(exc)
                latencies.append(time.perf_counter() - started)
                bodies.append((status, text, openid, sent_text))

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - began

    # Check every answer after the clock stopped.
    platform = WeChatPlatform(TOKEN, mode="safe", encoding_aes_key=AES_KEY, app_id=APP_ID)
    errors = deferred = unavailable = 0
    for status, text, openid, sent_text in bodies:
        try:
            if status != 200:
                errors += 1
                unavailable += status == 503
                continue
            reply = platform.read_reply(text)
            if reply is None:
                deferred += 1  # `success`: answer to follow as a customer-service message
                errors += expect != "any"
                continue
            wanted = {"echo": sent_text, "answer": ANSWER}.get(expect)
            addressed = reply.get("ToUserName") == openid and bool(reply.get("Content"))
            if not addressed or (wanted is not None and reply["Content"] != wanted):
                errors += 1
        except Exception:
            errors += 1
    return Level(name, concurrency, count, seconds, latencies, errors, deferred, unavailable)


async def _bench_app(name: str, spec: str, levels: list[int], count: int, *, expect: str) -> list[Level]:
    port = _free_port()
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=_serve, args=(spec, port), daemon=True)
    proc.start()
    try:
        await _wait_listening(port, proc)
        url = f"http://127.0.0.1:{port}/wechat"
        await _run_level(url, name, 4, min(40, count), expect=expect)  # warm-up: connections, imports
        results = []
        for concurrency in levels:
            cpu0 = process_tree_cpu_seconds(proc.pid)
            level = await _run_level(url, name, concurrency, count, expect=expect)
            level.cpu_ms = (process_tree_cpu_seconds(proc.pid) - cpu0) * 1000 / max(level.requests, 1)
            results.append(level)
            print(
                f"{name:<9} c={concurrency:<3} n={level.requests:<5} {level.throughput:8.1f} req/s"
                f"   p50 {level.pct(0.50):7.2f} ms   p99 {level.pct(0.99):7.2f} ms   max {level.slowest_ms:7.1f} ms"
                f"   CPU {level.cpu_ms:5.2f} ms/req   errors {level.errors} (503: {level.unavailable})"
                f"   success-only {level.deferred}",
                flush=True,
            )
        return results
    finally:
        proc.terminate()  # SIGTERM → run_app's graceful exit → cleanup_ctx (Redis keys deleted)
        proc.join(15)
        if proc.is_alive():
            proc.kill()
            proc.join(5)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,8,32,100", help="comma-separated concurrency levels")
    parser.add_argument("--requests", type=int, default=400, help="messages per level (bounded)")
    parser.add_argument("--app", default="bench.wechat:build_app", help="module:function building the app under test")
    parser.add_argument("--baseline", default="bench.wechat:build_baseline_app")
    parser.add_argument("--full", action="store_true",
                        help="the whole gateway on PostgreSQL + Redis + a Rasa server (the issue's set-up)")
    args = parser.parse_args(argv)
    rasa = None
    if args.full:
        rasa = await _start_full_stack()
        args.app = "bench.wechat:build_full_gateway"
    try:
        return await _main(parser, args)
    finally:
        if rasa is not None:
            rasa.stop()


async def _start_full_stack():
    """Fresh database, migrations, a Rasa server on the current model; the child reads the env."""
    from bench.common import fresh_database
    from nlu import training
    from nlu.server import RasaProcess
    from ticketing.db.migrate import upgrade

    _, db_url = await fresh_database("hotline_bench_wechat")
    await asyncio.to_thread(upgrade, db_url)
    rasa = RasaProcess(training.ensure_model(progress=True)).start()
    await rasa.wait_ready(timeout=240)
    os.environ.update(BENCH_FULL_DATABASE_URL=db_url, BENCH_FULL_RASA_URL=rasa.url,
                      BENCH_FULL_PREFIX=f"benchwx{uuid.uuid4().hex[:8]}")
    print(f"full stack: PostgreSQL {db_url.rsplit('/', 1)[-1]}, Redis, Rasa {rasa.url} ({rasa.load_seconds:.0f} s to load)")
    return rasa


async def _main(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    count = max(1, min(args.requests, 20_000))
    if any(not 1 <= c <= 256 for c in levels):
        parser.error("concurrency levels must be 1..256")

    print(f"WeChat callback bench: safe mode, {count} messages per level, levels {levels}, cpus {os.cpu_count()}")
    base = await _bench_app("baseline", args.baseline, levels, count, expect="echo")
    default_app = args.app == parser.get_default("app") and not args.full
    test = await _bench_app("wechat", args.app, levels, count, expect="answer" if default_app else "any")
    print()
    print("ratio (app under test / baseline):")
    for b, t in zip(base, test, strict=True):
        print(
            f"  c={t.concurrency:<3} throughput x{t.throughput / b.throughput:5.2f}"
            f"   p50 x{t.pct(0.5) / b.pct(0.5):5.2f}   p99 x{t.pct(0.99) / b.pct(0.99):5.2f}"
            f"   (p99 {t.pct(0.99):.1f} ms, slowest {t.slowest_ms:.0f} ms of WeChat's 5000 ms;"
            f" 503: {t.unavailable}; CPU {t.cpu_ms:.2f} vs {b.cpu_ms:.2f} ms/req)"
        )
    failed = sum(level.errors for level in base + test)
    if failed:
        print(f"{failed} replies were wrong or missing", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
