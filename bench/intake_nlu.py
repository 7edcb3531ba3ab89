"""With the NLU: POST → classified ticket, against Rasa's ``/model/parse`` alone, in one run.

    .venv/bin/python -m bench.intake_nlu [--messages 300] [--concurrency 32] [--rounds 2]
                                         [--rasa-processes 1] [--rasa-url URL] [--code DIR]

PostgreSQL + Redis on their local ports, Rasa on the cached model, ``hotline web`` and ``hotline
worker`` as two processes. In alternating rounds, the same citizens' texts (bench/nlu_stack.py:
distinct, so no parse is shared) at the same concurrency:

* **parse alone**: POST ``/model/parse`` straight to the Rasa server(s), one message a request,
  the reference of issue 15;
* **batch route alone**: the same through ``/webhooks/parse/batch`` (nlu/rasa_batch.py) in the
  batches the gateway's NLU client sends: the ceiling of this pipeline, which spends less of
  Rasa's CPU on HTTP than the reference does;
* **POST → classified ticket**: POST ``/api/v1/web/messages`` to ``hotline web``; the clock stops
  when the worker has announced every reply (each ticket committed before), and the tickets that
  got the NLU's classification are counted (a parse that failed or timed out leaves a ticket
  unclassified: it is not counted as done).

The rate of the second is the classified tickets per second; its ratio to the first is the
figure of issue 15 (target ≥ 0.8×); its ratio to the batch route alone is printed too, so a gain
that comes only from Rasa's cheaper batches shows as such. CPU-ms per message of each process (from
/proc) beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import orjson
import redis.asyncio as aioredis

from bench.common import REDIS_URL, free_port, fresh_database, median, pct, post_json_many
from bench.intake import PATH, Announcements, Server, hotline_bin, hotline_env, wait_port
from bench.nlu_stack import RasaServers, citizen_texts, classified_counts, load_average
from nlu.servers import BATCH_PATH, PER_SERVER

DB_NAME = "hotline_bench_intake_nlu"


async def parse_alone(urls: list[str], texts: list[str], concurrency: int) -> tuple[float, list[float]]:
    """Every text parsed by Rasa, ``concurrency`` at a time, spread over the servers in turn."""
    queue = list(reversed(texts))
    latencies: list[float] = []

    async def client(http: aiohttp.ClientSession, url: str) -> None:
        while queue:
            text = queue.pop()
            started = time.perf_counter()
            async with http.post(f"{url}/model/parse", json={"text": text}) as resp:
                resp.raise_for_status()
                await resp.read()
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency),
                                     timeout=aiohttp.ClientTimeout(total=600)) as http:
        await asyncio.gather(*(client(http, urls[i % len(urls)]) for i in range(concurrency)))
    return time.perf_counter() - began, latencies


async def batches_alone(urls: list[str], texts: list[str], size: int, per_server: int) -> float:
    """Every text parsed through the batch route (nlu/rasa_batch.py) as the gateway's client sends
    them: ``size`` texts a request, ``per_server`` requests on each server at once."""
    chunks = [texts[i:i + size] for i in range(0, len(texts), size)]
    chunks.reverse()

    async def client(http: aiohttp.ClientSession, url: str) -> None:
        while chunks:
            async with http.post(f"{url}{BATCH_PATH}", json={"texts": chunks.pop()}) as resp:
                resp.raise_for_status()
                await resp.read()

    began = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http:
        await asyncio.gather(*(client(http, url) for url in urls for _ in range(per_server)))
    return time.perf_counter() - began


def bodies(texts: list[str], tag: str) -> list[bytes]:
    return [orjson.dumps({"session_id": f"n{tag}{i:06d}x{uuid.uuid4().hex[:8]}", "text": text,
                          "client_message_id": f"m{tag}{i:06d}"}) for i, text in enumerate(texts)]


async def run(args: argparse.Namespace, log_dir: Path) -> list[dict[str, float]]:
    from ticketing.db.migrate import upgrade

    pg_url, db_url = await fresh_database(DB_NAME)
    await asyncio.to_thread(upgrade, db_url)
    rasa = RasaServers(args.rasa_processes, args.rasa_url, log_dir)
    redis = aioredis.Redis.from_url(REDIS_URL)
    prefix = f"benchnlu{uuid.uuid4().hex[:6]}"
    done = Announcements(redis, prefix)
    servers: list[Server] = []
    rounds: list[dict[str, float]] = []
    try:
        rasa_url = await rasa.start()
        urls = rasa_url.split(",")
        port = free_port()
        env = hotline_env(db_url, prefix, log_dir / "var", batch=args.batch, port=port)
        env.update(HOTLINE_NLU_ENABLED="true", RASA_URL=rasa_url)
        if args.code:  # found on PYTHONPATH before this checkout's editable install
            env["PYTHONPATH"] = str(Path(args.code).resolve())
        def command(*argv: str) -> list[str]:
            if not args.profile:
                return [hotline_bin(), *argv]
            # cProfile writes its file when the process stops (SIGTERM: a graceful exit).
            out = str(Path(args.profile).resolve() / f"{argv[0]}.prof")
            return [sys.executable, "-m", "cProfile", "-o", out, "-m", "gateway.runtime.cli", *argv]

        servers += [Server("web", command("web"), env, log_dir),
                    Server("worker", command("worker", "--consumer", "bench-nlu"), env, log_dir)]
        await wait_port(port, servers[0])
        await done.start()
        await asyncio.sleep(2)  # the worker has created its consumer group
        warm = citizen_texts(20, "w")
        await parse_alone(urls, warm, 4)
        await post_json_many(port, PATH, bodies(warm, "w"), 4)
        await done.reach(len(warm))
        for round_no in range(args.rounds):
            texts = citizen_texts(args.messages, f"r{round_no}-")
            cpu = rasa.cpu()
            elapsed, latencies = await parse_alone(urls, texts, args.concurrency)
            result = {"parse_rate": len(texts) / elapsed, "parse_p50": pct(latencies, 50) * 1000,
                      "parse_cpu": (rasa.cpu() - cpu) * 1000 / len(texts)}
            texts = citizen_texts(args.messages, f"b{round_no}-")
            cpu = rasa.cpu()
            elapsed = await batches_alone(urls, texts, max(1, PER_SERVER // 2), 2)
            result.update(batch_rate=len(texts) / elapsed, batch_cpu=(rasa.cpu() - cpu) * 1000 / len(texts))
            texts = citizen_texts(args.messages, f"p{round_no}-")
            tickets0, classified0 = await classified_counts(pg_url)
            before = done.count
            cpu0 = [server.cpu() for server in servers] + [rasa.cpu()]
            began = time.perf_counter()
            await post_json_many(port, PATH, bodies(texts, f"{round_no}"), args.concurrency)
            await done.reach(before + len(texts))
            elapsed = time.perf_counter() - began
            cpu = [after - b for after, b in zip([server.cpu() for server in servers] + [rasa.cpu()], cpu0)]
            tickets, classified = await classified_counts(pg_url)
            result.update(classified=classified - classified0, tickets=tickets - tickets0,
                          e2e_rate=(classified - classified0) / elapsed, messages=len(texts),
                          web_cpu=cpu[0] * 1000 / len(texts), worker_cpu=cpu[1] * 1000 / len(texts),
                          rasa_cpu=cpu[2] * 1000 / len(texts))
            rounds.append(result)
            print(f"round {round_no + 1}: parse alone {result['parse_rate']:.1f}/s, POST → classified ticket "
                  f"{result['e2e_rate']:.1f}/s ({result['classified']} of {result['tickets']} tickets classified)",
                  flush=True)
    finally:
        await done.close()
        for server in servers:
            server.stop()
        rasa.stop()
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
    return rounds


def report(rounds: list[dict[str, float]], args: argparse.Namespace) -> None:
    def med(key: str) -> float:
        return median([r[key] for r in rounds])

    ratio = median([r["e2e_rate"] / r["parse_rate"] for r in rounds])
    batch_ratio = median([r["batch_rate"] / r["parse_rate"] for r in rounds])
    to_batches = median([r["e2e_rate"] / r["batch_rate"] for r in rounds])
    print(f"\nwith the NLU: {args.messages} messages × {args.rounds} rounds, {args.concurrency} concurrent, "
          f"{args.rasa_processes if not args.rasa_url else 'given'} Rasa, worker batch {args.batch}, "
          f"{os.cpu_count()} cores, {load_average()}" + (f", code from {args.code}" if args.code else ""))
    print(f"{'':40}{'per s':>8}{'× parse':>9}{'CPU ms/message':>40}")
    print(f"{'Rasa /model/parse alone':40}{med('parse_rate'):>8.1f}{1:>8.2f}×"
          f"{'Rasa ' + format(med('parse_cpu'), '.2f'):>40}")
    print(f"{'Rasa batch route alone (' + str(max(1, PER_SERVER // 2)) + ' a request)':40}{med('batch_rate'):>8.1f}"
          f"{batch_ratio:>8.2f}×{'Rasa ' + format(med('batch_cpu'), '.2f'):>40}")
    cpu = f"web {med('web_cpu'):.2f} + worker {med('worker_cpu'):.2f} + Rasa {med('rasa_cpu'):.2f}"
    print(f"{'web + worker: POST → classified ticket':40}{med('e2e_rate'):>8.1f}{ratio:>8.2f}×{cpu:>40}")
    print(f"(medians over the rounds; classified {sum(r['classified'] for r in rounds):.0f} of "
          f"{sum(r['tickets'] for r in rounds):.0f} tickets; parse p50 alone {med('parse_p50'):.0f} ms; target ≥ 0.8×;\n"
          f" the pipeline sends Rasa batches: against the batch route alone it reaches {to_batches:.2f}×)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100, help="HOTLINE_WORKER_BATCH")
    parser.add_argument("--rasa-processes", type=int, default=1)
    parser.add_argument("--rasa-url", help="use these running Rasa servers (comma-separated)")
    parser.add_argument("--code", help="run web and worker from this checkout")
    parser.add_argument("--profile", metavar="DIR", help="run web and worker under cProfile (web.prof, worker.prof)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hotline-bench-intake-nlu-") as tmp:
        try:
            rounds = asyncio.run(run(args, Path(tmp)))
        except Exception:
            for log in sorted(Path(tmp).glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
            raise
    report(rounds, args)


if __name__ == "__main__":
    main()
