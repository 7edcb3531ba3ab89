"""What the benchmarks share: the local servers they use and small statistics."""

from __future__ import annotations

import os

import asyncpg

PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of the values."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def fresh_database(name: str) -> tuple[str, str]:
    """Drop and create a database of the bench's own; returns its asyncpg and SQLAlchemy URLs."""
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{name}", base.replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a running process has used so far (Linux /proc, the process's rusage
    as its parent would read it, but available before the process ends); 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            # The command name (field 2) may hold spaces: the fields after its closing parenthesis.
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine so far, all cores (Linux /proc/stat): the servers, the
    databases, the load generator and anything else running.  A measure's share of the machine,
    and so the most the cores could carry at that cost, on an otherwise idle machine."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already counted in user); steal is
    # the hypervisor's other guests running on our cores, not work of ours
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
    return busy / os.sysconf("SC_CLK_TCK")


def process_tree_cpu_seconds(pid: int) -> float:
    """``process_cpu_seconds`` plus what its ended children used (cutime + cstime): a server's whole
    cost, read while it runs."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return _tree_ticks(stat.read()) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return 0.0


def _tree_ticks(stat: str) -> int:
    """utime + stime + cutime + cstime of a /proc/<pid>/stat line, in clock ticks."""
    # The command name (field 2) may hold spaces: the fields after its closing parenthesis.
    return sum(int(value) for value in stat.rsplit(")", 1)[1].split()[11:15])


def command_cpu_seconds(*names: str) -> float:
    """CPU time so far of every running process whose command is one of ``names`` (e.g. ``postgres``,
    ``redis-server``), their ended children included: a local service's whole cost, read from /proc.
    0 when the service runs elsewhere (another host or a container this /proc cannot see)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as stat:
                text = stat.read()
        except OSError:
            continue  # ended between the listing and the read
        if text[text.find("(") + 1:text.rfind(")")] in names:
            total += _tree_ticks(text)
    return total / os.sysconf("SC_CLK_TCK")


def median(values: list[float]) -> float:
    import statistics

    return statistics.median(values) if values else float("nan")


async def post_json_many(port: int, path: str, bodies: list[bytes], concurrency: int,
                         expect: int = 202) -> tuple[float, list[float]]:
    """POST each body over ``concurrency`` keep-alive HTTP/1.1 connections; (elapsed s, latencies s).

    A minimal client on asyncio streams: aiohttp's client costs the driving process about as much
    CPU per request as a lean server, and on a shared 2-core machine that CPU is the servers'."""
    import asyncio
    import time

    queue = list(reversed(range(len(bodies))))
    latencies: list[float] = []
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            "Content-Length: {n}\r\n\r\n")

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                body = bodies[queue.pop()]
                started = time.perf_counter()
                writer.write(head.format(n=len(body)).encode() + body)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                status = int(status_line.split()[1])
                if status != expect:
                    raise RuntimeError(f"POST {path} answered {status}, not {expect}")
                latencies.append(time.perf_counter() - started)
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return time.perf_counter() - t0, latencies
