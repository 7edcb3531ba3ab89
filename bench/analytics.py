"""Analytics benchmark: the dashboard's queries over 1,000,000 tickets in PostgreSQL.

    .venv/bin/python -m bench.analytics [--tickets 1000000] [--repeat 20] [--sqlite 200000]

Seeds a dedicated database (``hotline_bench_analytics``, dropped and re-created) inside PostgreSQL
with ``generate_series``: a year of tickets spread over the channels, departments, regions and
request types with a skew (a few departments and districts get most of them), 90 % pre-classified
by the bot (a prediction row) and one in ten of those corrected by an operator, emergencies, the
recent ones partly still open, and the bot's FAQ answers without a ticket.  Then it times:

    the first refresh of the rollups (the worker's backfill), and an incremental one after
    1,000 tickets changed (a busy minute);
    each dashboard query (:mod:`ticketing.analytics.figures`) for the last 30 days and the
    last 365 days, without filter and filtered by one region,

each beside its raw baseline measured in the same run: the same aggregate straight over the
tickets.  For each: median and p95 wall time, the ratio of the medians (raw ÷ rollup: how many
times faster the rollup is) and CPU ms per call of this process (``getrusage``) and of the
PostgreSQL backend (its /proc counters; the database is local).

``--sqlite N`` also seeds N tickets into a SQLite file and times the same rollup queries there
(the embedded default of ``make run``), to say how much slower it is.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import text

from bench.common import fresh_database, pct, process_cpu_seconds

DB_NAME = "hotline_bench_analytics"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _array(codes: list[str]) -> str:
    return "(ARRAY[" + ",".join(f"'{c}'" for c in codes) + "])"


def _seed_sql(n: int, now: datetime) -> list[str]:
    """PostgreSQL statements that create n tickets over the year before ``now`` (ids grow with time)."""
    from config.directory import load_directory

    directory = load_directory()
    departments = _array([d.code for d in directory.departments])
    regions = _array([r.code for r in directory.regions])
    types = _array(["consult", "complaint", "help", "report", "suggestion", "praise"])
    channels = _array(["wechat", "web", "web", "wechat", "email", "national_platform", "phone"])
    open_statuses = _array(["pending_review", "dispatched", "handling", "returned", "answer_review"])
    stamp = now.isoformat()
    # power(random(), k): a skew towards the first codes (the busy departments and districts).
    return [
        "INSERT INTO conversations (id, channel, sender_id, created_at, last_message_at) "
        f"VALUES (1, 'wechat', 'bench', '{stamp}', '{stamp}')",
        f"""INSERT INTO tickets (id, number, channel, title, request_type, department, region, classification,
                                 urgent, status, deadline, created_at, updated_at)
            SELECT i, 'B' || lpad(i::text, 12, '0'), {channels}[1 + floor(random() * 7)::int], '路灯不亮',
                   {types}[1 + floor(power(random(), 2) * 6)::int],
                   {departments}[1 + floor(power(random(), 2) * array_length({departments}, 1))::int],
                   {regions}[1 + floor(power(random(), 1.5) * array_length({regions}, 1))::int],
                   'predicted', random() < 0.01,
                   CASE WHEN at > '{stamp}'::timestamptz - interval '30 days' AND random() < 0.4
                          THEN {open_statuses}[1 + floor(random() * 5)::int]
                        WHEN random() < 0.01 THEN 'handling' ELSE 'closed' END,
                   at + interval '15 days', at, at
            FROM (SELECT i, '{stamp}'::timestamptz - (({n} - i) * interval '365 days' / {n})
                          - random() * interval '30 minutes' AS at
                  FROM generate_series(1, {n}) AS i) AS s""",
        # 10 % unclassified: the NLU was down or unsure.
        "UPDATE tickets SET department = NULL, region = NULL, request_type = NULL, classification = 'unclassified' "
        "WHERE id % 10 = 0",
        """INSERT INTO predictions (ticket_id, department, region, request_type, intent, confidence, created_at)
           SELECT id, department, region, request_type, 'x', 0.8, created_at FROM tickets WHERE id % 10 <> 0""",
        """INSERT INTO classification_changes (ticket_id, at, actor, field, from_value, to_value, predicted_value,
                                               previous_by)
           SELECT id, created_at + interval '5 minutes', 'op1', 'department', department, 'transport', department,
                  'bot' FROM tickets WHERE id % 10 = 3""",
        # The bot's FAQ answers without a ticket: about a third as many as tickets.
        f"""INSERT INTO entries (conversation_id, ticket_id, author, channel, text, public, created_at, meta)
            SELECT 1, NULL, 'bot', {channels}[1 + floor(random() * 7)::int], '您可以……', true,
                   '{stamp}'::timestamptz - random() * interval '365 days', '{{}}'
            FROM generate_series(1, {n // 3})""",
        "SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))",
        "SELECT setval(pg_get_serial_sequence('conversations', 'id'), 1)",
    ]


# The raw baselines: the same aggregates straight over the tickets (local days and hours in SQL).
LOCAL = "(t.created_at AT TIME ZONE 'Asia/Shanghai')"
RAW = {
    "volume_by_day": f"SELECT {LOCAL}::date, channel, count(*) FROM tickets t WHERE {{where}} GROUP BY 1, 2",
    "volume_by_hour": f"SELECT channel, extract(hour FROM {LOCAL}), count(*) FROM tickets t WHERE {{where}} "
                      "GROUP BY 1, 2",
    "heat_map": "SELECT department, region, count(*) FROM tickets t WHERE {where} GROUP BY 1, 2",
    "request_types": "SELECT request_type, count(*) FROM tickets t WHERE {where} GROUP BY 1",
    "bot_share": "SELECT count(*), sum(CASE WHEN urgent THEN 1 ELSE 0 END), "
                 "sum(CASE WHEN EXISTS (SELECT 1 FROM predictions p WHERE p.ticket_id = t.id) THEN 1 ELSE 0 END), "
                 "sum(CASE WHEN EXISTS (SELECT 1 FROM classification_changes c WHERE c.ticket_id = t.id "
                 "AND c.previous_by = 'bot' AND c.field IS NOT NULL) THEN 1 ELSE 0 END) FROM tickets t "
                 "WHERE {where}",
}


async def _time(call: Callable[[], Awaitable[object]], backend_pid: int | None, repeat: int,
                warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        await call()
    walls: list[float] = []
    cpu0 = _cpu()
    server0 = process_cpu_seconds(backend_pid) if backend_pid else 0.0
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        walls.append(time.perf_counter() - started)
    return {"p50": statistics.median(walls) * 1000, "p95": pct(walls, 95) * 1000,
            "cpu": (_cpu() - cpu0) * 1000 / repeat,
            "server_cpu": ((process_cpu_seconds(backend_pid) - server0) * 1000 / repeat) if backend_pid else 0.0}


def _scopes(today: date) -> dict[str, object]:
    from ticketing.analytics.figures import Scope

    return {"30 days": Scope(today - timedelta(days=29), today),
            "365 days": Scope(today - timedelta(days=364), today),
            "30 days, one region": Scope(today - timedelta(days=29), today, region="weidong"),
            "365 days, one region": Scope(today - timedelta(days=364), today, region="weidong")}


def _raw_where(scope) -> tuple[str, dict[str, object]]:
    from ticketing.analytics.rollup import day_bounds

    start, _ = day_bounds(scope.first)
    _, end = day_bounds(scope.last)
    where, params = "t.created_at >= :start AND t.created_at < :end", {"start": start, "end": end}
    for name, value in scope.filters().items():
        where += f" AND t.{name} = :{name}"
        params[name] = value
    return where, params


async def _queries(sessions, now: datetime, repeat: int, warmup: int, *, raw: bool) -> dict[str, dict]:
    from config.local_time import LOCAL_TZ
    from ticketing.analytics import figures

    results: dict[str, dict] = {}
    async with sessions() as session:
        pid = None
        if raw:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        for scope_label, scope in _scopes(now.astimezone(LOCAL_TZ).date()).items():
            for name in ("volume_by_day", "volume_by_hour", "heat_map", "request_types", "bot_share", "backlog"):
                if name == "backlog":
                    async def call(scope=scope):
                        return await figures.backlog(session, scope, now=now)
                else:
                    async def call(scope=scope, name=name):
                        return await getattr(figures, name)(session, scope)
                row = {"rollup": await _time(call, pid, repeat, warmup)}
                if raw and name in RAW:
                    where, params = _raw_where(scope)
                    sql = text(RAW[name].format(where=where))

                    async def baseline(sql=sql, params=params):
                        return (await session.execute(sql, params)).all()
                    row["raw"] = await _time(baseline, pid, max(3, repeat // 4), 1)
                results[f"{name} ({scope_label})"] = row
    return results


def _print(results: dict[str, dict], *, raw: bool) -> None:
    head = f"{'query (period)':44}{'p50 ms':>9}{'p95 ms':>9}{'CPU ms':>8}{'PG CPU':>8}"
    if raw:
        head += f"{'raw p50':>10}{'raw p95':>10}{'raw PG CPU':>11}{'raw÷rollup':>12}"
    print(head)
    for label, row in results.items():
        r = row["rollup"]
        line = f"{label:44}{r['p50']:>9.2f}{r['p95']:>9.2f}{r['cpu']:>8.2f}{r['server_cpu']:>8.2f}"
        if raw and "raw" in row:
            b = row["raw"]
            line += f"{b['p50']:>10.1f}{b['p95']:>10.1f}{b['server_cpu']:>11.1f}{b['p50'] / r['p50']:>11.1f}×"
        elif raw:
            line += f"{'(current state: no rollup)':>43}"
        print(line)


async def _vacuum(pg_url: str) -> None:
    """What autovacuum does on a live system: the visibility map and the planner's statistics."""
    import asyncpg

    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def _refresh_times(sessions) -> tuple[float, int]:
    from ticketing.analytics.rollup import refresh

    started = time.perf_counter()
    async with sessions() as session, session.begin():
        done = await refresh(session)
    return time.perf_counter() - started, len(done.days)


async def _postgres(args, now: datetime) -> tuple[dict[str, dict], datetime]:
    from ticketing.db.engine import create_engine, session_factory
    from ticketing.db.migrate import upgrade

    if args.reuse:
        # The tickets of an earlier run stay; the analytics tables are made anew by their migration.
        from bench.common import PG_ADMIN
        from ticketing.db.migrate import alembic_config

        base = PG_ADMIN.rsplit("/", 1)[0]
        pg_url = f"{base}/{DB_NAME}"
        db_url = base.replace("postgresql://", "postgresql+asyncpg://") + f"/{DB_NAME}"
        from alembic import command

        await asyncio.to_thread(command.downgrade, alembic_config(db_url), "0005_evaluation_indexes")
        await asyncio.to_thread(upgrade, db_url)
    else:
        pg_url, db_url = await fresh_database(DB_NAME)
        await asyncio.to_thread(upgrade, db_url)
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    try:
        started = time.perf_counter()
        if not args.reuse:
            async with engine.begin() as conn:
                for statement in _seed_sql(args.tickets, now):
                    await conn.execute(text(statement))
        await _vacuum(pg_url)
        seeded = time.perf_counter() - started
        async with engine.connect() as conn:
            args.tickets = (await conn.execute(text("SELECT count(*) FROM tickets"))).scalar_one()
            now = (await conn.execute(text("SELECT max(created_at) FROM tickets"))).scalar_one()
        print(f"analytics benchmark on PostgreSQL: {args.tickets:,} tickets (a year), {args.tickets // 3:,} bot "
              f"answers, {'kept from an earlier run' if args.reuse else 'seeded with generate_series'} in "
              f"{seeded:.1f} s; {os.cpu_count()} cores; {args.repeat} calls per query after {args.warmup} warm-up "
              f"(raw baselines: {max(3, args.repeat // 4)} calls)", flush=True)
        backfill, days = await _refresh_times(sessions)
        print(f"rollup backfill (the worker's first refresh): {backfill:.1f} s for {days} days", flush=True)
        async with engine.begin() as conn:
            # A busy minute: operators and units work on the last month's tickets.
            await conn.execute(text(
                "UPDATE tickets SET department = 'transport', updated_at = now() WHERE id IN (SELECT id FROM tickets "
                "WHERE created_at > now() - interval '30 days' ORDER BY random() LIMIT 1000)"))
        incremental, touched = await _refresh_times(sessions)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT count(*) FROM analytics_daily"))).scalar_one()
            monthly = (await conn.execute(text("SELECT count(*) FROM analytics_monthly"))).scalar_one()
        await _vacuum(pg_url)
        print(f"rollup rows: {rows:,} daily ({args.tickets / max(rows, 1):.1f} tickets per row), {monthly:,} monthly; "
              f"incremental refresh after 1,000 of the last 30 days' tickets changed: {incremental * 1000:.0f} ms "
              f"({touched} days rebuilt)", flush=True)
        results = await _queries(sessions, now, args.repeat, args.warmup, raw=True)
    finally:
        await engine.dispose()
    _print(results, raw=True)
    return results, now


async def _sqlite(args, now: datetime, pg_results: dict[str, dict]) -> None:
    """The same rollup queries on SQLite: tickets copied from PostgreSQL's seed, rollups rebuilt."""
    from sqlalchemy import insert, select

    from ticketing.db.engine import create_engine, session_factory
    from ticketing.db.migrate import upgrade
    from ticketing.db.models.tickets import ClassificationChange, Conversation, Entry, Prediction, Ticket

    base = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test").rsplit("/", 1)[0]
    source = create_engine(base.replace("postgresql://", "postgresql+asyncpg://") + f"/{DB_NAME}")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        await asyncio.to_thread(upgrade, url)
        target = create_engine(url)
        sessions = session_factory(target)
        try:
            started = time.perf_counter()
            async with source.connect() as src, target.begin() as dst:
                await dst.execute(insert(Conversation), [dict(id=1, channel="wechat", sender_id="bench",
                                                              created_at=now, last_message_at=now)])
                limit = args.sqlite
                for model, stmt in (
                        (Ticket, select(Ticket.__table__).where(Ticket.id > args.tickets - limit)),
                        (Prediction, select(Prediction.__table__).where(Prediction.ticket_id > args.tickets - limit)),
                        (ClassificationChange, select(ClassificationChange.__table__)
                         .where(ClassificationChange.ticket_id > args.tickets - limit)),
                        (Entry, select(Entry.__table__).order_by(Entry.created_at.desc()).limit(limit // 3))):
                    result = await src.stream(stmt)
                    async for chunk in result.mappings().partitions(5000):
                        await dst.execute(insert(model.__table__), [dict(row) for row in chunk])
            copied = time.perf_counter() - started
            backfill, days = await _refresh_times(sessions)
            results = await _queries(sessions, now, args.repeat, args.warmup, raw=False)
        finally:
            await target.dispose()
            await source.dispose()
    print(f"\nSQLite (the embedded default): the newest {args.sqlite:,} tickets copied in {copied:.1f} s; "
          f"rollup backfill {backfill:.1f} s for {days} days")
    print(f"{'query (period)':44}{'p50 ms':>9}{'p95 ms':>9}{'CPU ms':>8}{'÷ PG p50':>10}")
    for label, row in results.items():
        r = row["rollup"]
        ratio = r["p50"] / pg_results[label]["rollup"]["p50"] if label in pg_results else float("nan")
        print(f"{label:44}{r['p50']:>9.2f}{r['p95']:>9.2f}{r['cpu']:>8.2f}{ratio:>9.1f}×")


async def _run(args) -> None:
    import ticketing.analytics.figures  # noqa: F401 - loaded once, before a long seeding
    import ticketing.analytics.rollup  # noqa: F401

    now = datetime.now(timezone.utc)
    pg_results, now = await _postgres(args, now)
    if args.sqlite:
        await _sqlite(args, now, pg_results)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--sqlite", type=int, default=0, help="also time SQLite with this many tickets")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the tickets of the last run (rebuild only the analytics tables)")
    args = parser.parse_args(argv)
    asyncio.run(_run(args))


if __name__ == "__main__":
    main()
