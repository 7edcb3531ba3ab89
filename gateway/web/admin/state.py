"""Runtime of the NLU administration: settings, Redis keys, the per-app state, and the follower.

Every gateway process runs a follower (for the admin sub-app's lifetime, once a second):

* the NLU server URL: in embedded mode the process that started Rasa (launcher, tests) owns the
  server; it publishes `{url, model}` under the `active` key with a short expiry it keeps renewing.
  Every other process points its `NluClient.base_url` there (or back at its own RASA_URL when the
  entry is gone), so a blue/green switch reaches all processes within a second;
* the swap window of an external server (`PUT /model` blocks Rasa for ~13 s): while `swap_until`
  is in the future the client waits longer (`SWAP_TIMEOUT`) instead of handing messages off;
* the answers: an admin's edit bumps the `answers_version` key; every process reloads the answer
  texts from the database into `NluClient.answers` (no retraining, no restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from connectors.task_stop import cancel_and_wait, end_within
from gateway.infra.resources import DIRECTORY, KEYS, NLU, REDIS, SESSIONS, SETTINGS
from gateway.web.audiences import Config
from ticketing.nlu_workspace import answers, registry

log = logging.getLogger(__name__)

FOLLOW_INTERVAL = 1.0
ACTIVE_TTL = 30  # seconds the managed-server entry lives without renewal (owner gone -> followers fall back)
SWAP_TIMEOUT = float(os.environ.get("HOTLINE_NLU_SWAP_TIMEOUT", "45"))
TRAIN_LOCK_TTL = 60
MARGIN_ENV = "HOTLINE_NLU_GUARD_MARGIN"


@dataclass(frozen=True)
class NluAdminKeys:
    """The Redis keys of the NLU administration (no other part of the system reads them)."""

    prefix: str

    @classmethod
    def of(cls, config: Config) -> NluAdminKeys:
        return cls(config[KEYS].prefix)

    @property
    def active(self) -> str:
        """Hash: the serving NLU server (url, mode, model, path) and an open swap window (swap_until)."""
        return f"{self.prefix}:nlu:active"

    @property
    def train_lock(self) -> str:
        return f"{self.prefix}:nlu:train-lock"

    @property
    def activate_lock(self) -> str:
        return f"{self.prefix}:nlu:activate-lock"

    @property
    def answers_version(self) -> str:
        return f"{self.prefix}:nlu:answers-version"

    @property
    def jobs_topic(self) -> str:
        """Pub/sub: every change of a training job's state (the training page follows it live)."""
        return f"{self.prefix}:nlu:jobs"

    @property
    def evaluate_lock(self) -> str:
        """One evaluation of the active model at a time across the gateway processes."""
        return f"{self.prefix}:nlu:evaluate-lock"

    def job_cancel(self, job_id: int) -> str:
        return f"{self.prefix}:nlu:job:{job_id}:cancel"


@contextlib.asynccontextmanager
async def swap_window(redis: Any, keys: NluAdminKeys, *, drain: float, **fields: str) -> AsyncIterator[None]:
    """An external Rasa server is loading a model (`PUT /model` blocks it for seconds): every
    process's follower sees `swap_until` and lets its parses wait (SWAP_TIMEOUT) instead of timing
    out. The body runs once they all had `drain` seconds to see it."""
    active = keys.active
    await redis.hset(active, mapping={**fields, "swap_until": str(time.time() + 600)})
    try:
        await asyncio.sleep(drain)
        yield
    finally:
        await redis.hdel(active, "swap_until")


def guard_margin() -> float:
    """Allowed drop against the active model, in percentage points ($HOTLINE_NLU_GUARD_MARGIN, default 2)."""
    try:
        return float(os.environ.get(MARGIN_ENV, "2"))
    except ValueError:
        return 2.0


@dataclass
class ManagedRasa:
    """A Rasa server this process started (launcher or tests) and may stop."""

    url: str
    model_path: Path
    process: subprocess.Popen | None = None

    def stop(self, timeout: float = 15.0) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except ProcessLookupError:
            pass


@dataclass
class NluAdminState:
    configured_url: str | None
    base_timeout: float
    managed: ManagedRasa | None = None
    retired: list[ManagedRasa] = field(default_factory=list)
    answers_version: bytes | None = None
    followed_model: str | None = None
    file_answers: dict[str, str] = field(default_factory=dict)
    tasks: set[asyncio.Task] = field(default_factory=set)
    seeded: bool = False
    seed_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


STATE: web.AppKey[NluAdminState] = web.AppKey("nlu_admin_state", NluAdminState)
# The Rasa server this process started itself (embedded mode: launcher or tests, on the root app), so
# that model activation can run blue/green; absent with an external RASA_URL (activation: PUT /model).
RASA_MANAGED: web.AppKey[ManagedRasa] = web.AppKey("rasa_managed", ManagedRasa)


def format_answers(raw: dict[str, str], directory: Any) -> dict[str, str]:
    """Placeholders filled from the directory, like nlu.client.load_answers does for the file."""
    values = {"network_start": directory.network_hotline.shift_start,
              "network_end": directory.network_hotline.shift_end}

    class Keep(dict):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    out = {}
    for key, text in raw.items():
        try:
            out[key] = text.format_map(Keep(values))
        except (ValueError, IndexError):  # a stray brace in an admin's text: show it as written
            out[key] = text
    return out


