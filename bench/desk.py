"""Desk benchmark: a unit's queue page with 20,000 dispatched tickets in PostgreSQL.

    .venv/bin/python -m bench.desk [--unit-tickets 20000] [--other-tickets 20000] [--repeat 200]

Loads a dedicated database (``hotline_bench_desk``, dropped and re-created) with COPY: the tickets
of bench.console's generator, then one dispatch row each: ``--unit-tickets`` to one unit (most of
them long accepted, some returned, a few hundred open: waiting for a signature, being handled,
nearly due, overdue, under review, some with unacknowledged 督办单) and the rest spread over the
other units.  Serves the real gateway in this process and measures, with a timing middleware placed
first in the app, the server time and CPU (``getrusage``) of the desk's queue page, its live panel
and its JSON API per tab, beside two baselines served by the same app in the same run: ``GET
/healthz`` and a bare primary-key lookup.  Requests are sequential: the cost of one request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import time
import uuid
from datetime import datetime, timedelta, timezone

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from bench.common import REDIS_URL, fresh_database, pct
from bench.console import _load
from gateway.infra.resources import SESSIONS
from ticketing.accounts import users

DB_NAME = "hotline_bench_desk"
PORT = 18191
PASSWORD = "bench-password-1"
UNIT = "health"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _dispatches(pg_url: str, unit_n: int, other_n: int, units: list[str], seed: int = 7) -> dict[str, int]:
    """One dispatch per ticket (ids 1..unit_n to UNIT, the rest to other units); a few 督办单."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    rows, notes, shape = [], [], {"open": 0}
    others = [u for u in units if u != UNIT]
    for tid in range(1, unit_n + other_n + 1):
        target = UNIT if tid <= unit_n else rng.choice(others)
        roll = rng.random()
        if roll < 0.02:  # open: waiting for a signature / in hand / nearly due / overdue / under review
            at = now - timedelta(days=rng.uniform(0, 12))
            deadline = at + timedelta(days=rng.choice((3, 5, 10, 15)))
            state = rng.choice(("pending_sign", "signed", "signed", "signed", "answered"))
            active, ended = True, None
            shape["open"] += target == UNIT
        elif roll < 0.05:
            at = now - timedelta(days=rng.uniform(1, 365))
            deadline, state, active, ended = at + timedelta(days=10), "returned", False, at + timedelta(days=1)
        else:
            at = now - timedelta(days=rng.uniform(1, 365))
            deadline, state, active = at + timedelta(days=10), "accepted", False
            ended = at + timedelta(days=rng.uniform(1, 9))
        signed = at + timedelta(hours=3) if state in ("signed", "answered", "accepted") else None
        rows.append((tid, tid, "department", target, at, "zhao", deadline, None, active, "{}", "lead", 1, state,
                     at + timedelta(days=1), signed, "clerk" if signed else None,
                     ended if state == "accepted" else (now if state == "answered" else None), ended, False))
        if active and target == UNIT and state == "signed" and rng.random() < 0.3:
            notes.append((len(notes) + 1, tid, tid, UNIT, 1, "zhao", now - timedelta(hours=2), "请加快办理"))
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.copy_records_to_table("dispatches", records=rows, columns=[
            "id", "ticket_id", "target_kind", "target", "at", "actor", "deadline", "note", "active", "meta", "role",
            "round", "state", "sign_deadline", "signed_at", "signed_by", "answered_at", "ended_at", "extended"])
        await conn.copy_records_to_table("supervision_notes", records=notes, columns=[
            "id", "ticket_id", "dispatch_id", "unit", "seq", "issued_by", "issued_at", "text"])
        for table in ("dispatches", "supervision_notes"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT coalesce(max(id), 1) FROM {table}))")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    shape["notes"] = len(notes)
    return shape


def _serve(db_url: str, prefix: str, timings: dict[str, list[float]], cpu: dict[str, list[float]]):
    from aiohttp import web

    from config.settings import load_settings
    from gateway.runtime.assembly import create_app
    from ticketing.db.models.tickets import Ticket

    settings = load_settings(DATABASE_URL=db_url, REDIS_URL=REDIS_URL, HOTLINE_REDIS_PREFIX=prefix,
                             HOTLINE_NLU_ENABLED=False, HOTLINE_DATA_DIR="/tmp/hotline-bench-desk")
    app = create_app(settings, redis_url=REDIS_URL)

    @web.middleware
    async def timing(request: web.Request, handler):
        label = request.headers.get("X-Bench-Label")
        started, cpu_started = time.perf_counter(), _cpu()
        try:
            return await handler(request)
        finally:
            if label:
                timings.setdefault(label, []).append(time.perf_counter() - started)
                cpu.setdefault(label, []).append(_cpu() - cpu_started)

    async def pk_lookup(request: web.Request) -> web.Response:
        async with request.app[SESSIONS]() as session:
            ticket = await session.get(Ticket, int(request.match_info["id"]))
        return web.json_response({"number": ticket.number if ticket else None})

    app.middlewares.insert(0, timing)
    app.router.add_get("/bench/pk/{id}", pk_lookup)
    return app


