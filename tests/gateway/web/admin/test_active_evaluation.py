"""The active model gets its evaluation figures without retraining: measured in the background when
the gateway starts, and again on demand (评估当前模型). Real Rasa, the cached model of the repository's data."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.infra.resources import SESSIONS
from tests.gateway.web.console.conftest import PASSWORD, Agent
from ticketing.accounts import users

pytestmark = [pytest.mark.rasa, pytest.mark.slow]
P = "/api/v1/admin/nlu"


@pytest.fixture
def backend() -> str:
    return "embedded"


async def until(check, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(1)


async def test_the_active_model_is_evaluated_at_start_up_and_on_demand(managed_gateway):
    client = managed_gateway
    async with client.app[SESSIONS]() as session, session.begin():
        await users.create_user(session, "root", role="admin", password=PASSWORD, display_name="管理员")
    admin = Agent(client)
    assert (await admin.login("root")).status == 200

    async def figures():
        models = (await (await admin.get(f"{P}/models")).json())["models"]
        return models and models[0]["summary"]

    started = time.monotonic()
    summary = await until(figures, 300)  # nobody asked: the start-up check measured it
    print(f"\n[nlu-admin] active model evaluated {time.monotonic() - started:.0f} s after start-up")
    assert summary["emergency_recall"] == 1.0 and summary["department_top1"] > 0.5
    page = await (await admin.get("/admin/nlu/models/1")).text()
    assert "混淆矩阵" in page and "评估当前模型" in page and "尚无评估结果" not in page

    resp = await admin.post(f"{P}/models/active/evaluate", {})
    assert resp.status == 202 and (await resp.json())["version"] == 1
    again = await admin.post(f"{P}/models/active/evaluate", {})
    assert again.status == 409 and (await again.json())["error"]["code"] == "evaluation_running"
    detail = await (await admin.get(f"{P}/models/1")).json()
    assert detail["evaluation"]["running"] is True

    async def done():
        body = await (await admin.get(f"{P}/models/1")).json()
        return body if not body["evaluation"]["running"] else None

    detail = await until(done, 300)
    assert detail["evaluation"]["error"] is None
    assert detail["model"]["metrics"]["confusion_matrix"]["labels"]
    # The label audit's figures (nlu/label_audit.py) beside the held-out ones, on the page too.
    assert 0.5 < detail["model"]["metrics"]["request_type_read_alike"] <= 1.0
    assert 0.5 < detail["model"]["metrics"]["letters_top3_majority"] <= 1.0
    page = await (await admin.get("/admin/nlu/models/1")).text()
    assert "诉求类型准确率（复核标注一致的消息）" in page and "长篇来信部门 top-3（按多数标注）" in page
    assert 'data-audit="request type"' in page and 'data-audit="letters"' in page and "留出集标注复核" in page
