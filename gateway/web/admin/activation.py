"""Activate a model of the registry without a failed parse.

* Embedded mode (this process started Rasa: `RASA_MANAGED`): blue/green. A second Rasa starts on a
  free port with the new model; once it answers, its URL is published (`keys.active`) and set on
  this process's client, the other processes follow within a second (state.py); the old server is
  stopped after a drain delay, when the parses already sent to it have been answered.
* External RASA_URL: `PUT /model`. Rasa loads the model inside its event loop and answers nothing for
  ~13 s, so first a swap window is announced (`swap_until`): every process's client waits up to
  SWAP_TIMEOUT instead of its usual 2 s; the PUT starts only once every process has seen the window
  and the parses sent with the short timeout are done. The model path must be readable by that
  server (same machine or a shared volume).

The guard (evaluation.guard) refuses a model whose combined emergency recall is below 100 %, or
whose classifier emergency recall or department top-1 fall more than the margin below the active
model's, unless an admin gives a reason (audited as `nlu_model_override`). Rolling back to a version
that was active before is not re-judged: it served before, and one click must bring it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from gateway.infra.resources import NLU, REDIS, SESSIONS, SETTINGS
from gateway.web.admin import evaluation
from gateway.web.admin.state import (
    FOLLOW_INTERVAL,
    STATE,
    SWAP_TIMEOUT,
    ManagedRasa,
    NluAdminKeys,
    guard_margin,
    publish_managed,
    swap_window,
)
from gateway.web.audiences import Config
from gateway.web.errors import ApiError
from nlu.client import NluClient
from nlu.server import RasaProcess
from ticketing.db.models.nlu import NluModel
from ticketing.nlu_workspace import registry

log = logging.getLogger(__name__)

ACTIVATE_LOCK_TTL = 900


def drain_seconds(config: Config) -> float:
    """Long enough for every process to follow and for parses already sent to the old server to end."""
    return FOLLOW_INTERVAL * 2 + config[STATE].base_timeout + 1.0


async def load(config: Config, version: int) -> tuple[NluModel, NluModel | None]:
    """The registry row of `version` and the active model's."""
    async with config[SESSIONS]() as session:
        return await registry.get_model(session, version), await registry.active_model(session)


def check(row: NluModel, active: NluModel | None) -> dict[str, Any]:
    """What activating `row` would do: guard reasons, comparison, whether it is a rollback."""
    rollback = row.activated_at is not None
    reasons = [] if rollback else evaluation.guard(row.metrics, active.metrics if active else None, guard_margin())
    return {"version": row.version, "model": row.name, "active": active.version if active else None,
            "rollback": rollback, "refused": reasons, "margin_points": guard_margin(),
            "already_active": active is not None and active.id == row.id}


async def activate(config: Config, version: int, *, actor: str, override_reason: str | None = None) -> dict[str, Any]:
    row, active = await load(config, version)
    verdict = check(row, active)
    if verdict["already_active"]:
        raise ApiError(409, "already_active", f"v{version} 已是当前使用的模型")
    reason = (override_reason or "").strip()
    if verdict["refused"] and not reason:
        raise ApiError(409, "guard_refused", "模型未通过启用检查：" + "；".join(verdict["refused"]),
                       reasons=verdict["refused"])
    path = Path(row.path)
    if not path.is_file():
        raise ApiError(409, "model_missing", f"模型文件不存在：{path}")
    lock = Lock(config[REDIS], NluAdminKeys.of(config).activate_lock, timeout=ACTIVATE_LOCK_TTL, blocking=False,
                thread_local=False)
    if not await lock.acquire():
        raise ApiError(409, "activation_running", "另一个模型正在切换，请稍后再试")
    started = time.monotonic()
    try:
        if config[STATE].managed is not None:
            mode = "blue_green"
            await _blue_green(config, path, row.name)
        elif config[NLU].base_url:
            mode = "put_model"
            await _put_model(config, path, row.name)
        else:
            raise ApiError(409, "nlu_disabled", "没有配置 NLU 服务，无法启用模型")
        async with config[SESSIONS]() as session, session.begin():
            await registry.mark_active(session, version, actor=actor,
                                 override_reason=reason if verdict["refused"] else None, refused=verdict["refused"])
    finally:
        with contextlib.suppress(LockError):  # held longer than ACTIVATE_LOCK_TTL: it expired already
            await lock.release()
    return {**verdict, "mode": mode, "seconds": round(time.monotonic() - started, 1),
            "overridden": bool(verdict["refused"])}


async def _verify(url: str, expected: str) -> None:
    async with NluClient(url, timeout=30.0) as client:
        model = await client.model_version()
        probe = await client.parse("我家楼下的路灯坏了一个星期了")
    if model != expected or probe.intent is None:
        raise ApiError(502, "swap_failed", f"新的 NLU 服务没有正确加载模型（{model}）")


async def _blue_green(config: Config, path: Path, name: str) -> None:
    state = config[STATE]
    old = state.managed
    assert old is not None
    log_path = Path(config[SETTINGS].data_dir) / "nlu-rasa.log"
    server = RasaProcess(path, log_path=log_path).start()
    try:
        await server.wait_ready(timeout=300)
        await _verify(server.url, name)
    except (RuntimeError, TimeoutError) as exc:
        await asyncio.to_thread(server.stop)
        raise ApiError(502, "swap_failed", f"新的 NLU 服务启动失败：{exc}（日志：{log_path}）") from None
    except BaseException:
        await asyncio.to_thread(server.stop)
        raise
    new = ManagedRasa(url=server.url, model_path=path, process=server.process)
    state.managed = new
    config[NLU].base_url = new.url
    await config[NLU].model_version()  # refresh the client's cached model name (results carry it)
    await publish_managed(config, new, name)
    log.info("NLU: switched to %s (%s); stopping %s after the drain", new.url, name, old.url)

    async def retire() -> None:
        await asyncio.sleep(drain_seconds(config))
        await asyncio.to_thread(old.stop)

    state.retired.append(old)
    state.spawn(retire(), name="nlu-retire")


async def _put_model(config: Config, path: Path, name: str) -> None:
    redis, keys = config[REDIS], NluAdminKeys.of(config)
    client = config[NLU]
    url = client.base_url
    client.timeout = max(config[STATE].base_timeout, SWAP_TIMEOUT)
    try:
        async with swap_window(redis, keys, drain=drain_seconds(config), mode="external", url=url):
            async with aiohttp.ClientSession() as http, http.put(
                f"{url}/model", json={"model_file": str(path)}, timeout=aiohttp.ClientTimeout(total=600)
            ) as resp:
                body = await resp.text()
                if resp.status != 204:
                    raise ApiError(502, "swap_failed", f"NLU 服务拒绝加载模型（HTTP {resp.status}）：{body[:300]}")
            await _verify(url, name)
            await redis.hset(keys.active, mapping={"model": name, "path": str(path)})
            await client.model_version()  # refresh the client's cached model name
    finally:
        client.timeout = config[STATE].base_timeout
