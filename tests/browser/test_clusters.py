"""并单 in a real browser: three citizens write about one water cut from the web chat, the worker
suggests them as one cluster, an operator merges it with one click on /console/clusters, answers the
main ticket once, and every citizen's chat receives the answer."""

from __future__ import annotations

import asyncio

import pytest

from gateway.infra.resources import SESSIONS
from gateway.worker.clusters import CLUSTER_JOB
from tests.browser.citizen_chat import citizen_writes
from ticketing.accounts import users

pytestmark = pytest.mark.browser
PASSWORD = "browser-pass-1"
WATER = ("湛河区锦绣花园小区停水三天了，也没有通知，什么时候来水啊",
         "锦绣花园小区自本周一起一直没有自来水，请供水公司尽快恢复供水",
         "我是锦绣花园的住户，小区断水已经好几天了，恳请帮助协调恢复供水")
OTHER = "卫东区建设路的路灯坏了一个月了"
ANSWER = "您好，锦绣花园小区停水系管网抢修所致，供水公司承诺今晚八点前恢复供水。"


async def _clustered(app, size: int) -> None:
    for _ in range(150):
        run = await app[CLUSTER_JOB].run_once()
        if not run.locked_out and run.clusters:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no cluster of {size} tickets was stored")


async def test_an_operator_merges_a_suggested_cluster_and_every_citizen_is_answered(live_gateway, browser):
    base, app = live_gateway
    async with app[SESSIONS]() as session, session.begin():
        await users.create_user(session, "li", role="operator", password=PASSWORD, display_name="李坐席")
    citizens = []
    for text in (*WATER, OTHER):
        citizens.append(await citizen_writes(browser, base, text))
        await citizens[-1][1].wait_for_selector("#chat-log .msg-bot", timeout=15000)  # the receipt: a ticket
    await _clustered(app, len(WATER))

    ctx = await browser.new_context(locale="zh-CN")
    page = await ctx.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    await page.goto(base + "/console/login")
    await page.fill("input[name=username]", "li")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/console")
    await page.click("nav a:has-text('并单')")
    await page.wait_for_url(base + "/console/clusters")
    cluster = page.locator("section.cluster")
    assert await cluster.count() == 1
    assert "（3 件）" in await cluster.locator("h2").inner_text()
    assert OTHER not in await cluster.inner_text()
    main = await cluster.get_attribute("data-main")
    assert await cluster.locator("input[name=numbers]:checked").count() == 2

    await cluster.locator("button[type=submit]", has_text=f"合并选中的 2 件到 {main}").click()
    await page.wait_for_url(f"{base}/console/tickets/{main}")
    await page.wait_for_selector(f".flash:has-text('已将 2 件重复工单合并到 {main}')")

    await page.click("#claim-form button")
    await page.wait_for_selector(".flash:has-text('已认领工单')")
    await page.fill("#reply-text", ANSWER)
    await page.click("#reply-button")
    await page.wait_for_selector(".flash:has-text('答复已发送')")

    for (_context, chat), text in zip(citizens, (*WATER, OTHER), strict=True):
        if text == OTHER:
            continue
        bubble = chat.locator("#chat-log .msg-operator .msg-text", has_text=ANSWER)
        await bubble.wait_for(timeout=15000)
    other_chat = citizens[-1][1]
    assert await other_chat.locator("#chat-log .msg-operator").count() == 0

    await page.goto(base + "/console/clusters")
    assert await page.locator("section.cluster").count() == 0  # merged: no longer a suggestion
    assert not problems, problems
    for context, _ in citizens:
        await context.close()
    await ctx.close()
