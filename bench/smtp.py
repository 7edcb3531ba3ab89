"""Mayor's mailbox benchmark: mails per second accepted over real SMTP sessions.

    .venv/bin/python -m bench.smtp [--mails 400] [--clients 4] [--rounds 2] [--reuse] [--tickets]

Two servers run in this process's event loop, in the same run, on loopback:

* the mailbox (``connectors.email``: parse, store the .eml and attachments with fsync,
  publish, 250 only after the publish returned), with a durable Redis-stream publish by
  default: XADD of the message JSON, as the gateway's ``IntakeStream.publish`` does;
* a bare aiosmtpd sink whose handler accepts and discards — the floor of SMTP itself.

The clients (``--clients`` threads, one SMTP connection per mail unless ``--reuse``) run
in a child process so they do not compete with the servers for this process's GIL; the
same mails go to both servers.  Printed: mails/s for each, latency percentiles, and the
ratio mailbox/sink.

The publish is pluggable: ``await run_bench(publish=my_publish, wait_reply=...)`` runs the
same measurement through any ``Publish`` callable — e.g. one that publishes through the full
gateway and returns only once the ticket is committed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import smtplib
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiosmtpd.smtp import SMTP

from bench.common import REDIS_URL, fresh_database
from connectors.base import Publish, WaitReply
from connectors.email import bound_address, load_email_settings, start_smtp_server, stop_smtp_server
from connectors.storage import AttachmentStore
from gateway.infra.keys import RedisKeys
from gateway.runtime.collector import tune_for_service
from gateway.infra.stream import IntakeStream

MAILBOX = "mayor@12345.pds.gov.cn"
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(2048)


# --------------------------------------------------------------------------- the mails


def make_mails(n: int) -> list[bytes]:
    """A mix like the real mailbox's: plain UTF-8, GBK base64, HTML-only, a photo attached."""
    out = []
    for i in range(n):
        kind = i % 5
        msg = EmailMessage()
        msg["From"] = f"市民{i} <citizen{i}@example.com>"
        msg["To"] = MAILBOX
        msg["Subject"] = f"关于新华区第{i}号路灯损坏的反映"
        msg["Message-ID"] = f"<bench-{uuid.uuid4().hex}@example.com>"
        msg["Date"] = "Thu, 27 Nov 2026 10:00:00 +0800"
        body = (
            f"市长您好：我是新华区建设路{i}号的居民，小区门口的路灯已经坏了两个星期，晚上出行很不方便，"
            "老人孩子容易摔倒，希望有关部门尽快维修。联系电话13812345678。\n\n发自我的iPhone\n"
        )
        if kind in (0, 1):
            msg.set_content(body)
        elif kind == 2:
            msg.set_content(body, charset="gbk", cte="base64")
        elif kind == 3:
            msg.set_content(f"<html><body><p>{body}</p><script>x()</script></body></html>", subtype="html")
        else:
            msg.set_content(body)
            msg.add_attachment(PNG, maintype="image", subtype="png", filename="现场照片.png")
        out.append(msg.as_bytes(policy=policy.SMTP))  # CRLF line ends, as on the wire
    return out


# --------------------------------------------------------------------------- the client process


def _client_main(host: str, port: int, clients: int, mail_dir: str, reuse: bool) -> None:
    files = sorted(Path(mail_dir).iterdir())
    mails = [f.read_bytes() for f in files]
    codes: Counter[int] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()
    next_index = iter(range(len(mails)))

    def take() -> int | None:
        with lock:
            return next(next_index, None)

    def send(client: smtplib.SMTP, raw: bytes) -> int:
        code, _ = client.mail("citizen@example.com")
        if code != 250:
            return code
        code, _ = client.rcpt(MAILBOX)
        if code != 250:
            return code
        code, _ = client.data(raw)
        return code

    def worker() -> None:
        client: smtplib.SMTP | None = None
        while (i := take()) is not None:
            t0 = time.perf_counter()
            try:
                if client is None:
                    client = smtplib.SMTP(host, port, timeout=120)
                    client.ehlo("bench.client")
                code = send(client, mails[i])
            except (smtplib.SMTPException, OSError):
                code = -1
                client = None
            if not reuse and client is not None:
                try:
                    client.quit()
                except (smtplib.SMTPException, OSError):
                    pass
                client = None
            with lock:
                codes[code] += 1
                latencies.append(time.perf_counter() - t0)
        if client is not None:
            client.quit()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    print(json.dumps({"elapsed": elapsed, "codes": dict(codes), "latencies": latencies}))


