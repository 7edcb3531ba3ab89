"""Fault campaign: does "nothing accepted is lost" hold when processes die under load?

    .venv/bin/python -m bench.faults [--seconds 60] [--rate 75] [--outage 10] [--scenarios worker,redis]

Runs the production topology (NLU off): ``hotline web`` and two ``hotline worker`` processes, against a
Redis (append-only file on) and a PostgreSQL cluster of the campaign's own, started on free ports of
127.0.0.1 under a temporary directory and migrated with ``hotline db upgrade``.  Each scenario starts a
fresh web process and workers (a Redis prefix of their own), sends citizen web messages at ``--rate``
for ``--seconds``, and injects its fault a quarter of the way in; a killed service stays down
``--outage`` seconds before it is restarted.  Then it waits for the drain and asks the database and the
streams what became of every message.

Per scenario: sent; the answers (202, 503, other statuses, no answer at all); lost (202 but neither in
the database nor dead-lettered); duplicated (messages with more than one entry); dead-lettered; stored
without a 202 (the answer was lost, the message was not: at least once); drain seconds (from the end of
the fault until nothing from before it is pending); p99 answer time; the web process's CPU per answered
request, beside the in-run baseline (the same load without a fault).

Everything stops by itself; every process and the temporary directory are removed at the end, on
Ctrl-C and on SIGTERM too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench.faults_load import Load, Outcomes, StreamWatch, Tally, tally
from bench.faults_stack import Gateway, Postgres, Redis, hotline_command, stop_all


@dataclass
class Stack:
    """What a fault may act on."""

    postgres: Postgres
    redis: Redis
    gateway: Gateway
    load: Load
    outage: float


Fault = Callable[[Stack], Awaitable[None]]


async def kill_one_worker(stack: Stack) -> None:
    # Not restarted: the surviving worker must take over what the dead one had read.
    stack.gateway.workers[0].kill9()


async def kill_both_workers(stack: Stack) -> None:
    for worker in stack.gateway.workers:
        worker.kill9()
    await asyncio.sleep(stack.outage)
    await stack.gateway.restart_workers(stack.gateway.workers)


async def kill_web(stack: Stack) -> None:
    stack.gateway.web.kill9()
    await asyncio.sleep(stack.outage)
    await stack.gateway.restart_web()


async def kill_redis(stack: Stack) -> None:
    stack.redis.child.kill9()
    await asyncio.sleep(stack.outage)
    await stack.redis.start()


async def restart_postgres_fast(stack: Stack) -> None:
    # What `pg_ctl restart -m fast` does: sessions ended, a clean shutdown, started again at once.
    await asyncio.to_thread(stack.postgres.fast_stop)
    await stack.postgres.start()


async def kill_postgres(stack: Stack) -> None:
    stack.postgres.kill9()
    await asyncio.sleep(stack.outage)
    await stack.postgres.start()  # crash recovery from the WAL


async def disconnect_mid_body(stack: Stack) -> None:
    stack.load.cut_every = 3
    await asyncio.sleep(stack.outage)
    stack.load.cut_every = 0


async def no_fault(stack: Stack) -> None:
    return None


SCENARIOS: dict[str, tuple[str, Fault]] = {
    "baseline": ("no fault (in-run baseline)", no_fault),
    "worker": ("kill -9 one worker", kill_one_worker),
    "workers": ("kill -9 both workers, restart", kill_both_workers),
    "web": ("kill -9 the web process, restart", kill_web),
    "redis": ("kill -9 Redis (AOF), restart", kill_redis),
    "pg-restart": ("PostgreSQL fast restart", restart_postgres_fast),
    "pg-kill": ("kill -9 PostgreSQL, restart", kill_postgres),
    "disconnect": ("clients cut mid-body (1 in 3)", disconnect_mid_body),
}


@dataclass
class Row:
    name: str
    outcomes: Outcomes
    tally: Tally
    drain: float | None  # None: not drained within the timeout
    settled: bool  # the whole stream was idle when the tally was taken
    web_cpu: float

    @property
    def cpu_ms_per_request(self) -> float:
        return self.web_cpu * 1000 / max(self.outcomes.answered, 1)


async def run_scenario(index: int, name: str, fault: Fault, *, postgres: Postgres, redis: Redis, root: Path,
                       args: argparse.Namespace) -> Row:
    tag = f"f{index}{name.replace('-', '')}{uuid.uuid4().hex[:6]}"
    gateway = Gateway(prefix=tag, database_url=postgres.url, redis_url=redis.url, data_dir=root / "data",
                      log_dir=root / "logs")
    stream = StreamWatch(redis.url, tag)
    tasks: list[asyncio.Task[object]] = []
    try:
        await gateway.start()
        load = Load(gateway.base_url, tag, rate=args.rate, seconds=args.seconds)
        stack = Stack(postgres, redis, gateway, load, args.outage)
        cpu_start = gateway.web.cpu_seconds()
        sending = asyncio.create_task(load.run())
        tasks.append(sending)
        await asyncio.sleep(args.seconds / 4)
        await fault(stack)
        fault_end = time.monotonic()
        draining = asyncio.create_task(stream.drain_seconds(fault_end))
        tasks.append(draining)
        outcomes = await sending
        web_cpu = gateway.web.cpu_seconds() - cpu_start
        drain, settled = await _settle(stream, draining, timeout=args.drain_timeout)
        return Row(name, outcomes, await tally(postgres.url, stream, tag), drain, settled, web_cpu)
    finally:
        for task in tasks:
            task.cancel()
        gateway.stop()
        await stream.close()


async def _settle(stream: StreamWatch, draining: asyncio.Task[float], *,
                  timeout: float) -> tuple[float | None, bool]:
    """Wait for the fault's drain, then for the whole stream to be idle, both within the timeout."""
    deadline = time.monotonic() + timeout
    try:
        drain: float | None = await asyncio.wait_for(draining, timeout)
    except TimeoutError:
        drain = None
    while not await stream.idle():
        if time.monotonic() > deadline:
            return drain, False
        await asyncio.sleep(0.2)
    return drain, True


