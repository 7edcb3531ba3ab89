"""Console benchmark: the queue page and search over 200,000 tickets in PostgreSQL.

    .venv/bin/python -m bench.console [--tickets 200000] [--repeat 200]

Loads a dedicated database (``hotline_bench_console``, dropped and re-created) with COPY:
a year of tickets over every channel, department and region, most of them settled, a few
thousand waiting for review (some urgent), one citizen message each.  Then it serves the
real gateway in this process and measures, with a timing middleware placed first in the
app, the *server* time of:

    the queue page (HTML), the queue API, a filtered queue, search by ticket number, by
    phone, by a common word and by a rare word, and "我的工单" (an operator's own tickets plus
    their dispatched ones with a citizen's follow-up, each row with its 未读 marker)

beside a bare primary-key lookup served by the same app and stack (a bench-only route
doing ``session.get(Ticket, id)``), measured in the same run; the ratio to that baseline
is printed, and the process CPU (``getrusage``) per request.  Requests are sequential: this
measures the cost of one request, not load.  The operator signed in is ``op1``, who holds about
a sixth of the assigned tickets, has opened half of them (read markers), and whose dispatched
tickets (one dispatch row each) got a citizen's follow-up in one case out of ten.
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
from gateway.infra.resources import SESSIONS
from ticketing.accounts import users

DB_NAME = "hotline_bench_console"
PORT = 18190
PASSWORD = "bench-password-1"

PLACES = ["建设路", "中兴路", "开源路", "光明路", "矿工路", "曙光街", "优越路", "湛河路", "新华路", "凌云路",
          "体育路", "长安大道", "神马大道", "南环路", "北环路", "园林路", "西市场", "东环路", "姚孟街", "焦店镇"]
PROBLEMS = ["路灯不亮", "垃圾无人清运", "噪音扰民", "下水道堵塞", "小区物业乱收费", "停水三天", "暖气不热",
            "占道经营", "违章建筑", "公交车不按站停靠", "拖欠工资", "社保卡补办", "学校乱收费", "医院挂号难",
            "燃气管道漏气", "电梯故障", "井盖丢失", "窨井冒水", "广告牌松动", "油烟污染"]
RARE = "琥珀色消防栓"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _load(pg_url: str, n: int, seed: int = 12345) -> dict:
    """COPY n tickets (+ their conversations and first messages); returns probes for the searches."""
    from config.directory import load_directory

    directory = load_directory()
    rng = random.Random(seed)
    departments = [d.code for d in directory.departments]
    regions = [r.code for r in directory.regions]
    region_names = {r.code: r.name for r in directory.regions}
    request_types = [r.code for r in directory.request_types]
    channels = ["web", "wechat", "email", "national_platform", "phone", "letter"]
    now = datetime.now(timezone.utc)
    per_day: dict[str, int] = {}
    convs, tickets, entries, dispatches, markers = [], [], [], [], []
    entry_id = n
    rare_ids = set(rng.sample(range(1, n + 1), 5))
    pending = 0
    for i in range(1, n + 1):
        created = now - timedelta(seconds=rng.random() * 365 * 86400)
        # The recent days hold the waiting hand-offs; older tickets are mostly settled.
        age_days = (now - created).days
        roll = rng.random()
        if age_days < 3 and roll < 0.6 or roll < 0.01:
            status = "pending_review"
        elif roll < 0.15:
            status = "dispatched"
        elif roll < 0.3:
            status = "answered"
        else:
            status = "closed"
        pending += status == "pending_review"
        urgent = rng.random() < 0.03
        channel = rng.choice(channels)
        region = rng.choice(regions)
        day = created.astimezone(timezone(timedelta(hours=8))).strftime("%Y%m%d")
        per_day[day] = per_day.get(day, 0) + 1
        number = f"PDS{day}{per_day[day]:05d}"
        text = (f"{region_names[region]}{rng.choice(PLACES)}{rng.choice(PROBLEMS)}，"
                f"已经{rng.randint(1, 30)}天了，请尽快处理")
        if i in rare_ids:
            text += f"，旁边有个{RARE}"
        phone = f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"
        classified = rng.random() < 0.85
        convs.append((i, channel, f"{channel}:{uuid.UUID(int=rng.getrandbits(128)).hex}", created, created))
        tickets.append((
            i, number, i, channel, None, text[:40],
            rng.choice(request_types) if classified else None,
            rng.choice(departments) if classified else None,
            region if classified else None,
            "confirmed" if status != "pending_review" else ("predicted" if classified else "unclassified"),
            urgent, status, created + timedelta(days=10), None, "张先生", phone, None, None,
            None if status == "pending_review" and rng.random() < 0.7 else f"op{rng.randint(1, 6)}",
            created, created, created + timedelta(days=5) if status == "closed" else None,
        ))
        entries.append((i, i, i, "citizen", None, channel, uuid.UUID(int=rng.getrandbits(128)).hex, text, None,
                        True, None, None, created, "{}"))
        assignee = tickets[-1][18]
        if status == "dispatched":
            dispatches.append((len(dispatches) + 1, i, "department", rng.choice(departments),
                               created + timedelta(hours=1), assignee or "op1", True, "{}", "lead", 1,
                               "pending_sign", False))
            if rng.random() < 0.1:  # the citizen wrote again after the dispatch
                entry_id += 1
                entries.append((entry_id, i, i, "citizen", None, channel, uuid.UUID(int=rng.getrandbits(128)).hex,
                                "请问办得怎么样了？", None, True, None, None, created + timedelta(hours=2), "{}"))
        if assignee == "op1" and rng.random() < 0.5:
            markers.append(("op1", i, created + timedelta(minutes=30)))
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.copy_records_to_table("conversations", records=convs,
                                         columns=["id", "channel", "sender_id", "created_at", "last_message_at"])
        await conn.copy_records_to_table("tickets", records=tickets, columns=[
            "id", "number", "conversation_id", "channel", "origin_hotline", "title", "request_type", "department",
            "region", "classification", "urgent", "status", "deadline", "external_deadline", "citizen_name",
            "citizen_phone", "citizen_wechat_openid", "citizen_email", "assignee", "created_at", "updated_at",
            "closed_at"])
        await conn.copy_records_to_table("entries", records=entries, columns=[
            "id", "conversation_id", "ticket_id", "author", "author_name", "channel", "channel_message_id", "text",
            "subject", "public", "delivery_status", "delivery_detail", "created_at", "meta"])
        await conn.copy_records_to_table("dispatches", records=dispatches, columns=[
            "id", "ticket_id", "target_kind", "target", "at", "actor", "active", "meta", "role", "round", "state",
            "extended"])
        await conn.copy_records_to_table("read_markers", records=markers, columns=["username", "ticket_id", "read_at"])
        for table in ("conversations", "tickets", "entries", "dispatches"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        await conn.execute("VACUUM ANALYZE")  # what autovacuum does on a live system: visibility map, stats
    finally:
        await conn.close()
    probe = tickets[rng.randrange(n)]
    return {"number": probe[1], "phone": probe[15], "pending": pending, "ids": [rng.randint(1, n) for _ in range(50)]}


def _serve(db_url: str, prefix: str, timings: dict[str, list[float]], cpu: dict[str, list[float]]):
    from aiohttp import web

    from config.settings import load_settings
    from gateway.runtime.assembly import create_app
    from ticketing.db.models.tickets import Ticket

    settings = load_settings(DATABASE_URL=db_url, REDIS_URL=REDIS_URL, HOTLINE_REDIS_PREFIX=prefix,
                             HOTLINE_NLU_ENABLED=False, HOTLINE_DATA_DIR="/tmp/hotline-bench-console")
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

    from ticketing.db.migrate import upgrade

    pg_url, db_url = await fresh_database(DB_NAME)
    await asyncio.to_thread(upgrade, db_url)
    t0 = time.perf_counter()
    probes = await _load(pg_url, args.tickets)
    load_s = time.perf_counter() - t0

    prefix = f"benchc{uuid.uuid4().hex[:8]}"
    timings: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    app = _serve(db_url, prefix, timings, cpu)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", PORT).start()
    base = f"http://127.0.0.1:{PORT}"
    try:

        async with app[SESSIONS]() as session, session.begin():
            await users.create_user(session, "op1", role="operator", password=PASSWORD)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            token = (await (await http.get(base + "/api/v1/console/csrf")).json())["csrf_token"]
            resp = await http.post(base + "/api/v1/console/login", json={"username": "op1", "password": PASSWORD},
                                   headers={"X-CSRF-Token": token})
            assert resp.status == 200, await resp.text()
            ids = probes["ids"]
            cases = [
                ("baseline: bare PK lookup", lambda i: f"/bench/pk/{ids[i % len(ids)]}"),
                ("queue page (HTML, 50 rows)", lambda i: "/console"),
                ("queue API (JSON, 50 rows)", lambda i: "/api/v1/console/tickets"),
                ("queue filtered by department", lambda i: "/api/v1/console/tickets?department=urban_management"),
                ("search: ticket number", lambda i: f"/api/v1/console/tickets?q={probes['number']}"),
                ("search: phone", lambda i: f"/api/v1/console/tickets?q={probes['phone']}"),
                ("search: common word (路灯)", lambda i: "/api/v1/console/tickets?q=路灯"),
                (f"search: rare word ({RARE})", lambda i: f"/api/v1/console/tickets?q={RARE}"),
                ("我的工单 (JSON, + follow-ups, 未读)", lambda i: "/api/v1/console/tickets?assignee=op1"),
                ("我的工单 page (HTML)", lambda i: "/console?assignee=op1"),
            ]
            for label, url in cases:
                for i in range(args.warmup):
                    async with http.get(base + url(i)) as r:
                        assert r.status == 200, (label, r.status, await r.text())
                        await r.read()
                for i in range(args.repeat):
                    async with http.get(base + url(i), headers={"X-Bench-Label": label}) as r:
                        assert r.status == 200
                        body = await r.read()
                if label.startswith("search: rare"):
                    assert len(json.loads(body)["tickets"]) == 5
    finally:
        await runner.cleanup()
        r = aioredis.Redis.from_url(REDIS_URL)
        keys = [k async for k in r.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await r.delete(*keys)
        await r.aclose()

    base_p50 = statistics.median(timings["baseline: bare PK lookup"]) * 1000
    print(f"console benchmark: {args.tickets:,} tickets in PostgreSQL ({probes['pending']:,} waiting for review), "
          f"loaded by COPY in {load_s:.1f} s; {args.repeat} sequential requests each after {args.warmup} warm-up; "
          f"server time from a middleware; {os.cpu_count()} cores")
    print(f"{'':40}{'p50 ms':>9}{'p95 ms':>9}{'p50 ÷ PK':>10}{'CPU ms':>9}")
    for label, values in timings.items():
        p50, p95 = pct(values, 50) * 1000, pct(values, 95) * 1000
        cpu_ms = statistics.mean(cpu[label]) * 1000
        print(f"{label:40}{p50:>9.2f}{p95:>9.2f}{p50 / base_p50:>9.1f}×{cpu_ms:>9.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args(argv)
    asyncio.run(_run(args))


if __name__ == "__main__":
    main()