async def _drive(host: str, port: int, clients: int, mail_dir: str, reuse: bool) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.smtp", "--client", host, str(port), str(clients), mail_dir]
    if reuse:
        cmd.append("--reuse")
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, cwd=str(Path(__file__).resolve().parents[1])
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"client process failed ({proc.returncode})")
    result = json.loads(out)
    lat = sorted(result["latencies"]) or [0.0]
    n = len(result["latencies"])
    return {
        "mails": n,
        "ok": result["codes"].get("250", 0),
        "codes": result["codes"],
        "elapsed": result["elapsed"],
        "rate": result["codes"].get("250", 0) / result["elapsed"] if result["elapsed"] else 0.0,
        "p50_ms": 1000 * lat[len(lat) // 2],
        "p95_ms": 1000 * lat[min(len(lat) - 1, int(0.95 * len(lat)))],
    }


# --------------------------------------------------------------------------- the servers


class _DiscardHandler:
    async def handle_DATA(self, server, session, envelope) -> str:
        return "250 OK"


async def _start_sink() -> tuple[asyncio.Server, int]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(_DiscardHandler(), hostname="sink.bench", data_size_limit=20 * 1024 * 1024, loop=loop),
        "127.0.0.1",
        0,
    )
    return server, server.sockets[0].getsockname()[1]


