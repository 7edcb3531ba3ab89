"""An external Rasa server (RASA_URL, not started by the gateway): activation uses `PUT /model`.

Rasa may answer nothing while it loads the new model (a model with TensorFlow components took ~13 s;
today's pipeline loads in a few seconds). The activating process announces the swap in Redis first; every gateway process (here a second app on the same Redis, like a worker process)
then waits longer instead of handing messages off: no parse fails, through either process."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from gateway.infra.resources import NLU, SESSIONS
from gateway.runtime.assembly import create_app
from gateway.web.admin.state import SWAP_TIMEOUT
from nlu.server import RasaProcess
from tests.gateway.web.console.conftest import PASSWORD, Agent
from ticketing.accounts import users
from ticketing.nlu_workspace import registry

pytestmark = [pytest.mark.rasa, pytest.mark.slow]
P = "/api/v1/admin/nlu"


@pytest.fixture
def backend() -> str:
    return "embedded"


async def _probe(client, stop: asyncio.Event, out: dict) -> None:
    out.update(total=0, failed=0, latencies=[])
    while not stop.is_set():
        t0 = time.monotonic()
        resp = await client.post("/api/v1/nlu/parse", json={"text": "小区门口的垃圾好几天没人清运了"})
        body = await resp.json()
        out["latencies"].append(time.monotonic() - t0)
        out["total"] += 1
        out["failed"] += resp.status != 200 or body.get("intent") is None
        await asyncio.sleep(0.2)


async def test_put_model_swap_fails_no_parse_in_any_process(stack, aiohttp_client, base_model, tmp_path):
    log = Path(tempfile.gettempdir()) / f"hotline-test-nlu-external-{os.getpid()}.log"
    server = RasaProcess(base_model, log_path=log).start()
    try:
        await server.wait_ready(timeout=300)
        settings = stack.settings(RASA_URL=server.url, HOTLINE_NLU_ENABLED=True)
        web_client = await aiohttp_client(create_app(settings, redis_url=stack.redis_url, run_worker=False))
        other = await aiohttp_client(create_app(settings, redis_url=stack.redis_url, run_worker=False))
        app = web_client.app
        async with app[SESSIONS]() as session, session.begin():
            await users.create_user(session, "root", role="admin", password=PASSWORD)
        admin = Agent(web_client)
        try:
            assert (await admin.login("root")).status == 200
            models = (await (await admin.get(f"{P}/models")).json())["models"]
            assert [(m["version"], m["name"]) for m in models] == [(1, base_model.name.removesuffix(".tar.gz"))]
            # A second model: the same weights under another name (the swap mechanics are what is tested).
            name = f"nlu-swaptest{uuid.uuid4().hex[:6]}"
            copy = tmp_path / f"{name}.tar.gz"
            shutil.copy(base_model, copy)
            async with app[SESSIONS]() as session, session.begin():
                await registry.register_model(session, name=name, data_hash="swaptest", path=str(copy), trained_by="root")
            resp = await admin.post(f"{P}/models/2/activate", {})
            assert resp.status == 409 and "尚未完成评估" in (await resp.json())["error"]["message"]

            stop, via_web, via_other = asyncio.Event(), {}, {}
            probes = [asyncio.create_task(_probe(web_client, stop, via_web)),
                      asyncio.create_task(_probe(other, stop, via_other))]
            await asyncio.sleep(1)
            t0 = time.monotonic()
            resp = await admin.post(f"{P}/models/2/activate", {"override_reason": "测试外部服务热加载"})
            swap = time.monotonic() - t0
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["mode"] == "put_model"
            assert await app[NLU].model_version() == name
            assert app[NLU].timeout == settings.nlu_timeout and app[NLU].base_url == server.url
            t1 = time.monotonic()
            resp = await admin.post(f"{P}/models/1/activate", {})
            rollback = time.monotonic() - t1
            assert resp.status == 200 and (await resp.json())["rollback"] is True
            await asyncio.sleep(1.5)
            stop.set()
            await asyncio.gather(*probes)
            assert other.app[NLU].timeout == settings.nlu_timeout  # back to normal once the swap ended
            lat = sorted(via_web["latencies"] + via_other["latencies"])
            print(f"\n[nlu-admin] PUT /model swap {swap:.1f} s, rollback {rollback:.1f} s; parses "
                  f"{via_web['total']}+{via_other['total']}, failed {via_web['failed']}+{via_other['failed']}; "
                  f"slowest {lat[-1]:.1f} s (client timeout during the swap {SWAP_TIMEOUT:.0f} s)")
            assert via_web["failed"] == 0 and via_other["failed"] == 0
            assert await other.app[NLU].model_version() == base_model.name.removesuffix(".tar.gz")
        finally:
            await admin.close()
    finally:
        await asyncio.to_thread(server.stop)
