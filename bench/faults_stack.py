"""The fault campaign's own stack: a PostgreSQL cluster, a Redis with AOF, the web process and the workers.

Every server runs on a free port of 127.0.0.1 under one temporary directory, never on the shared
5432/6379 servers.  Each child is started in a session of its own (a Ctrl-C in the terminal reaches the
campaign alone, which then stops its children in order) and, through ``setpriv --pdeathsig``, dies
with the campaign even if the campaign itself is killed.  Children are stopped by their process id only.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from glob import glob
from pathlib import Path

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from bench.common import free_port, process_cpu_seconds

# PostgreSQL refuses to run as root; this machine's runs as its package's user.
POSTGRES_USER = "postgres"
DATABASE = "hotline"


def _pg_bin(name: str) -> str:
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"no {name} under /usr/lib/postgresql/*/bin")
    return found[-1]


def hotline_command() -> str:
    beside = Path(sys.executable).parent / "hotline"
    return str(beside) if beside.exists() else (shutil.which("hotline") or "hotline")


class Child:
    """One process of the stack: started, killed with SIGKILL, restarted, stopped."""

    def __init__(self, name: str, argv: list[str], *, log_dir: Path, env: dict[str, str] | None = None,
                 user: str | None = None) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.user = user
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        # CPU seconds of the earlier incarnations (a restart starts a new process at zero).
        self._cpu_before = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        # Called from the main thread only: the death signal follows the thread that forked.
        prefix = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                prefix + self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, user=self.user, group=self._group(),
            )

    def _group(self) -> int | None:
        return pwd.getpwnam(self.user).pw_gid if self.user else None

    def cpu_seconds(self) -> float:
        """CPU time of every incarnation so far."""
        now = process_cpu_seconds(self.pid) if self.running() else 0.0
        return self._cpu_before + now

    def discount_start_up(self) -> None:
        """Leave the CPU time spent so far by this incarnation (imports, start-up) out of its figure."""
        if self.running():
            self._cpu_before -= process_cpu_seconds(self.pid)

    def kill9(self) -> None:
        if not self.running():
            return
        self._cpu_before += process_cpu_seconds(self.pid)
        os.kill(self.pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        self.send_stop(sig)
        self.reap(time.monotonic() + timeout)

    def send_stop(self, sig: int = signal.SIGTERM) -> None:
        """Ask it to stop (the first half of :meth:`stop`, so several children stop side by side)."""
        if not self.running():
            return
        assert self.process is not None
        self._cpu_before += process_cpu_seconds(self.pid)
        self.process.send_signal(sig)

    def reap(self, deadline: float) -> None:
        """Wait for it to end until the deadline, then kill it."""
        if self.process is None:
            return
        try:
            self.process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Postgres:
    """A cluster of its own under the temporary directory (initdb once, then start/stop/kill)."""

    def __init__(self, root: Path, log_dir: Path) -> None:
        self.port = free_port()
        self.data = root / "pg"
        self.data.mkdir()
        self.run_as = POSTGRES_USER if os.geteuid() == 0 else None
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
            os.chmod(root, 0o711)  # the postgres user must reach its data directory
        self.child = Child("postgres", [
            _pg_bin("postgres"), "-D", str(self.data), "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200",
        ], log_dir=log_dir, user=self.run_as)
        self.log_dir = log_dir

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def init(self) -> None:
        with open(self.log_dir / "initdb.log", "wb") as log:
            subprocess.run([_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                            "--no-locale", "--no-sync"], check=True, stdout=log, stderr=subprocess.STDOUT,
                           user=self.run_as, group=self.child._group())

    async def start(self) -> None:
        self.child.start()
        await self.wait_ready()

    async def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = await asyncpg.connect(self.admin_url, timeout=2)
                await conn.close()
                return
            except (OSError, asyncpg.PostgresError, asyncio.TimeoutError):
                if time.monotonic() > deadline or not self.child.running():
                    raise RuntimeError(f"PostgreSQL did not start, see {self.child.log_path}") from None
                await asyncio.sleep(0.1)

    async def create_database(self) -> None:
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            await conn.close()

    def fast_stop(self) -> None:
        """What ``pg_ctl stop -m fast`` does: SIGINT to the postmaster, which ends the sessions."""
        self.child.stop(signal.SIGINT, timeout=60)

    def kill9(self) -> None:
        """The postmaster and every backend at once, as an out-of-memory kill of the host would."""
        if not self.child.running():
            return
        backends = _children_of(self.child.pid)
        self.child.kill9()
        for pid in backends:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _wait_gone(backends)


class Redis:
    """A redis-server with the append-only file on, as production must run it."""

    def __init__(self, root: Path, log_dir: Path) -> None:
        self.port = free_port()
        data = root / "redis"
        data.mkdir()
        self.child = Child("redis", [
            shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(data), "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--daemonize", "no",
        ], log_dir=log_dir)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self, timeout: float = 30) -> None:
        self.child.start()
        deadline = time.monotonic() + timeout
        client = aioredis.Redis.from_url(self.url)
        try:
            while True:
                try:
                    # LOADING is an error too: ready means the AOF has been read back.
                    if await client.ping():
                        return
                except (OSError, aioredis.RedisError):
                    if time.monotonic() > deadline or not self.child.running():
                        raise RuntimeError(f"Redis did not start, see {self.child.log_path}") from None
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()


class Gateway:
    """The production processes of one scenario: ``hotline web`` and two ``hotline worker``s, NLU off."""

    def __init__(self, *, prefix: str, database_url: str, redis_url: str, data_dir: Path, log_dir: Path,
                 workers: int = 2) -> None:
        self.port = free_port()
        self.prefix = prefix
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": database_url, "REDIS_URL": redis_url, "HOTLINE_REDIS_PREFIX": prefix,
            "HOTLINE_NLU_ENABLED": "false", "HOTLINE_DATA_DIR": str(data_dir),
            "HOTLINE_SECRET_KEY": "faults-campaign-secret-key",
            # One load generator on 127.0.0.1 stands for thousands of citizens.
            "HOTLINE_RATE_LIMIT_PER_MINUTE": str(10**9),
        })
        for name in ("RASA_URL", "HOTLINE_CONSUMER"):
            env.pop(name, None)
        hotline = hotline_command()
        self.web = Child(f"{prefix}-web", [hotline, "web", "--host", "127.0.0.1", "--port", str(self.port)],
                         env=env, log_dir=log_dir)
        self.consumers = [f"{prefix}-w{i}" for i in range(1, workers + 1)]
        self.workers = [Child(name, [hotline, "worker", "--consumer", name], env=env, log_dir=log_dir)
                        for name in self.consumers]
        self.redis_url = redis_url

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.web.start()
        for worker in self.workers:
            worker.start()
        await self.wait_web()
        await self.wait_workers(self.workers)

    async def restart_web(self) -> None:
        self.web.start()
        await self.wait_web()
        self.web.discount_start_up()

    async def restart_workers(self, workers: list[Child]) -> None:
        for worker in workers:
            worker.start()
        await self.wait_workers(workers)

    async def wait_web(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while True:
                try:
                    async with session.get(f"{self.base_url}/healthz") as resp:
                        if resp.status == 200:
                            return
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                if time.monotonic() > deadline or not self.web.running():
                    raise RuntimeError(f"the web process did not become healthy, see {self.web.log_path}")
                await asyncio.sleep(0.1)

    async def wait_workers(self, workers: list[Child], timeout: float = 60) -> None:
        """Until each worker has asked the group for entries (a consumer shows in XINFO only once it got one)."""
        started = time.monotonic()
        client = aioredis.Redis.from_url(self.redis_url)
        try:
            while True:
                try:
                    reading = {int(c["addr"].rsplit(":", 1)[1]) for c in await client.client_list()
                               if c.get("cmd") == "xreadgroup"}
                except (OSError, aioredis.RedisError):
                    reading = set()
                waiting = [worker.name for worker in workers if not reading & _local_ports(worker.pid)]
                if not waiting:
                    return
                dead = [worker.name for worker in workers if not worker.running()]
                if dead or time.monotonic() - started > timeout:
                    raise RuntimeError(f"workers {dead or waiting} did not start, see their logs")
                await asyncio.sleep(0.1)
        finally:
            await client.aclose()

    def children(self) -> list[Child]:
        return [self.web, *self.workers]

    def stop(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        for child in self.children():
            child.send_stop()
        for child in self.children():
            child.reap(deadline)


def _local_ports(pid: int) -> set[int]:
    """The local TCP ports of a process's sockets (its Redis connections among them)."""
    inodes = set()
    for fd in glob(f"/proc/{pid}/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as file:
                next(file)
                for line in file:
                    fields = line.split()
                    if fields[9] in inodes:
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


def _children_of(pid: int) -> list[int]:
    found = []
    for stat in glob("/proc/[0-9]*/stat"):
        try:
            with open(stat, encoding="ascii", errors="replace") as file:
                ppid = int(file.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(stat.split("/")[2]))
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie (whoever reaps orphans here may take its time)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_gone(pids: list[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)


def stop_all(stops: list[Callable[[], None]]) -> None:
    """Run every stop even when one fails; the first failure is raised at the end."""
    failure: BaseException | None = None
    for stop in stops:
        try:
            stop()
        except BaseException as exc:  # noqa: BLE001 — the rest must still be stopped
            failure = failure or exc
    if failure:
        raise failure
