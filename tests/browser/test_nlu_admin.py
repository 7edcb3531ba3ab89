"""An admin teaches the bot a new FAQ topic in a real browser (Debian's Chromium via Playwright).

Embedded mode with a real Rasa server owned by the gateway: the admin creates the topic with its
answer, adds more examples, trains (the progress bar moves), reads the evaluation next to the active
model, activates (blue/green); a parse of a phrasing that is in no training example now returns the
new topic's answer; a rollback in one click restores the old answer.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from gateway.infra.resources import SESSIONS
from gateway.runtime.assembly import create_app
from gateway.web.admin.state import RASA_MANAGED
from tests.gateway.conftest import eventually
from ticketing.accounts import users

pytestmark = [pytest.mark.browser, pytest.mark.rasa, pytest.mark.slow]
PASSWORD = "browser-admin-1"
TOPIC = "faq/heating_fee"
ANSWER = "供暖费（暖气费）请在每年11月15日开始供暖前，到市热力公司各营业厅或通过“平顶山热力”微信公众号缴纳。"
EXAMPLES = [
    "暖气费在哪里交", "供暖费怎么缴纳", "暖气费可以在网上交吗", "今年的取暖费去哪交", "供暖费交到哪个地方",
    "暖气费什么时候开始交", "取暖费能用微信交吗", "热力公司营业厅在哪交暖气费",
]
MORE = ["我想交一下暖气费", "暖气费缴费渠道有哪些", "供暖费用在什么地方缴", "交取暖费要带什么", "暖气费逾期了还能交吗"]
NEW_PHRASING = "请问今年的暖气费应该去哪儿缴"


async def _eq(awaitable, expected) -> bool:
    return await awaitable == expected


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def managed_live_gateway(stack):
    """The gateway on a real port, owning its Rasa server (as `hotline run` does)."""
    from gateway.web.admin import ManagedRasa
    from nlu import training
    from nlu.server import RasaProcess

    if not Path(training.rasa_bin()).exists():
        pytest.skip(f"Rasa is not installed at {training.rasa_bin()}")
    model = await asyncio.to_thread(training.ensure_model, True)
    log = Path(tempfile.gettempdir()) / f"hotline-test-nlu-admin-browser-{os.getpid()}.log"
    server = RasaProcess(model, log_path=log).start()
    runner = None
    try:
        await server.wait_ready(timeout=300)
        app = create_app(stack.settings(RASA_URL=server.url, HOTLINE_NLU_ENABLED=True), redis_url=stack.redis_url)
        app[RASA_MANAGED] = ManagedRasa(url=server.url, model_path=model, process=server.process)
        # Open live streams (SSE) would hold the shutdown for aiohttp's default 60 s.
        runner = web.AppRunner(app, shutdown_timeout=3)
        await runner.setup()
        port = _free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield f"http://127.0.0.1:{port}", app
    finally:
        if runner is not None:
            await runner.cleanup()
        await asyncio.to_thread(server.stop)


async def _parse(base: str, text: str) -> dict:
    async with aiohttp.ClientSession() as http, http.post(f"{base}/api/v1/nlu/parse", json={"text": text}) as resp:
        assert resp.status == 200
        return await resp.json()


async def test_admin_adds_a_faq_topic_trains_activates_and_rolls_back(managed_live_gateway, browser):
    base, app = managed_live_gateway
    async with app[SESSIONS]() as session, session.begin():
        await users.create_user(session, "root", role="admin", password=PASSWORD, display_name="管理员")
    before = await _parse(base, NEW_PHRASING)
    assert (before.get("faq") or {}).get("key") != TOPIC

    ctx = await browser.new_context(locale="zh-CN")
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{m.text} {m.location.get('url')}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        await page.goto(base + "/console/login")
        await page.fill("input[name=username]", "root")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_load_state()

        # The intent list, then a new FAQ topic with its answer.
        await page.goto(base + "/admin/nlu")
        assert await page.locator("#intents tr[data-intent='faq/service_hours']").count() == 1
        await page.click("#new-intent summary")
        await page.fill("#new-intent-form input[name=name]", TOPIC)
        await page.fill("#new-intent-form textarea[name=examples]", "\n".join(EXAMPLES))
        await page.fill("#new-intent-form textarea[name=answer]", ANSWER)
        await page.click("#new-intent-form button[type=submit]")
        await page.wait_for_url("**/admin/nlu/intent?name=*")
        assert await page.locator("#examples tr[data-id]").count() == len(EXAMPLES)
        await page.fill("#add-examples-form textarea[name=texts]", "\n".join(MORE))
        await page.click("#add-examples-form button[type=submit]")
        rows = page.locator("#examples tr[data-id]")
        await eventually(lambda: _eq(rows.count(), len(EXAMPLES) + len(MORE)))
        assert await page.input_value(".answer-form textarea[name=text]") == ANSWER

        # Train: the progress bar moves, the job ends, the evaluation is one click away.
        await page.goto(base + "/admin/nlu/training")
        await page.click("#train-button")
        await page.wait_for_selector("#job:not([hidden])")
        await eventually(lambda: page.text_content("#job-status"))

        async def midway() -> bool:
            value = int(await page.get_attribute("#job-progress", "aria-valuenow") or 0)
            cached = "无需重新训练" in (await page.text_content("#job-log") or "")
            return cached or 0 < value < 100

        await eventually(midway, timeout=180)
        if "无需重新训练" not in (await page.text_content("#job-log") or ""):
            assert "训练进度" in await page.text_content("#job-percent")

        async def finished() -> bool:
            return await page.get_attribute("#job", "data-status") not in (None, "running")

        await eventually(finished, timeout=600, interval=1.0)
        assert await page.text_content("#job-status") == "完成", await page.text_content("#job-error")
        assert "评估完成" in await page.text_content("#job-log")
        await page.click("#job-model")

        # The evaluation next to the active model, the confusion matrix, the misclassified messages.
        await page.wait_for_selector("#compare")
        assert await page.locator("#compare tr[data-metric=department_top1] td").count() == 3
        assert await page.locator("#per-intent tbody tr").count() > 20
        await page.wait_for_selector("#confusion[data-rendered='1'] canvas")
        assert await page.locator("#misclassified tbody tr").count() > 0
        if await page.locator("#override-reason").count():
            await page.fill("#override-reason", "浏览器测试：减少轮数训练的模型")
        await page.click("#activate-button")
        await page.wait_for_selector("#active-now", timeout=180_000)
        assert "当前使用" in await page.text_content("#activation")

        after = await _parse(base, NEW_PHRASING)
        assert after["faq"] == {"key": TOPIC, "answer": ANSWER}, after

        # Rollback in one click from the registry.
        await page.goto(base + "/admin/nlu/models")
        await page.click("#models tr[data-version='1'] button.activate")
        await page.wait_for_selector("#models tr[data-version='1'].active", timeout=180_000)
        rolled = await _parse(base, NEW_PHRASING)
        assert rolled["faq"] == before["faq"] and rolled["model"] == before["model"]
        errors = [e for e in errors if "/favicon.ico" not in e]  # the gateway serves no icon
        assert not errors, (errors, failed)
    finally:
        await ctx.close()