async def reload_answers(config: Config) -> None:
    """The running client answers with the database's texts (the file's for keys not in the DB)."""
    state = config[STATE]
    async with config[SESSIONS]() as session:
        db_answers = await answers.answers(session)
    if not db_answers:
        return
    config[NLU].answers = {**state.file_answers, **format_answers(db_answers, config[DIRECTORY])}


async def bump_answers(config: Config) -> None:
    """After an edit: this process reloads now, the others on their next follower tick."""
    await config[REDIS].incr(NluAdminKeys.of(config).answers_version)
    await reload_answers(config)
    state = config[STATE]
    state.answers_version = await config[REDIS].get(NluAdminKeys.of(config).answers_version)


async def publish_managed(config: Config, managed: ManagedRasa, model: str | None = None) -> None:
    keys = NluAdminKeys.of(config)
    mapping = {"url": managed.url, "mode": "managed", "model": model or managed.model_path.name.removesuffix(".tar.gz"),
               "path": str(managed.model_path)}
    redis = config[REDIS]
    await redis.hset(keys.active, mapping=mapping)
    await redis.hdel(keys.active, "swap_until")
    await redis.expire(keys.active, ACTIVE_TTL)


def _follow_swap_window(client: Any, state: NluAdminState, active: dict[str, str]) -> None:
    """An external server loading a model (PUT /model): wait for it instead of handing messages off."""
    swap_until = float(active.get("swap_until") or 0)
    client.timeout = max(state.base_timeout, SWAP_TIMEOUT) if swap_until > time.time() else state.base_timeout


async def sync_once(config: Config) -> None:
    state = config[STATE]
    client = config[NLU]
    redis = config[REDIS]
    keys = NluAdminKeys.of(config)
    settings = config[SETTINGS]
    if state.managed is not None:
        # The owner: renew the entry (its own client always uses its own server).
        if await redis.expire(keys.active, ACTIVE_TTL) == 0:
            await publish_managed(config, state.managed)
        client.base_url = state.managed.url
        client.timeout = state.base_timeout
    else:
        active = {k.decode(): v.decode() for k, v in (await redis.hgetall(keys.active)).items()}
        # Decided before the next await: a swap that ends while this tick refreshes the model name
        # must not be re-opened by the stale reading (it would hold the long timeout for a tick).
        _follow_swap_window(client, state, active)
        if settings.nlu_enabled:
            url = active.get("url") if active.get("mode") == "managed" else None
            target = (url or state.configured_url or "").rstrip("/") or None
            if client.base_url != target:
                log.info("NLU: following the active server %s", target)
                client.base_url = target
                await client.model_version()  # refresh the client's cached model name
        if active.get("model") and active["model"] != state.followed_model and client.base_url:
            state.followed_model = active["model"]
            await client.model_version()  # a swap on the same URL (PUT /model): refresh the cached name
    version = await redis.get(keys.answers_version)
    if version != state.answers_version:
        state.answers_version = version
        await reload_answers(config)


@contextlib.asynccontextmanager
async def follower(config: Config) -> AsyncIterator[None]:
    """The follower task, for the admin sub-app's lifetime (every web process runs one)."""
    state = config[STATE]
    state.file_answers = dict(config[NLU].answers)
    managed = config.get(RASA_MANAGED)
    if isinstance(managed, ManagedRasa):
        state.managed = managed
        try:
            await publish_managed(config, managed)
        except Exception as exc:  # Redis down at start: the follower retries
            log.warning("NLU admin: could not publish the managed server: %s", exc)

    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            try:
                await sync_once(config)
            except Exception as exc:  # Redis or DB hiccup: keep following
                log.debug("NLU follower: %s", exc)
            try:
                await asyncio.wait_for(stop.wait(), FOLLOW_INTERVAL)
            except TimeoutError:
                pass

    task = asyncio.create_task(loop(), name="nlu-follower")
    yield
    # Let the current tick finish instead of cancelling a Redis/DB call half-way.
    stop.set()
    with contextlib.suppress(Exception):  # logged by the loop itself
        await end_within(task, 10)
    await cancel_and_wait(state.tasks)
    # Servers this process started for blue/green: stop them with the app (the launcher stops its own).
    for proc in state.retired:
        await asyncio.to_thread(proc.stop)
    if state.managed is not None and state.managed is not managed:
        await asyncio.to_thread(state.managed.stop)
        try:
            await config[REDIS].delete(NluAdminKeys.of(config).active)
        except Exception:
            pass


def active_model_path(database_url: str) -> Path | None:
    """The registry's active model, if its file exists (the launcher serves it after a restart)."""
    from ticketing.db.engine import create_engine, session_factory

    async def query() -> Path | None:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                row = await registry.active_model(session)
        except Exception:
            return None
        finally:
            await engine.dispose()
        if row is not None and Path(row.path).is_file():
            return Path(row.path)
        return None

    return asyncio.run(query())

