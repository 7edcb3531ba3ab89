"""The console queue's 未读 marker and bulk claim, and the chat's phone confirmation, in Chromium.

Two waiting tickets and a citizen's web chat: the operator sees all three 未读, claims them in one
go with 全选 + 认领所选, opens one (read), and when the citizen writes again it turns 未读 live.
The citizen's message carries a phone number: the chat asks, and one tap on 确认 records it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.infra.resources import SESSIONS
from tests.browser.citizen_chat import citizen_writes
from tests.gateway.web.console.conftest import hours_ago, make_ticket
from ticketing.accounts import users
from ticketing.db.models.tickets import Ticket

pytestmark = pytest.mark.browser
PASSWORD = "browser-pass-1"


async def _login(page, base: str, username: str) -> None:
    await page.goto(base + "/console/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/console")


def _mark(page, number: str):
    return page.locator(f'#queue-rows tr.row[data-number="{number}"] .unread-mark')


async def test_unread_marker_bulk_claim_and_phone_confirmation(live_gateway, browser):
    base, app = live_gateway
    async with app[SESSIONS]() as session, session.begin():
        await users.create_user(session, "li", role="operator", password=PASSWORD, display_name="李坐席")
    waiting = [await make_ticket(app, text="湛河区光明路井盖丢了", at=hours_ago(2), phone=None),
               await make_ticket(app, text="新华区中兴路噪音扰民", at=hours_ago(1), phone=None)]
    errors: list[str] = []

    ctx = await browser.new_context(locale="zh-CN")
    page = await ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await _login(page, base, "li")
    await page.wait_for_selector("body[data-live=open]", timeout=10000)
    for number in waiting:
        assert await _mark(page, number).inner_text() == "未读"

    citizen_ctx, chat = await citizen_writes(browser, base, "卫东区建设路的路灯坏了一个月了")
    row = page.locator("#queue-rows tr.row", has_text="卫东区建设路的路灯坏了一个月了")
    await row.wait_for(timeout=15000)
    number = await row.get_attribute("data-number")
    await _mark(page, number).wait_for(timeout=5000)

    # 全选本页, then 认领所选: every selected ticket is claimed, each on its own.
    await page.check("#pick-all")
    assert await page.locator("#bulk-count").inner_text() == "已选 3 件"
    await page.click("#bulk-claim")
    await page.wait_for_selector(".flash:has-text('批量认领：成功 3 件，失败 0 件')")
    assert await page.locator("#queue-rows .assignee[data-assignee=li]").count() == 3
    async with app[SESSIONS]() as session:
        held = (await session.execute(select(Ticket.number, Ticket.assignee))).all()
    assert sorted(held) == sorted([(n, "li") for n in [*waiting, number]])

    # Opening the chat's ticket marks it read; the others stay unread.
    await page.click(f'#queue-rows a.num:text-is("{number}")')
    await page.wait_for_url(f"{base}/console/tickets/{number}")
    await page.goto(base + "/console")
    await page.wait_for_selector("body[data-live=open]", timeout=10000)
    assert await _mark(page, number).count() == 0
    assert all([await _mark(page, n).count() == 1 for n in waiting])

    # The citizen writes again, with a phone number: the queue shows it unread at once, live.
    await chat.fill("#chat-input", "我的电话是13900001111，修好了告诉我")
    await chat.click("#chat-send")
    await _mark(page, number).wait_for(timeout=15000)

    # The chat asks before the number becomes the contact; one tap answers.
    question = chat.locator("#chat-log .msg-bot", has_text="您留的手机号是 139****1111，确认作为联系电话吗？")
    await question.wait_for(timeout=10000)
    async with app[SESSIONS]() as session:
        assert (await session.execute(select(Ticket.citizen_phone).where(Ticket.number == number))).scalar_one() is None
    await question.get_by_role("button", name="确认").click()
    await chat.locator("#chat-log .msg-bot", has_text="已记录您的联系电话 139****1111").wait_for(timeout=10000)
    assert await chat.locator(".confirm-replies").count() == 0
    async with app[SESSIONS]() as session:
        phone = (await session.execute(select(Ticket.citizen_phone).where(Ticket.number == number))).scalar_one()
    assert phone == "13900001111"
    # No script error (the console has no favicon.ico: Chromium's own request for it is not ours).
    assert [e for e in errors if "Failed to load resource" not in e] == []
