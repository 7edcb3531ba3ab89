"""With a real Rasa server owned by the gateway (embedded mode): train a model on the working copy
with the emergency examples removed, see it evaluated against the active model,
have the guard refuse it, override with a reason (audited) during a blue/green swap that fails no
parse, then roll back in one click."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from gateway.infra.resources import NLU, REDIS, SESSIONS
from gateway.web.admin.state import NluAdminKeys
from tests.gateway.web.admin.conftest import wait_job
from tests.gateway.web.console.conftest import PASSWORD, Agent
from ticketing.accounts import audit, users

pytestmark = [pytest.mark.rasa, pytest.mark.slow]
P = "/api/v1/admin/nlu"


@pytest.fixture
def backend() -> str:
    return "embedded"


async def probe(base: str, stop: asyncio.Event, out: dict) -> None:
    """Parse through the gateway's public NLU route until stopped; count failed parses."""
    out.update(total=0, failed=0, latencies=[])
    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            t0 = time.monotonic()
            async with http.post(f"{base}/api/v1/nlu/parse", json={"text": "我家楼下的路灯坏了一个星期了"}) as resp:
                body = await resp.json()
            out["latencies"].append(time.monotonic() - t0)
            out["total"] += 1
            if resp.status != 200 or body.get("intent") is None:
                out["failed"] += 1
            await asyncio.sleep(0.2)


async def test_guard_refuses_a_model_trained_without_emergency_examples(managed_gateway):
    client = managed_gateway
    app = client.app
    async with app[SESSIONS]() as session, session.begin():
        await users.create_user(session, "root", role="admin", password=PASSWORD, display_name="管理员")
    admin = Agent(client)
    try:
        assert (await admin.login("root")).status == 200
        intents = (await (await admin.get(f"{P}/intents")).json())["intents"]
        models = (await (await admin.get(f"{P}/models")).json())["models"]
        assert [(m["version"], m["status"]) for m in models] == [(1, "active")]
        old_url = app[NLU].base_url
        for name in [i["name"] for i in intents if i["name"].startswith("emergency_")]:
            assert (await admin.request("DELETE", f"{P}/intents?name={name}")).status == 200

        started = time.monotonic()
        resp = await admin.post(f"{P}/train", {})
        assert resp.status == 202
        seen: list[float] = []
        job = await wait_job(admin, (await resp.json())["job_id"], seen=seen)
        took = time.monotonic() - started
        assert job["status"] == "succeeded", job["error"]
        if "无需重新训练" not in job["log"]:  # not a cache hit: the progress was live
            assert any(0 < p < 1 for p in seen), seen
        assert "Finished training component" in job["log"] or "无需重新训练" in job["log"]
        version = job["model_version"]
        detail = await (await admin.get(f"{P}/models/{version}")).json()
        new, active = detail["model"]["metrics"], detail["active"]["metrics"]
        print(f"\n[nlu-admin] train+evaluate: {took:.0f} s; "
              f"dept top-1 {new['department_top1']:.3f} (active {active['department_top1']:.3f}); "
              f"emergency recall {new['emergency_recall']:.3f}; classifier emergency recall "
              f"{new['classifier_emergency_recall']:.3f} (active {active['classifier_emergency_recall']:.3f})")
        assert active["classifier_emergency_recall"] > 0.5
        assert new["classifier_emergency_recall"] < 0.05  # no emergency intent left in the model
        assert new["confusion_matrix"]["labels"] and new["per_intent"] and "misclassified" in new
        refused = detail["check"]["refused"]
        assert any("模型自身的紧急意图召回率" in r for r in refused), refused

        resp = await admin.post(f"{P}/models/{version}/activate", {})
        assert resp.status == 409
        err = (await resp.json())["error"]
        assert err["code"] == "guard_refused" and err["reasons"] == refused
        assert app[NLU].base_url == old_url
        page = await (await admin.get(f"/admin/nlu/models/{version}")).text()
        assert "启用检查未通过" in page and "强制启用" in page

        # Override with a reason, while parses keep coming: blue/green, no failed parse.
        stop, stats = asyncio.Event(), {}
        prober = asyncio.create_task(probe(str(client.make_url("")).rstrip("/"), stop, stats))
        await asyncio.sleep(1)
        t0 = time.monotonic()
        resp = await admin.post(f"{P}/models/{version}/activate", {"override_reason": "测试：确认可以强制启用"})
        swap = time.monotonic() - t0
        assert resp.status == 200, await resp.text()
        result = await resp.json()
        assert result["mode"] == "blue_green" and result["overridden"]
        assert app[NLU].base_url != old_url
        assert await app[NLU].model_version() == detail["model"]["name"]
        await asyncio.sleep(6)  # the old server is stopped after the drain delay
        # Rollback in one click (it served before: not judged again).
        t1 = time.monotonic()
        resp = await admin.post(f"{P}/models/1/activate", {})
        rollback = time.monotonic() - t1
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["rollback"] is True
        await asyncio.sleep(3)
        stop.set()
        await prober
        lat = sorted(stats["latencies"])
        print(f"[nlu-admin] activation {swap:.1f} s, rollback {rollback:.1f} s; parses during the swaps: "
              f"{stats['total']}, failed {stats['failed']}, p50 {lat[len(lat) // 2] * 1000:.0f} ms, "
              f"max {lat[-1] * 1000:.0f} ms")
        assert stats["failed"] == 0 and stats["total"] > 20
        models = {m["version"]: m for m in (await (await admin.get(f"{P}/models")).json())["models"]}
        assert models[1]["status"] == "active" and models[version]["status"] == "retired"
        async with app[SESSIONS]() as session:
            entries = await audit.audit_entries(session, action="nlu_model_override")
        assert entries[0].detail["override_reason"] == "测试：确认可以强制启用"
        assert entries[0].detail["guard"] == refused and entries[0].actor == "root"
        # the gateway follows the swap in Redis (other processes read it)
        active_entry = await app[REDIS].hgetall(NluAdminKeys.of(app).active)
        assert active_entry[b"url"].decode() == app[NLU].base_url
    finally:
        await admin.close()
