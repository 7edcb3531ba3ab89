"""The analytics dashboard in a real browser: a leader signs in and lands on it, every chart draws
from seeded tickets (no CSP violation, no script error), a chart saves as PNG, its data downloads as
XLSX with the known counts, and the 大屏 mode switches on and off."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from gateway.infra.resources import SESSIONS
from gateway.worker.analytics import ANALYTICS_JOB
from tests.gateway.web.console.conftest import make_ticket
from ticketing.accounts import users
from ticketing.db.models.base import utcnow

pytestmark = pytest.mark.browser
PASSWORD = "browser-pass-1"
CHARTS = ("volume_by_day", "volume_by_hour", "heat_map", "request_types", "backlog", "bot")


async def test_a_leader_reads_the_dashboard_downloads_a_chart_and_projects_it(live_gateway, browser):
    base, app = live_gateway
    async with app[SESSIONS]() as session, session.begin():
        await users.create_user(session, "boss", role="leader", password=PASSWORD, display_name="王主任")
    now = utcnow()
    await make_ticket(app, at=now - timedelta(minutes=30))
    await make_ticket(app, at=now - timedelta(minutes=20), channel="wechat", department="transport", region="xinhua",
                      request_type="consult")
    await make_ticket(app, at=now - timedelta(minutes=10), urgent=True)
    assert not (await app[ANALYTICS_JOB].run_once()).locked_out

    ctx = await browser.new_context(locale="zh-CN", accept_downloads=True)
    page = await ctx.new_page()
    problems: list[str] = []
    # Script errors and CSP refusals; failed loads by their address (the browser's own favicon probe aside).
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error"
            and not msg.text.startswith("Failed to load resource") else None)
    page.on("response", lambda resp: problems.append(f"{resp.status} {resp.url}") if resp.status >= 400
            and not resp.url.endswith("/favicon.ico") else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    await page.goto(base + "/console/login")
    await page.fill("input[name=username]", "boss")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/console/analytics")
    await page.wait_for_selector("body[data-analytics=ready]", timeout=15000)

    assert await page.inner_text("[data-kpi=total]") == "3 件"
    for chart in CHARTS:
        assert await page.locator(f'[data-chart="{chart}"] canvas').count() >= 1, chart
    # Nothing dispatched yet: the units' rates say so instead of drawing empty axes.
    assert await page.inner_text('[data-chart="units"]') == "所选范围内没有数据"

    async with page.expect_download() as png:
        await page.click('[data-png="heat_map"]')
    download = await png.value
    assert download.suggested_filename == "analytics-heat_map.png"
    with open(await download.path(), "rb") as image:
        assert image.read(8) == b"\x89PNG\r\n\x1a\n"

    href = await page.get_attribute('[data-xlsx="request_types"]', "href")
    body = await page.evaluate("async (url) => Array.from(new Uint8Array(await (await fetch(url)).arrayBuffer()))",
                               href)
    sheet = load_workbook(io.BytesIO(bytes(body))).active
    counts = {row[0]: row[1] for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert counts == {"投诉": 2, "咨询": 1}

    await page.click("#bigscreen")
    assert "bigscreen" in (await page.get_attribute("body", "class") or "")
    assert await page.locator('[data-chart="volume_by_day"] canvas').count() >= 1  # redrawn in the dark theme
    await page.click("#bigscreen")
    assert "bigscreen" not in (await page.get_attribute("body", "class") or "")
    assert not problems, problems
    await ctx.close()
