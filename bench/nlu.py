"""NLU benchmark: parse latency and throughput, model load time, training time.

Measured in one run, side by side on the same messages (the held-out texts):

  rasa     Rasa's own POST /model/parse, raw aiohttp        (the baseline)
  client   nlu.client.NluClient.parse                        (+ rules, gazetteer, request type)
  gateway  POST /api/v1/nlu/parse of the gateway             (+ HTTP, validation, rate limit)

and prints the overhead of the client and of the gateway as ratios to the baseline. The gateway
path runs an in-process gateway app (embedded Redis, SQLite in a temporary folder) unless
--gateway-url names a running one; if it cannot start, `bench_gateway(url, texts)` is the hook.

    .venv/bin/python bench/nlu.py [--url RASA_URL] [--gateway-url URL] [-n 200] [-c 8] [--train]

Without --url a temporary Rasa server is started with the model of the current data; its start-up
until the model answers is the "model load" figure, and a hot swap (PUT /model, same model) is
timed too. --train retrains into a temporary cache to time a training run (about 5 minutes on two
cores); otherwise the time recorded when the cached model was trained is shown.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nlu import evaluate, training  # noqa: E402
from nlu.client import NluClient  # noqa: E402
from nlu.server import RasaProcess, free_port  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def measure(call: Callable[[str], Awaitable[object]], texts: list[str], n: int, concurrency: int) -> dict:
    """n sequential calls (latency), then n calls with `concurrency` in flight (throughput)."""
    for text in texts[:5]:  # warm-up: connections, caches
        await call(text)
    latencies = []
    for i in range(n):
        t0 = time.perf_counter()
        await call(texts[i % len(texts)])
        latencies.append(time.perf_counter() - t0)
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await call(texts[i % len(texts)])

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.perf_counter() - t0
    return {
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "throughput_rps": n / elapsed,
    }


async def bench_rasa(session: aiohttp.ClientSession, url: str, texts: list[str], n: int, c: int) -> dict:
    async def call(text: str) -> object:
        async with session.post(f"{url}/model/parse", json={"text": text}) as resp:
            resp.raise_for_status()
            return await resp.json()

    return await measure(call, texts, n, c)


async def bench_client(url: str, texts: list[str], n: int, c: int) -> dict:
    async with NluClient(url, timeout=30.0) as client:
        async def call(text: str) -> object:
            result = await client.parse(text)
            if result.intent is None:
                raise RuntimeError("the client could not reach Rasa")
            return result

        return await measure(call, texts, n, c)


async def bench_gateway(url: str, texts: list[str], n: int, c: int) -> dict:
    """The hook for any running gateway: POST {url}/api/v1/nlu/parse."""
    async with aiohttp.ClientSession() as session:
        async def call(text: str) -> object:
            async with session.post(f"{url}/api/v1/nlu/parse", json={"text": text}) as resp:
                resp.raise_for_status()
                return await resp.json()

        return await measure(call, texts, n, c)


@contextlib.asynccontextmanager
async def inprocess_gateway(rasa_url: str) -> AsyncIterator[str]:
    """The real gateway app (embedded Redis, SQLite) serving on a free local port."""
    from aiohttp import web

    from config.settings import load_settings
    from gateway.infra.redis_client import EmbeddedRedis
    from gateway.runtime.assembly import create_app

    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        redis = EmbeddedRedis(Path(tmp) / "redis.db")
        try:
            settings = load_settings(
                DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/bench.sqlite3",
                REDIS_URL=redis.url,
                HOTLINE_DATA_DIR=tmp,
                RASA_URL=rasa_url,
                HOTLINE_NLU_ENABLED=True,
                HOTLINE_NLU_TIMEOUT=30,
                HOTLINE_ADMIN_TOKEN="bench-admin-token-0123456789",
            )
            app = create_app(settings, redis_url=redis.url, run_worker=False)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                await runner.cleanup()
        finally:
            redis.shutdown()


def fmt(name: str, r: dict, base: dict | None) -> str:
    ratio = f"  x{r['p50_ms'] / base['p50_ms']:.2f} p50, x{base['throughput_rps'] / r['throughput_rps']:.2f} time/msg" if base else "  (baseline)"
    return f"  {name:<8} p50 {r['p50_ms']:7.1f} ms   p99 {r['p99_ms']:7.1f} ms   {r['throughput_rps']:7.1f} msg/s{ratio}"


async def main(args: argparse.Namespace) -> int:
    texts = [ex["text"] for ex in evaluate.load_heldout()]
    print(f"NLU benchmark — {len(texts)} held-out texts, n={args.n} per path, concurrency {args.concurrency}")

    if args.train:
        with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
            old = os.environ.get("HOTLINE_NLU_MODEL_DIR")
            os.environ["HOTLINE_NLU_MODEL_DIR"] = tmp
            try:
                t0 = time.monotonic()
                training.train(progress=False)
                print(f"  training (rasa train nlu, fresh)   {time.monotonic() - t0:6.1f} s")
            finally:
                if old is None:
                    os.environ.pop("HOTLINE_NLU_MODEL_DIR", None)
                else:
                    os.environ["HOTLINE_NLU_MODEL_DIR"] = old

    server = None
    url = args.url or os.environ.get("RASA_URL")
    try:
        if not url:
            model = training.ensure_model(progress=True)
            info = training.training_info(model)
            if info and not args.train:
                print(f"  training (recorded for {model.name}) {info['train_seconds']:6.1f} s")
            server = RasaProcess(model).start()
            await server.wait_ready()
            url = server.url
            print(f"  model load (process start -> first /status with a model) {server.load_seconds:6.1f} s")
            async with aiohttp.ClientSession() as session:
                t0 = time.monotonic()
                async with session.put(f"{url}/model", json={"model_file": str(model)},
                                       timeout=aiohttp.ClientTimeout(total=600)) as resp:
                    resp.raise_for_status()
                print(f"  hot swap (PUT /model, warm server)                       {time.monotonic() - t0:6.1f} s")

        async with aiohttp.ClientSession() as session:
            base = await bench_rasa(session, url, texts, args.n, args.concurrency)
        print()
        print(fmt("rasa", base, None))
        client = await bench_client(url, texts, args.n, args.concurrency)
        print(fmt("client", client, base))
        try:
            if args.gateway_url:
                gateway = await bench_gateway(args.gateway_url, texts, args.n, args.concurrency)
            else:
                async with inprocess_gateway(url) as gw_url:
                    gateway = await bench_gateway(gw_url, texts, args.n, args.concurrency)
            print(fmt("gateway", gateway, base))
        except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not crash
            print(f"  gateway  skipped: {type(exc).__name__}: {exc} (use --gateway-url or hook bench_gateway)")
    finally:
        if server:
            server.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running Rasa server (default: $RASA_URL, else a temporary one)")
    parser.add_argument("--gateway-url", help="a running gateway (default: an in-process one)")
    parser.add_argument("-n", type=int, default=200, help="messages per path and phase (gateway limit: 600/min)")
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("--train", action="store_true", help="also time a fresh training run")
    sys.exit(asyncio.run(main(parser.parse_args())))
