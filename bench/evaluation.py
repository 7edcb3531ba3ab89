"""Evaluation benchmark: 考评 of every unit over 200,000 tickets in PostgreSQL.

    .venv/bin/python -m bench.evaluation [--tickets 200000] [--repeat 20]

Loads a dedicated database (``hotline_bench_evaluation``, dropped and re-created) with COPY: a year
of tickets, each dispatched to a lead unit (some with an assisting unit, some returned and
re-dispatched, some redone after a bad evaluation), signed and answered on time or late, about
one in twenty extended with an approved request, surveys for the answered rounds (some ruled),
a few 督办单.  Then it times, in this process and on one connection pool:

    ``unit_figures`` for one month, and for the whole year
    ``operator_errors`` for the year (the page's second table)

beside a baseline measured in the same run: a plain ``SELECT count(*) FROM dispatches``.  For each,
the median and p95 wall time, the ratio of the medians to the baseline's, and CPU milliseconds
per call: this process's (``getrusage``) and the PostgreSQL backend's (its /proc counters; the
database is local).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone

import asyncpg
from sqlalchemy import text

from bench.common import fresh_database, pct, process_cpu_seconds

DB_NAME = "hotline_bench_evaluation"
OPERATORS = [f"op{i}" for i in range(1, 7)] + ["disp1", "disp2", "disp3"]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _load(pg_url: str, n: int, now: datetime, seed: int = 13) -> dict[str, int]:
    """COPY n tickets with their dispatch rounds, extensions, surveys and supervision notes."""
    from config.directory import load_directory

    directory = load_directory()
    rng = random.Random(seed)
    units = [(u.code, u.kind) for u in directory.units]
    tickets, dispatches, extensions, surveys, notes = [], [], [], [], []
    per_day: dict[str, int] = {}
    dispatch_id = survey_id = 0

    def add_dispatch(ticket_id: int, unit: tuple[str, str], at: datetime, role: str, round_: int,
                     last: bool) -> tuple[int, datetime, datetime | None, str]:
        nonlocal dispatch_id
        dispatch_id += 1
        deadline = at + timedelta(days=rng.choice((3, 14, 21)))
        sign_deadline = at + timedelta(days=1)
        roll = rng.random()
        signed = at + timedelta(hours=rng.expovariate(1 / 8)) if roll > 0.03 else None
        answered = ended = None
        state, returned = "pending_sign", None
        if not last and role == "lead":
            state, ended, returned = "returned", at + timedelta(hours=rng.random() * 30), rng.choice(
                ("not_our_duty", "other"))
            signed = None
        elif signed is not None:
            state = "signed"
            if at < now - timedelta(days=25) or rng.random() < 0.6:
                answered = signed + (deadline - at) * rng.uniform(0.2, 1.15)
                state = "accepted" if answered < now else "signed"
                answered = answered if answered < now else None
        extended = rng.random() < 0.05
        dispatches.append((dispatch_id, ticket_id, unit[1], unit[0], at, rng.choice(OPERATORS), deadline, None,
                           state in ("pending_sign", "signed"), "{}", role, round_, state, sign_deadline, signed,
                           "clerk" if signed else None, answered, ended, returned, extended))
        if extended:
            extensions.append((len(extensions) + 1, ticket_id, dispatch_id, unit[0], "clerk", at + timedelta(days=1),
                               "需现场核查", deadline, deadline + timedelta(days=7), "approved", "disp1",
                               at + timedelta(days=1)))
        if rng.random() < 0.02:
            notes.append((len(notes) + 1, ticket_id, dispatch_id, unit[0], 1, "disp1", at + timedelta(days=2),
                          "请加快办理"))
        return dispatch_id, deadline, answered, state

    # Ids grow with time, as they do on a live system (a table's rows lie roughly in the order of ``at``).
    created_times = sorted(now - timedelta(seconds=rng.random() * 365 * 86400) for _ in range(n))
    for ticket_id, created in enumerate(created_times, start=1):
        day = created.astimezone(timezone(timedelta(hours=8))).strftime("%Y%m%d")
        per_day[day] = per_day.get(day, 0) + 1
        lead = rng.choice(units)
        at = created + timedelta(minutes=rng.randint(5, 240))
        rounds = [rng.choice(units)] if rng.random() < 0.06 else []  # returned first, then re-dispatched
        rounds.append(lead)
        status = "dispatched"
        for i, unit in enumerate(rounds, start=1):
            last = i == len(rounds)
            did, _, answered, state = add_dispatch(ticket_id, unit, at, "lead", i, last)
            if last and rng.random() < 0.1:
                add_dispatch(ticket_id, rng.choice(units), at, "assist", i, True)
            if last and answered is not None:
                survey_id += 1
                responded = answered + timedelta(days=rng.random() * 3) if rng.random() < 0.85 else None
                solved = rng.random() < 0.88 if responded else None
                satisfaction = rng.choices(("satisfied", "basic", "unsatisfied"), (70, 20, 10))[0] if responded \
                    else None
                outcome = None
                if responded:
                    good = solved and satisfaction != "unsatisfied"
                    outcome = "closed" if good else ("ruled" if rng.random() < 0.3 else "redo")
                surveys.append((survey_id, ticket_id, did, unit[0], "web", answered, answered + timedelta(days=15),
                                responded, "link" if responded else None, solved, satisfaction, 0, outcome))
                status = "closed" if outcome in ("closed", "ruled") else "answered"
            at = at + timedelta(days=1)
        tickets.append((ticket_id, f"PDS{day}{per_day[day]:05d}", "web", "投诉", "complaint", "confirmed", False,
                        status, created + timedelta(days=21), lead[0], created, created))
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.copy_records_to_table("tickets", records=tickets, columns=[
            "id", "number", "channel", "title", "request_type", "classification", "urgent", "status", "deadline",
            "unit", "created_at", "updated_at"])
        await conn.copy_records_to_table("dispatches", records=dispatches, columns=[
            "id", "ticket_id", "target_kind", "target", "at", "actor", "deadline", "note", "active", "meta", "role",
            "round", "state", "sign_deadline", "signed_at", "signed_by", "answered_at", "ended_at", "return_reason",
            "extended"])
        await conn.copy_records_to_table("extension_requests", records=extensions, columns=[
            "id", "ticket_id", "dispatch_id", "unit", "requested_by", "requested_at", "reason", "previous_deadline",
            "requested_deadline", "state", "decided_by", "decided_at"])
        await conn.copy_records_to_table("surveys", records=surveys, columns=[
            "id", "ticket_id", "dispatch_id", "unit", "channel", "created_at", "expires_at", "responded_at", "source",
            "solved", "satisfaction", "callback_attempts", "outcome"])
        await conn.copy_records_to_table("supervision_notes", records=notes, columns=[
            "id", "ticket_id", "dispatch_id", "unit", "seq", "issued_by", "issued_at", "text"])
        for table in ("tickets", "dispatches", "extension_requests", "surveys", "supervision_notes"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        await conn.execute("VACUUM ANALYZE")  # what autovacuum does on a live system: visibility map, stats
    finally:
        await conn.close()
    return {"tickets": n, "dispatches": len(dispatches), "surveys": len(surveys), "extensions": len(extensions),
            "notes": len(notes)}


async def _time(label: str, call: Callable[[], Awaitable[object]], backend_pid: int, repeat: int, warmup: int,
                out: dict[str, dict[str, float]]) -> None:
    for _ in range(warmup):
        await call()
    walls: list[float] = []
    cpu0, server0 = _cpu(), process_cpu_seconds(backend_pid)
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        walls.append(time.perf_counter() - started)
    out[label] = {"p50": statistics.median(walls) * 1000, "p95": pct(walls, 95) * 1000,
                  "cpu": (_cpu() - cpu0) * 1000 / repeat,
                  "server_cpu": (process_cpu_seconds(backend_pid) - server0) * 1000 / repeat}


async def _run(args) -> None:
    from config.directory import load_directory
    from config.local_time import LOCAL_TZ
    from ticketing.db.engine import create_engine, session_factory
    from ticketing.db.migrate import upgrade
    from ticketing.workflow.evaluation import unit_figures
    from ticketing.workflow.operator_errors import operator_errors

    pg_url, db_url = await fresh_database(DB_NAME)
    await asyncio.to_thread(upgrade, db_url)
    now = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    counts = await _load(pg_url, args.tickets, now)
    load_s = time.perf_counter() - t0

    directory = load_directory()
    local = now.astimezone(LOCAL_TZ)
    last_month_end = datetime(local.year, local.month, 1, tzinfo=LOCAL_TZ)
    last_month_start = (last_month_end - timedelta(days=1)).replace(day=1)
    year_start = now - timedelta(days=366)
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    results: dict[str, dict[str, float]] = {}
    figures: dict[str, list] = {}
    try:
        # One session (one connection, one backend process) for every call, so the backend's CPU is ours.
        async with sessions() as session:
            backend_pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()

            async def baseline() -> object:
                return (await session.execute(text("SELECT count(*) FROM dispatches"))).scalar_one()

            async def month() -> object:
                figures["month"] = await unit_figures(session, directory, start=last_month_start,
                                                      end=last_month_end, now=now)
                return figures["month"]

            async def year() -> object:
                figures["year"] = await unit_figures(session, directory, start=year_start, end=now, now=now)
                return figures["year"]

            async def errors() -> object:
                return await operator_errors(session, start=year_start, end=now)

            for label, call in (("baseline: SELECT count(*) FROM dispatches", baseline),
                                ("unit_figures, one month", month), ("unit_figures, one year", year),
                                ("operator_errors, one year", errors)):
                await _time(label, call, backend_pid, args.repeat, args.warmup, results)
            plan = (await session.execute(text(
                "EXPLAIN SELECT target, count(*) FROM dispatches WHERE role = 'lead' AND at >= :s AND at < :e "
                "GROUP BY target"), {"s": last_month_start, "e": last_month_end})).scalars().all()
    finally:
        await engine.dispose()

    received_month = sum(u.received for u in figures["month"])
    received_year = sum(u.received for u in figures["year"])
    print(f"evaluation benchmark: {counts['tickets']:,} tickets, {counts['dispatches']:,} dispatches, "
          f"{counts['surveys']:,} surveys, {counts['extensions']:,} extensions, {counts['notes']:,} 督办单 in "
          f"PostgreSQL, loaded by COPY in {load_s:.1f} s; {len(directory.units)} units; {args.repeat} calls each "
          f"after {args.warmup} warm-up; {os.cpu_count()} cores")
    print(f"one month = {last_month_start:%Y-%m} local ({received_month:,} lead dispatches); "
          f"one year = the last 366 days ({received_year:,} lead dispatches)")
    base = results["baseline: SELECT count(*) FROM dispatches"]["p50"]
    print(f"{'':44}{'p50 ms':>9}{'p95 ms':>9}{'p50 ÷ base':>12}{'CPU ms':>9}{'PG CPU ms':>11}")
    for label, r in results.items():
        print(f"{label:44}{r['p50']:>9.2f}{r['p95']:>9.2f}{r['p50'] / base:>11.1f}×{r['cpu']:>9.2f}"
              f"{r['server_cpu']:>11.2f}")
    print("plan of the month's dispatch aggregate:")
    for line in plan:
        print("   ", line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    asyncio.run(_run(args))


if __name__ == "__main__":
    main()
