"""The operator console in a real browser (Debian's Chromium through Playwright).

An operator logs in; a citizen's web-chat message appears live in the queue; the operator
claims it with the keyboard, corrects the department, replies; the citizen's chat gets the
reply; a second operator cannot claim it; an unauthenticated console request is refused.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gateway.infra.resources import SESSIONS
from tests.browser.citizen_chat import citizen_writes
from tests.gateway.web.console.conftest import make_ticket
from ticketing.accounts import users
from ticketing.db.models.nlu import TrainingSuggestion

pytestmark = pytest.mark.browser
PASSWORD = "browser-pass-1"


async def _users(app) -> None:
    async with app[SESSIONS]() as session, session.begin():
        await users.create_user(session, "li", role="operator", password=PASSWORD, display_name="李坐席")
        await users.create_user(session, "wang", role="operator", password=PASSWORD, display_name="王坐席")


async def _login(page, base: str, username: str) -> None:
    await page.goto(base + "/console/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + "/console")


async def test_operator_handles_a_web_message_end_to_end(live_gateway, browser):
    base, app = live_gateway
    await _users(app)
    errors: list[str] = []

    ctx = await browser.new_context(locale="zh-CN")
    page = await ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await _login(page, base, "li")
    await page.wait_for_selector("#queue-rows")
    assert await page.locator("#queue-rows tr.row").count() == 0
    # Let the SSE connection open before the citizen writes.
    await page.wait_for_selector("body[data-live=open]", timeout=10000)

    # The citizen writes from the chat page in their own browser context.
    citizen_ctx, chat = await citizen_writes(browser, base, "卫东区建设路的路灯坏了一个月了")

    # Live: the hand-off shows up without a reload, with a visual cue.
    row = page.locator("#queue-rows tr.row", has_text="卫东区建设路的路灯坏了一个月了")
    await row.wait_for(timeout=15000)
    await page.locator("#live-cue").wait_for(state="visible", timeout=5000)
    assert "新工单" in await page.locator("#live-cue").inner_text()
    number = await row.get_attribute("data-number")

    # The cue opens the new ticket in one click.
    await page.locator("#live-cue a", has_text=number).click()
    await page.wait_for_url(f"{base}/console/tickets/{number}")
    await page.go_back()
    await page.wait_for_url(base + "/console")
    await row.wait_for(timeout=5000)

    # Keyboard: j selects the first row, c claims it and opens the ticket.
    await page.keyboard.press("j")
    await page.keyboard.press("c")
    await page.wait_for_url(f"{base}/console/tickets/{number}")
    assert "由我处理" in await page.locator("#claimbar").inner_text()

    # Correct the department, confirm with Enter.
    await page.select_option("#f-department", "urban_management")
    await page.evaluate("document.activeElement.blur()")
    await page.keyboard.press("Enter")
    await page.wait_for_selector(".flash:has-text('已更正分类')")
    assert await page.locator("#f-department").input_value() == "urban_management"

    # Reply: r focuses the box, Ctrl+Enter sends.
    await page.keyboard.press("r")
    await page.keyboard.type("您好，路灯维修已转市城市管理局，请耐心等待。")
    await page.keyboard.press("Control+Enter")
    await page.wait_for_selector(".flash:has-text('答复已发送')")
    reply = page.locator("article.author-operator").last
    assert "您好，路灯维修已转市城市管理局" in await reply.inner_text()
    assert "已发送" in await reply.locator(".delivery").inner_text()

    # The citizen's chat page: the takeover notice and the reply arrive live.
    await chat.wait_for_selector("#operator-notice:has-text('人工客服已接入')", timeout=10000)
    assert "李坐席" in await chat.locator("#operator-notice").inner_text()
    bubble = chat.locator("#chat-log .msg-operator .msg-text")
    await bubble.wait_for(timeout=10000)
    assert await bubble.inner_text() == "您好，路灯维修已转市城市管理局，请耐心等待。"

    # A second operator sees who has it and cannot claim it.
    ctx2 = await browser.new_context(locale="zh-CN")
    page2 = await ctx2.new_page()
    await _login(page2, base, "wang")
    await page2.goto(f"{base}/console/tickets/{number}")
    assert await page2.locator("#claim-form").count() == 0
    assert "li 正在处理" in await page2.locator("#claimbar").inner_text()
    status = await page2.evaluate("""async (n) => {
        const headers = JSON.parse(document.body.getAttribute('hx-headers'));
        const r = await fetch('/api/v1/console/tickets/' + n + '/claim', {method: 'POST', headers});
        return [r.status, (await r.json()).error.code];
    }""", number)
    assert status == [409, "already_claimed"]

    # Without logging in, the console is refused.
    ctx3 = await browser.new_context(locale="zh-CN")
    page3 = await ctx3.new_page()
    await page3.goto(f"{base}/console/tickets/{number}")
    assert page3.url.startswith(f"{base}/console/login")
    assert "坐席台登录" in await page3.content()
    api = await page3.evaluate("async () => (await fetch('/api/v1/console/tickets')).status")
    assert api == 401

    assert not [e for e in errors if "Content Security Policy" in e], errors
    for c in (ctx, ctx2, ctx3, citizen_ctx):
        await c.close()


async def test_the_open_ticket_page_is_live(live_gateway, browser):
    """A citizen's follow-up and a colleague's claim reach the open ticket page without a reload,
    and the reply the operator is half-way through typing stays as it is."""
    base, app = live_gateway
    await _users(app)
    errors: list[str] = []

    citizen_ctx, chat = await citizen_writes(browser, base, "湛河区开源路的下水道堵了，污水漫到路面上")
    await chat.wait_for_selector("#chat-log .msg-bot", timeout=15000)

    ctx = await browser.new_context(locale="zh-CN")
    page = await ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await _login(page, base, "li")
    row = page.locator("#queue-rows tr.row", has_text="开源路的下水道堵了")
    await row.wait_for(timeout=15000)
    number = await row.get_attribute("data-number")
    await page.goto(f"{base}/console/tickets/{number}")
    await page.wait_for_selector("body[data-live=open]", timeout=10000)
    await page.evaluate("window.__sameDocument = true")
    await page.click("#reply-text")
    await page.keyboard.type("您好，已记录您反映的下水道")  # half-typed, not sent
    events_before = await page.locator("#events li").count()

    await chat.fill("#chat-input", "补充一下：堵的位置在开源路和建设路交叉口东侧")
    await chat.click("#chat-send")

    entry = page.locator("#conversation article.author-citizen", has_text="交叉口东侧")
    await entry.wait_for(timeout=15000)
    assert await page.evaluate("window.__sameDocument === true")  # no reload
    assert await page.locator("#reply-text").input_value() == "您好，已记录您反映的下水道"
    assert await page.evaluate("document.activeElement.id") == "reply-text"
    assert "群众补充了信息" in await page.locator("#live-cue").inner_text()

    # A colleague claims it: the claim bar and the timeline follow, the half-typed reply stays.
    page2 = await (await browser.new_context(locale="zh-CN")).new_page()
    await _login(page2, base, "wang")
    await page2.goto(f"{base}/console/tickets/{number}")
    await page2.click("#claim-button")
    await page2.wait_for_selector(".flash:has-text('已认领工单')")
    await page.wait_for_selector("#claimbar:has-text('wang 正在处理')", timeout=10000)
    assert await page.locator("#claim-form").count() == 0
    assert await page.locator("#events li").count() > events_before
    assert "王坐席 · 认领" in await page.locator("#events").text_content()
    assert await page.locator("#reply-text").input_value() == "您好，已记录您反映的下水道"
    assert await page.evaluate("window.__sameDocument === true")

    assert not [e for e in errors if "Content Security Policy" in e], errors
    for c in (ctx, citizen_ctx, page2.context):
        await c.close()


async def test_an_unsure_request_type_is_corrected_with_one_click(live_gateway, browser):
    """The bot's request type marked 请核对: the runner-up's button sets the type, Enter confirms, and the
    correction is a training suggestion for the request-type model."""
    base, app = live_gateway
    await _users(app)
    number = await make_ticket(app, text="小区门口的下水道井盖没了，晚上很危险，物业说不归他们管", request_type="complaint",
                               type_ranking=[{"code": "complaint", "confidence": 0.47},
                                             {"code": "help", "confidence": 0.41},
                                             {"code": "consult", "confidence": 0.08}])
    errors: list[str] = []
    ctx = await browser.new_context(locale="zh-CN")
    page = await ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await _login(page, base, "li")
    await page.goto(f"{base}/console/tickets/{number}")
    await page.click("#claim-button")
    await page.wait_for_selector(".flash:has-text('已认领工单')")
    assert await page.locator("#request-type-unsure").inner_text() == "请核对"

    await page.click("button.alt[data-field=request_type][data-code=help]")
    assert await page.locator("#f-request_type").input_value() == "help"
    await page.evaluate("document.activeElement.blur()")
    await page.keyboard.press("Enter")
    await page.wait_for_selector(".flash:has-text('已更正分类')")
    assert await page.locator("#f-request_type").input_value() == "help"
    async with app[SESSIONS]() as session:
        suggestion = (await session.execute(
            select(TrainingSuggestion).where(TrainingSuggestion.field == "request_type"))).scalar_one()
    assert (suggestion.predicted, suggestion.chosen) == ("complaint", "help")
    assert not [e for e in errors if "Content Security Policy" in e], errors
    await ctx.close()