def format_table(rows: list[Row], args: argparse.Namespace, timeout: float) -> str:
    base = next((row for row in rows if row.name == "baseline"), None)
    head = (f"{'scenario':<36}{'sent':>6}{'202':>6}{'503':>5}{'other':>6}{'no ans':>7}{'lost':>5}{'dup':>4}"
            f"{'dead':>5}{'unacked':>8}{'drain s':>8}{'p99 ms':>8}{'CPU ms/req':>11}{'×base':>7}")
    lines = [head, "-" * len(head)]
    for row in rows:
        out = row.outcomes
        other = out.answered - out.statuses[202] - out.statuses[503]
        drain = f">{timeout:.0f}" if row.drain is None else f"{row.drain:.1f}"
        ratio = f"{row.cpu_ms_per_request / base.cpu_ms_per_request:.2f}" if base else "-"
        lost = f"{row.tally.lost(out.accepted)}{'' if row.settled else '?'}"
        lines.append(
            f"{SCENARIOS[row.name][0]:<36}{out.sent:>6}{out.statuses[202]:>6}{out.statuses[503]:>5}{other:>6}"
            f"{out.no_answer:>7}{lost:>5}{row.tally.duplicated():>4}"
            f"{row.tally.dead_letters:>5}{row.tally.unacknowledged(out.accepted):>8}{drain:>8}"
            f"{out.p99_ms():>8.0f}{row.cpu_ms_per_request:>11.2f}{ratio:>7}"
        )
    cut = sum(row.outcomes.cut for row in rows)
    cut_note = f", or cut by the client: {cut}" if cut else ""
    lines += [
        f"{args.rate:g} msg/s for {args.seconds:g} s per scenario, fault at {args.seconds / 4:g} s, killed services "
        f"down {args.outage:g} s; web + 2 workers, PostgreSQL + Redis (AOF) of the campaign's own, NLU off, "
        f"{os.cpu_count()} cores.",
        f"no ans: no HTTP answer (refused, reset, timed out{cut_note}). lost: 202 but neither stored nor "
        "dead-lettered ('?': the stream had not drained by the timeout). unacked: stored without a 202.",
        "drain: from the end of the fault (the service back) until every entry older than it is acknowledged. "
        "CPU: the web process's user+system time over the load per answered request (a restarted process's "
        "start-up left out).",
    ]
    return "\n".join(lines)


async def campaign(args: argparse.Namespace, root: Path) -> list[Row]:
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    loop.add_signal_handler(signal.SIGTERM, main.cancel)
    (root / "logs").mkdir()
    (root / "data").mkdir()
    postgres = Postgres(root, root / "logs")
    redis = Redis(root, root / "logs")
    rows: list[Row] = []
    try:
        await asyncio.to_thread(postgres.init)
        await postgres.start()
        await postgres.create_database()
        await redis.start()
        env = dict(os.environ, DATABASE_URL=postgres.url, HOTLINE_DATA_DIR=str(root / "data"))
        migrated = await asyncio.to_thread(subprocess.run, [hotline_command(), "db", "upgrade"], env=env,
                                           capture_output=True, text=True)
        if migrated.returncode:
            raise RuntimeError(f"hotline db upgrade failed:\n{migrated.stderr[-2000:]}")
        for index, name in enumerate(args.scenarios):
            print(f"[{time.strftime('%H:%M:%S')}] {name}: {SCENARIOS[name][0]} …", flush=True)
            row = await run_scenario(index, name, SCENARIOS[name][1], postgres=postgres, redis=redis, root=root,
                                     args=args)
            rows.append(row)
            print(f"    sent {row.outcomes.sent}, 202 {row.outcomes.statuses[202]}, "
                  f"lost {row.tally.lost(row.outcomes.accepted)}, drain "
                  f"{'timeout' if row.drain is None else f'{row.drain:.1f} s'}", flush=True)
            # A scenario that stopped a server leaves it running again; make sure before the next one.
            if not redis.child.running():
                await redis.start()
            if not postgres.child.running():
                await postgres.start()
    finally:
        stop_all([redis.child.stop, postgres.fast_stop])
    return rows


def _scenarios(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    return names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="load per scenario (default 60)")
    parser.add_argument("--rate", type=float, default=75, help="messages per second (default 75)")
    parser.add_argument("--outage", type=float, default=10,
                        help="seconds a killed service stays down, or clients keep cutting (default 10)")
    parser.add_argument("--drain-timeout", type=float, default=300,
                        help="give up waiting for the drain after this many seconds (default 300)")
    parser.add_argument("--scenarios", type=_scenarios, default=list(SCENARIOS),
                        help=f"comma-separated, in order (default all: {','.join(SCENARIOS)}); "
                             "'baseline' gives the CPU ratio")
    parser.add_argument("--logs", type=Path, help="copy the processes' logs here before cleaning up")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="hotline-faults-"))
    try:
        rows = asyncio.run(campaign(args, root))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted: every process stopped, temporary files removed")
        raise SystemExit(130) from None
    finally:
        if args.logs:
            with contextlib.suppress(OSError):
                shutil.copytree(root / "logs", args.logs, dirs_exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(format_table(rows, args, args.drain_timeout))


if __name__ == "__main__":
    main()
