"""WeChat safe-mode callbacks with the NLU, as in production: many citizens writing at once.

    .venv/bin/python -m bench.wechat_nlu [--senders 100] [--messages 600] [--rasa-processes 1]
                                         [--rasa-url URL] [--code DIR] [--env NAME=VALUE ...]

PostgreSQL + Redis on their local ports, a Rasa server on the cached model, ``hotline web`` and
``hotline worker`` as two processes, WeChat's API servers simulated in this process
(connectors/wechat/simulator.py: customer-service messages are recorded with their time).
``--senders`` citizens each post their messages one after the other (the next once the previous
callback answered), encrypted and signed in safe mode exactly as WeChat does; a callback not
answered within 5 s is delivered again with the same MsgId, as WeChat does (at most three times).

Reported: the callbacks' latency (p50/p99/max) and statuses (any 503 is a failure), how each
citizen got the answer (passive reply or `success` + customer-service message) and when, counted
from the first delivery of the message: every message must get exactly one answer, and none later
than 4.5 s; the tickets classified by the NLU; the CPU-ms per message of web, worker and Rasa
(from /proc), beside the load average, since the machine may be shared.

``--code DIR`` runs web and worker from another checkout (e.g. a worktree of the commit before a
change), with this bench and its simulator unchanged, for a before/after in the same conditions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

from bench.common import free_port, fresh_database, pct
from bench.intake import Server, hotline_bin, hotline_env, wait_port
from bench.nlu_stack import RasaServers, citizen_texts, classified_counts, load_average

DB_NAME = "hotline_bench_wechat_nlu"
TOKEN = "benchtoken2024"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx2c2769f8efd9abc2"
APP_SECRET = "bench-secret"
WECHAT_PATIENCE = 5.0  # WeChat delivers a callback again after this many seconds without an answer
LATEST_REPLY = 4.5  # the bound on when the citizen must have the answer


@dataclass
class Sent:
    openid: str
    msg_id: str
    started: float  # perf_counter of the first delivery
    wall: float = 0.0  # time.time() of the first delivery
    answered: float = 0.0
    status: int = 0
    deliveries: int = 0
    passive: str | None = None  # the passive reply's text, None for `success`


class RecordingApi:
    """WeChat's API simulator, with the time each customer-service message arrived."""

    def __init__(self) -> None:
        from connectors.wechat.simulator import WeChatApiSimulator

        self.sim = WeChatApiSimulator(app_id=APP_ID, app_secret=APP_SECRET)
        self.arrivals: list[tuple[float, str, str]] = []  # (perf_counter, openid, text)
        arrivals = self.arrivals

        class Timed(list):
            """The simulator's record of sent messages, noting when each one came."""

            def append(self, message) -> None:  # type: ignore[override]
                arrivals.append((time.perf_counter(), message.touser, message.content or ""))
                super().append(message)

        self.sim.sent = Timed()
        self.runner: web.AppRunner | None = None
        self.port = free_port()

    async def start(self) -> str:
        self.runner = web.AppRunner(self.sim.make_app(), access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return f"http://127.0.0.1:{self.port}/cgi-bin/"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def send_all(url: str, senders: int, texts: list[str], tag: str, per_citizen: int = 1) -> list[Sent]:
    """``senders`` connections post ``texts`` one after the other, WeChat's retries included; each
    citizen writes ``per_citizen`` of them (the later ones are follow-ups of the first)."""
    from connectors.wechat.simulator import WeChatPlatform

    platform = WeChatPlatform(TOKEN, mode="safe", encoding_aes_key=AES_KEY, app_id=APP_ID)
    plan: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for i, text in enumerate(texts):
        # Message i comes from citizen i // per_citizen, over connection (i // per_citizen) % senders,
        # so one citizen's messages follow each other on one connection.
        citizen = i // per_citizen
        openid = f"oB{tag}{citizen:06d}".ljust(28, "x")[:28]
        plan[citizen % senders].append((openid, platform.text(openid, text)))
    results: list[Sent] = []

    async with ClientSession(connector=TCPConnector(limit=senders * 3), timeout=ClientTimeout(total=30)) as http:

        async def deliver(xml: str, timeout: float) -> tuple[int, str]:
            request = platform.sign_request(xml)  # each delivery signed anew, as WeChat does
            async with http.post(f"{url}?{request.query}", data=request.body,
                                 timeout=ClientTimeout(total=timeout)) as resp:
                return resp.status, await resp.text()

        async def sender(messages: list[tuple[str, str]]) -> None:
            for openid, xml in messages:
                sent = Sent(openid, xml.split("<MsgId>", 1)[1].split("<", 1)[0], time.perf_counter(), time.time())
                results.append(sent)
                for attempt in range(3):
                    sent.deliveries += 1
                    try:
                        status, body = await deliver(xml, WECHAT_PATIENCE if attempt < 2 else 30)
                    except TimeoutError:
                        continue  # WeChat gave up on this delivery and sends the message again
                    except Exception:  # counted as no answer
                        status, body = 0, ""
                    sent.status, sent.answered = status, time.perf_counter()
                    if status == 200:
                        reply = platform.read_reply(body)
                        sent.passive = reply.get("Content") if reply else None
                    break

        await asyncio.gather(*(sender(messages) for messages in plan.values()))
    return results


def match_replies(results: list[Sent], arrivals: list[tuple[float, str, str]]) -> dict[str, object]:
    """Each message's answer time: the passive reply's, or the customer-service message that came
    for it (a citizen's deferred answers in the order of their messages)."""
    deferred: dict[str, list[Sent]] = defaultdict(list)
    for sent in sorted(results, key=lambda s: s.started):
        if sent.status == 200 and sent.passive is None:
            deferred[sent.openid].append(sent)
    by_citizen: dict[str, list[float]] = defaultdict(list)
    for at, openid, _text in sorted(arrivals):
        by_citizen[openid].append(at)
    latencies = [s.answered - s.started for s in results if s.status == 200 and s.passive is not None]
    missing = extra = 0
    for openid, waiting in deferred.items():
        times = by_citizen.pop(openid, [])
        missing += max(0, len(waiting) - len(times))
        extra += max(0, len(times) - len(waiting))
        latencies += [at - sent.started for sent, at in zip(waiting, times)]
    extra += sum(len(times) for times in by_citizen.values())  # answers nobody was waiting for
    return {"latencies": latencies, "missing": missing, "extra": extra,
            "late": sum(1 for lat in latencies if lat > LATEST_REPLY)}


async def committed_after(pg_url: str, results: list[Sent]) -> list[float]:
    """Seconds from each message's first delivery until the worker committed the bot's answer
    (its entry's time): the pipeline's share of the answer time, the rest is delivering it."""
    import asyncpg

    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch("SELECT meta::jsonb->>'in_reply_to' AS msg, created_at FROM entries "
                                "WHERE author = 'bot' AND channel = 'wechat'")
    finally:
        await conn.close()
    at = {row["msg"]: row["created_at"].timestamp() for row in rows}
    return [at[s.msg_id] - s.wall for s in results if s.msg_id in at]


async def run(args: argparse.Namespace, log_dir: Path) -> None:
    from ticketing.db.migrate import upgrade

    pg_url, db_url = await fresh_database(DB_NAME)
    await asyncio.to_thread(upgrade, db_url)
    rasa = RasaServers(args.rasa_processes, args.rasa_url, log_dir)
    api = RecordingApi()
    servers: list[Server] = []
    try:
        rasa_url = await rasa.start()
        api_url = await api.start()
        port = free_port()
        env = hotline_env(db_url, f"benchwxnlu{uuid.uuid4().hex[:6]}", log_dir / "var", batch=args.batch, port=port)
        env.update(HOTLINE_NLU_ENABLED="true", RASA_URL=rasa_url, WECHAT_TOKEN=TOKEN, WECHAT_ENCODING_AES_KEY=AES_KEY,
                   WECHAT_APP_ID=APP_ID, WECHAT_APP_SECRET=APP_SECRET, WECHAT_API_BASE_URL=api_url)
        env.update(dict(item.split("=", 1) for item in args.env))
        argv = [hotline_bin()]
        if args.code:  # found on PYTHONPATH before this checkout's editable install
            env["PYTHONPATH"] = str(Path(args.code).resolve())
        web_argv = [*argv, "web"]
        if args.profile_web:  # cProfile writes its file when the server stops (SIGTERM: a graceful exit)
            web_argv = [sys.executable, "-m", "cProfile", "-o", args.profile_web, "-m", "gateway.runtime.cli", "web"]
        web_server = Server("web", web_argv, env, log_dir)
        worker = Server("worker", [*argv, "worker", "--consumer", "bench-wx"], env, log_dir)
        servers += [web_server, worker]
        await wait_port(port, web_server)
        url = f"http://127.0.0.1:{port}/wechat"
        # Warm-up, not counted: connections, the access_token, Rasa's first parses.
        await send_all(url, 4, citizen_texts(12, "w"), "w")
        await asyncio.sleep(3)
        tickets0, classified0 = await classified_counts(pg_url)
        cpu0 = [server.cpu() for server in servers] + [rasa.cpu()]
        arrivals0 = len(api.arrivals)
        began = time.perf_counter()
        results = await send_all(url, args.senders, citizen_texts(args.messages, "m"), "m", args.per_citizen)
        sending = time.perf_counter() - began
        expected = sum(1 for s in results if s.status == 200 and s.passive is None)
        deadline = time.monotonic() + args.settle
        while len(api.arrivals) - arrivals0 < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        cpu = [after - before for after, before in zip([server.cpu() for server in servers] + [rasa.cpu()], cpu0)]
        tickets, classified = await classified_counts(pg_url)
        summary = match_replies(results, api.arrivals[arrivals0:])
        stored = await committed_after(pg_url, results)
        if args.dump:
            Path(args.dump).write_text("\n".join(f"{at - began:.3f}\t{openid}\t{text}"
                                                  for at, openid, text in api.arrivals[arrivals0:]), encoding="utf-8")
    finally:
        for server in servers:
            server.stop()
        rasa.stop()
        await api.stop()

    n = len(results)
    callbacks = [s.answered - s.started for s in results if s.answered]
    statuses: dict[int, int] = defaultdict(int)
    for s in results:
        statuses[s.status] += 1
    latencies = summary["latencies"]
    print(f"\nWeChat safe-mode callbacks with the NLU: {n} messages from {args.senders} concurrent senders, web + "
          f"worker processes, {args.rasa_processes if not args.rasa_url else 'given'} Rasa, {os.cpu_count()} cores, "
          f"{load_average()}" + (f", code from {args.code}" if args.code else "") + (f", {' '.join(args.env)}"
                                                                                  if args.env else ""))
    print(f"  callbacks: {n / sending:.1f}/s, p50 {pct(callbacks, 50) * 1000:.0f} ms, p99 {pct(callbacks, 99) * 1000:.0f} ms,"
          f" max {max(callbacks) * 1000:.0f} ms; statuses {dict(statuses)}; "
          f"delivered again by WeChat: {sum(s.deliveries - 1 for s in results)}")
    print(f"  answers: {sum(1 for s in results if s.passive)} passive, {expected} `success` + customer-service "
          f"message; missing {summary['missing']}, duplicated {summary['extra']}")
    if latencies:
        print(f"  answer time from the first delivery: p50 {pct(latencies, 50) * 1000:.0f} ms, "
              f"p99 {pct(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms; "
              f"later than {LATEST_REPLY} s: {summary['late']}")
    if stored:
        print(f"  answer committed by the worker after: p50 {pct(stored, 50) * 1000:.0f} ms, "
              f"p99 {pct(stored, 99) * 1000:.0f} ms, max {max(stored) * 1000:.0f} ms (of {len(stored)})")
    print(f"  tickets {tickets - tickets0}, classified by the NLU {classified - classified0} "
          f"(the rest: unclassified in time, classified later by the backfill; FAQ answers open no ticket)")
    print(f"  CPU ms per message: web {cpu[0] * 1000 / n:.2f}, worker {cpu[1] * 1000 / n:.2f}, "
          f"Rasa {cpu[2] * 1000 / n:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--senders", type=int, default=100)
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--per-citizen", type=int, default=1,
                        help="messages each citizen writes (1: every message from a citizen of its own)")
    parser.add_argument("--batch", type=int, default=100, help="HOTLINE_WORKER_BATCH")
    parser.add_argument("--rasa-processes", type=int, default=1)
    parser.add_argument("--rasa-url", help="use these running Rasa servers (comma-separated)")
    parser.add_argument("--settle", type=float, default=90.0, help="seconds to wait for late answers")
    parser.add_argument("--code", help="run web and worker from this checkout")
    parser.add_argument("--profile-web", metavar="FILE", help="run the web process under cProfile, stats to FILE")
    parser.add_argument("--dump", help="write the customer-service messages (time, openid, text) to this file")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment of web and worker (e.g. WECHAT_REPLY_BUDGET=4)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hotline-bench-wechat-nlu-") as tmp:
        try:
            asyncio.run(run(args, Path(tmp)))
        except Exception:
            for log in sorted(Path(tmp).glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
            raise


if __name__ == "__main__":
    main()
