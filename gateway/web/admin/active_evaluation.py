"""The active model's evaluation figures, without training again.

The model a gateway serves when the administration is first used is registered without figures
(workspace.ensure_seeded), so its confusion matrix was unreachable until someone retrained. Every
gateway process checks at start-up, in the background, once its NLU server answers; a Redis lock
lets one process measure while the others find the figures there. An admin can also ask for a new
measurement (评估当前模型). The measurement runs the held-out set against the serving server itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from connectors.task_stop import cancel_and_wait
from gateway.infra.resources import NLU, REDIS, SESSIONS, SETTINGS
from gateway.web.admin import evaluation
from gateway.web.admin.state import STATE, NluAdminKeys
from gateway.web.admin.workspace import ensure_seeded
from gateway.web.audiences import Config
from ticketing.nlu_workspace import registry

log = logging.getLogger(__name__)

EVALUATE_LOCK_TTL = 900  # longer than any held-out run; a crashed process's lock expires
ERROR_TTL = 3600
STARTUP_POLL = 5.0  # while the NLU server is still loading its model


def _lock(config: Config) -> Lock:
    return Lock(config[REDIS], NluAdminKeys.of(config).evaluate_lock, timeout=EVALUATE_LOCK_TTL,
                blocking=False, thread_local=False)


def _error_key(config: Config) -> str:
    return NluAdminKeys.of(config).evaluate_lock + ":error"


async def evaluating(config: Config) -> bool:
    return bool(await _lock(config).locked())


async def last_error(config: Config) -> str | None:
    raw = await config[REDIS].get(_error_key(config))
    return raw.decode() if raw else None


async def measure_active(config: Config, *, force: bool = False) -> bool:
    """Evaluate the active model on the server serving it (skipped when it has figures, unless
    `force`). Returns whether figures were stored. Raises when the measurement itself fails."""
    async with config[SESSIONS]() as session:
        active = await registry.active_model(session)
    if active is None or (active.metrics and not force):
        return False
    url = config[NLU].base_url
    if not url:
        raise RuntimeError("没有可用的 NLU 服务")
    metrics = await evaluation.evaluate_url(url, dict(config[NLU].answers))
    if metrics.get("model") != active.name:
        # the server serves something else (an external swap in between): do not mislabel
        raise RuntimeError(f"NLU 服务当前加载的是 {metrics.get('model')}，不是登记的当前模型 {active.name}")
    async with config[SESSIONS]() as session, session.begin():
        await registry.set_metrics(session, active.version, metrics)
    return True


async def evaluate_active(config: Config, *, force: bool = False, wait: float = 0.0) -> bool:
    """`measure_active` under the one-at-a-time lock; False when another run holds it (after
    waiting up to `wait` s for it). A failure is kept for the model page, not raised."""
    lock = _lock(config)
    deadline = time.monotonic() + wait
    while not await lock.acquire():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(1.0)
    return await _run_locked(config, lock, force=force)


async def start_evaluation(config: Config) -> bool:
    """An admin's 评估当前模型: take the lock now (so the page sees the run at once), measure in the
    background. False when a run is already under way."""
    lock = _lock(config)
    if not await lock.acquire():
        return False
    config[STATE].spawn(_run_locked(config, lock, force=True), name="nlu-evaluate-active")
    return True


async def _run_locked(config: Config, lock: Lock, *, force: bool) -> bool:
    try:
        await config[REDIS].delete(_error_key(config))
        return await measure_active(config, force=force)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning("could not evaluate the active model: %s", exc)
        with contextlib.suppress(RedisError, OSError):
            await config[REDIS].set(_error_key(config), str(exc)[:500].encode(), ex=ERROR_TTL)
        return False
    finally:
        with contextlib.suppress(LockError, RedisError, OSError):
            await lock.release()


async def _at_startup(config: Config) -> None:
    client = config[NLU]
    while client.base_url is None or not await client.healthy():
        await asyncio.sleep(STARTUP_POLL)
    await ensure_seeded(config)  # registers the serving model (v1) on a first run
    await evaluate_active(config)


@contextlib.asynccontextmanager
async def startup_evaluation(config: Config) -> AsyncIterator[None]:
    """For the admin sub-app's lifetime: the background check above (NLU enabled only)."""
    task = None
    if config[SETTINGS].nlu_enabled:
        task = asyncio.create_task(_at_startup(config), name="nlu-evaluate-active")
    try:
        yield
    finally:
        if task is not None:
            await cancel_and_wait([task])
