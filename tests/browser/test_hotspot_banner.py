"""Hot-spot alerts on every console page of a supervisor, in a real browser: a burst raised by the
worker shows as a banner on the queue (the page's own live stream), follows the supervisor to another
page until dismissed, and a later alert reaches a page without a stream of its own."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.infra.resources import SESSIONS
from gateway.worker.analytics import ANALYTICS_JOB
from tests.gateway.web.console.conftest import make_ticket
from ticketing.accounts import users
from ticketing.db.models.base import utcnow

pytestmark = pytest.mark.browser
PASSWORD = "browser-pass-1"
LAMPS = ("建设路路灯坏了", "建设路的路灯晚上不亮", "路灯不亮，建设路很黑", "建设路路灯闪烁", "路灯损坏无人修建设路")
MANHOLES = ("光明路井盖丢失", "光明路的井盖不见了", "井盖被偷，光明路很危险", "光明路井盖缺失", "光明路井盖没了")


async def _raise(app, titles: tuple[str, ...], region: str) -> list[dict]:
    now = utcnow()
    for n, title in enumerate(titles):
        await make_ticket(app, at=now - timedelta(minutes=n + 1), text=title, region=region)
    for _ in range(100):
        run = await app[ANALYTICS_JOB].run_once()
        if not run.locked_out:
            return list(run.alerts)
    raise AssertionError("the analytics lock stayed taken")


async def test_a_supervisor_sees_hot_spot_alerts_on_every_page(live_gateway, browser):
    base, app = live_gateway
    async with app[SESSIONS]() as session, session.begin():
        await users.create_user(session, "chief", role="supervisor", password=PASSWORD, display_name="陈班长")
    ctx = await browser.new_context(locale="zh-CN")
    page = await ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error"
            and not msg.text.startswith("Failed to load resource") else None)
    await page.goto(base + "/console/login")
    await page.fill("input[name=username]", "chief")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/console")
    await page.wait_for_selector("#hotspot-banner[data-listening=open]", state="attached", timeout=10000)
    assert await page.locator("#hotspot-banner").is_hidden()

    alerts = await _raise(app, LAMPS, "weidong")
    burst = next(a for a in alerts if a["kind"] == "burst")
    row = page.locator(f'#hotspot-banner [data-alert="{burst["id"]}"]')
    await row.wait_for(timeout=10000)
    assert burst["text"] in await row.inner_text() and "卫东区" in burst["text"]
    assert await page.locator("#hotspot-banner a", has_text="查看").first.get_attribute("href") == "/console/analytics"

    # Another page (no live stream of its own): the alert is still there until dismissed.
    await page.goto(base + "/console/canned")
    await row.wait_for(timeout=5000)
    for alert in alerts:
        await page.click(f'#hotspot-banner [data-dismiss="{alert["id"]}"]')
    assert await page.locator("#hotspot-banner").is_hidden()
    await page.wait_for_selector("#hotspot-banner[data-listening=open]", state="attached", timeout=10000)

    later = await _raise(app, MANHOLES, "xinhua")
    burst = next(a for a in later if a["kind"] == "burst")
    await page.locator(f'#hotspot-banner [data-alert="{burst["id"]}"]').wait_for(timeout=10000)
    assert "新华区" in await page.inner_text("#hotspot-banner")
    await page.reload()
    assert await page.locator(f'#hotspot-banner [data-alert="{burst["id"]}"]').count() == 1
    assert not problems, problems
    await ctx.close()