async def _run(args) -> None:
    from aiohttp import web

    from config.directory import load_directory
    from ticketing.db.migrate import upgrade

    total = args.unit_tickets + args.other_tickets
    pg_url, db_url = await fresh_database(DB_NAME)
    await asyncio.to_thread(upgrade, db_url)
    t0 = time.perf_counter()
    await _load(pg_url, total)
    shape = await _dispatches(pg_url, args.unit_tickets, args.other_tickets, [u.code for u in load_directory().units])
    load_s = time.perf_counter() - t0

    prefix = f"benchd{uuid.uuid4().hex[:8]}"
    timings: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    app = _serve(db_url, prefix, timings, cpu)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", PORT).start()
    base = f"http://127.0.0.1:{PORT}"
    counts = {}
    try:
        async with app[SESSIONS]() as session, session.begin():
            await users.create_user(session, "bench", role="handler", password=PASSWORD, unit=UNIT,
                                    known_units=[UNIT])
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            token = (await (await http.get(base + "/api/v1/console/csrf")).json())["csrf_token"]
            resp = await http.post(base + "/api/v1/console/login", json={"username": "bench", "password": PASSWORD},
                                   headers={"X-CSRF-Token": token})
            assert resp.status == 200, await resp.text()
            ids = [random.randint(1, total) for _ in range(50)]
            cases = [
                ("baseline: GET /healthz", lambda i: "/healthz"),
                ("baseline: bare PK lookup", lambda i: f"/bench/pk/{ids[i % len(ids)]}"),
                ("desk page (HTML, 待签收)", lambda i: "/desk"),
                ("desk page (HTML, 办理中)", lambda i: "/desk?tab=handling"),
                ("desk live panel (已超期)", lambda i: "/desk/queue/panel?tab=overdue"),
                ("queue API 即将超期", lambda i: "/api/v1/desk/queue?tab=warning"),
                ("queue API 已办结 (90 d)", lambda i: "/api/v1/desk/queue?tab=done"),
            ]
            for label, url in cases:
                for i in range(args.warmup):
                    async with http.get(base + url(i)) as r:
                        assert r.status in (200, 503), (label, r.status, await r.text())
                        await r.read()
                for i in range(args.repeat):
                    async with http.get(base + url(i), headers={"X-Bench-Label": label}) as r:
                        await r.read()
            async with http.get(base + "/api/v1/desk/queue") as r:
                counts = {t["code"]: t["count"] for t in json.loads(await r.read())["tabs"]}
    finally:
        await runner.cleanup()
        r = aioredis.Redis.from_url(REDIS_URL)
        keys = [k async for k in r.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await r.delete(*keys)
        await r.aclose()

    base_p50 = statistics.median(timings["baseline: bare PK lookup"]) * 1000
    print(f"desk benchmark: {args.unit_tickets:,} tickets dispatched to {UNIT} ({shape['open']} open, "
          f"{shape['notes']} 督办单) + {args.other_tickets:,} to other units, PostgreSQL, loaded by COPY in "
          f"{load_s:.1f} s; tabs {counts}; {args.repeat} sequential requests each after {args.warmup} warm-up; "
          f"server time and CPU from a middleware; {os.cpu_count()} cores")
    print(f"{'':32}{'p50 ms':>9}{'p95 ms':>9}{'p50 ÷ PK':>10}{'CPU ms':>9}")
    for label, values in timings.items():
        p50, p95 = pct(values, 50) * 1000, pct(values, 95) * 1000
        cpu_ms = statistics.mean(cpu[label]) * 1000
        print(f"{label:32}{p50:>9.2f}{p95:>9.2f}{p50 / base_p50:>9.1f}×{cpu_ms:>9.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--unit-tickets", type=int, default=20_000)
    parser.add_argument("--other-tickets", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args(argv)
    asyncio.run(_run(args))


if __name__ == "__main__":
    main()