async def run_bench(
    *,
    mails: int = 400,
    clients: int = 4,
    rounds: int = 2,
    reuse: bool = False,
    publish: Publish | None = None,
    wait_reply: WaitReply | None = None,
    redis_url: str = REDIS_URL,
    settings_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run sink and mailbox alternately ``rounds`` times; returns the figures."""
    redis = aioredis.Redis.from_url(redis_url, decode_responses=False)
    prefix = f"bench-smtp-{uuid.uuid4().hex[:8]}"
    stream = f"{prefix}:intake"
    workdir = Path(tempfile.mkdtemp(prefix="bench-smtp-"))

    # The gateway's own publish (``hotline smtp`` uses it): XADDs of one event-loop tick in one pipeline.
    intake = IntakeStream(redis, RedisKeys(prefix))
    assert intake.key == stream
    xadd_publish = intake.publish

    async def no_reply(channel: str, native_id: str, timeout: float) -> str | None:
        return None

    settings = load_email_settings(
        smtp_port=0, smtp_host="127.0.0.1", mailbox_addresses=MAILBOX, hostname="12345.pds.gov.cn",
        **(settings_overrides or {}),
    )
    server, connector = await start_smtp_server(
        settings,
        publish=publish or xadd_publish,
        wait_reply=wait_reply or no_reply,
        attachments=AttachmentStore(workdir / "var"),
        redis=redis,
        key_prefix=f"{prefix}:conn:email",
    )
    sink, sink_port = await _start_sink()
    _, box_port = bound_address(server)
    results: dict[str, list[dict[str, Any]]] = {"sink": [], "mailbox": []}
    try:
        for r in range(rounds):
            batch_dir = workdir / f"mails-{r}"
            batch_dir.mkdir()
            for i, raw in enumerate(make_mails(mails)):
                (batch_dir / f"{i:06d}.eml").write_bytes(raw)
            # Same mails to both; Message-IDs repeat across the two servers only.
            # The clients are a child process: this process's CPU is the server's.
            for name, port in (("sink", sink_port), ("mailbox", box_port)):
                cpu0 = time.process_time()
                figures = await _drive("127.0.0.1", port, clients, str(batch_dir), reuse)
                figures["cpu_ms"] = (time.process_time() - cpu0) * 1000 / max(figures["ok"], 1)
                results[name].append(figures)
        published = await redis.xlen(stream) if publish is None else None
    finally:
        sink.close()
        await stop_smtp_server(server, connector, grace=2.0)
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        shutil.rmtree(workdir, ignore_errors=True)

    cpu = {name: statistics.median(x["cpu_ms"] for x in results[name]) for name in results}
    sink_rate = statistics.median(x["rate"] for x in results["sink"])
    box_rate = statistics.median(x["rate"] for x in results["mailbox"])
    accepted = sum(x["ok"] for x in results["mailbox"])
    return {
        "mails_per_round": mails,
        "clients": clients,
        "rounds": results,
        "sink_rate": sink_rate,
        "mailbox_rate": box_rate,
        "ratio": box_rate / sink_rate if sink_rate else 0.0,
        "cpu_ms": cpu,
        "accepted": accepted,
        "published": published,
    }


# --------------------------------------------------------------------------- the whole gateway


def _serve_gateway(db_url: str, prefix: str, smtp_port: int, http_port: int, data_dir: str) -> None:
    """Child process: the gateway with its worker and SMTP server, NLU off (it is benched apart)."""
    from aiohttp import web

    from config.settings import load_settings
    from gateway.runtime.assembly import create_app

    os.environ.update(HOTLINE_SMTP_PORT=str(smtp_port), MAILBOX_ADDRESSES=MAILBOX)
    settings = load_settings(DATABASE_URL=db_url, REDIS_URL=REDIS_URL, HOTLINE_REDIS_PREFIX=prefix,
                             HOTLINE_NLU_ENABLED=False, HOTLINE_DATA_DIR=data_dir)
    app = create_app(settings, redis_url=REDIS_URL, run_worker=True, services={"worker", "smtp"})
    web.run_app(app, host="127.0.0.1", port=http_port, print=None, access_log=None)


async def run_ticket_bench(*, mails: int, clients: int, reuse: bool) -> dict[str, Any]:
    """Mails over SMTP until every one is a committed ticket, through the real gateway on PostgreSQL + Redis."""
    import multiprocessing

    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import create_async_engine

    from nlu.server import free_port
    from ticketing.db.migrate import upgrade
    from ticketing.db.models.tickets import Ticket

    _, db_url = await fresh_database("hotline_bench_smtp")
    await asyncio.to_thread(upgrade, db_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-smtp-gw-"))
    smtp_port, http_port = free_port(), free_port()
    proc = multiprocessing.get_context("spawn").Process(
        target=_serve_gateway, args=(db_url, f"benchsmtp{uuid.uuid4().hex[:8]}", smtp_port, http_port,
                                     str(workdir / "var")), daemon=True)
    proc.start()
    engine = create_async_engine(db_url)
    try:
        for _ in range(300):  # the SMTP server listens once the app has started
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", smtp_port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        batch_dir = workdir / "mails"
        batch_dir.mkdir()
        for i, raw in enumerate(make_mails(mails)):
            (batch_dir / f"{i:06d}.eml").write_bytes(raw)
        start = time.perf_counter()
        accepted = await _drive("127.0.0.1", smtp_port, clients, str(batch_dir), reuse)
        tickets = 0
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                tickets = (await conn.execute(select(func.count(Ticket.id)).where(Ticket.channel == "email"))).scalar()
            if tickets >= accepted["ok"]:
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - start
    finally:
        await engine.dispose()
        proc.terminate()
        proc.join(10)
        shutil.rmtree(workdir, ignore_errors=True)
    return {"accepted": accepted, "tickets": tickets, "elapsed": elapsed, "rate": tickets / elapsed}


def _print(figures: dict[str, Any]) -> None:
    print(f"mails per round: {figures['mails_per_round']}, concurrent clients: {figures['clients']}")
    for name in ("sink", "mailbox"):
        for i, r in enumerate(figures["rounds"][name]):
            print(
                f"  {name:8s} round {i + 1}: {r['ok']}/{r['mails']} accepted in {r['elapsed']:.2f} s = "
                f"{r['rate']:7.1f} mails/s  p50 {r['p50_ms']:.1f} ms  p95 {r['p95_ms']:.1f} ms  "
                f"CPU {r['cpu_ms']:.2f} ms/mail  codes {r['codes']}"
            )
    cpu = figures["cpu_ms"]
    print(f"aiosmtpd sink (accept and discard): {figures['sink_rate']:7.1f} mails/s (median), "
          f"CPU {cpu['sink']:.2f} ms/mail")
    print(f"mayor's mailbox (stored + XADD):    {figures['mailbox_rate']:7.1f} mails/s (median), "
          f"CPU {cpu['mailbox']:.2f} ms/mail")
    print(f"ratio mailbox/sink: {figures['ratio']:.2f} (target ≥ 0.5)")
    if figures["published"] is not None:
        print(f"250 replies: {figures['accepted']}, stream entries: {figures['published']}")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--client":
        host, port, clients, mail_dir = argv[1], int(argv[2]), int(argv[3]), argv[4]
        _client_main(host, port, clients, mail_dir, "--reuse" in argv)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=400, help="mails per round and server (bounded)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent SMTP clients")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="several mails per SMTP connection")
    parser.add_argument("--tickets", action="store_true",
                        help="also: through the whole gateway (PostgreSQL + Redis) until every mail is a ticket")
    parser.add_argument("--default-gc", action="store_true",
                        help="keep Python's collector thresholds (the mailbox process tunes them)")
    args = parser.parse_args(argv)
    if not 1 <= args.mails <= 100_000 or not 1 <= args.clients <= 256:
        parser.error("--mails must be 1..100000 and --clients 1..256")
    if not args.default_gc:
        # `hotline smtp` runs with the services' collector settings; the sink shares them here.
        tune_for_service()
    figures = asyncio.run(run_bench(mails=args.mails, clients=args.clients, rounds=args.rounds, reuse=args.reuse))
    _print(figures)
    if args.tickets:
        full = asyncio.run(run_ticket_bench(mails=args.mails, clients=args.clients, reuse=args.reuse))
        acc = full["accepted"]
        print("gateway (SMTP → stream → worker → ticket committed, PostgreSQL + Redis, NLU off):")
        print(f"  {acc['ok']}/{acc['mails']} accepted at {acc['rate']:.1f} mails/s (p50 {acc['p50_ms']:.1f} ms); "
              f"{full['tickets']} tickets committed in {full['elapsed']:.2f} s = {full['rate']:.1f} mails/s")
        print(f"ratio tickets/sink: {full['rate'] / figures['sink_rate']:.2f}")


if __name__ == "__main__":
    main()
