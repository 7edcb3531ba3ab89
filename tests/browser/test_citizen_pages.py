"""The citizen pages in a real browser (Debian's Chromium through Playwright), phone-sized.

A citizen chats with the bot and sees the ticket number arrive live; an operator takes over
and the notice and the operator's reply appear without a reload; a citizen leaves a message
with a photo, gets a ticket number and looks it up on the progress page; script injected
into the chat and the form stays inert text.
"""

from __future__ import annotations

import re
import struct
import zlib

import pytest
from playwright.async_api import expect

from gateway.channels.delivery import deliver_operator_reply
from gateway.infra.replies import REPLIES
from gateway.infra.resources import SESSIONS
from ticketing.accounts.roles import Actor
from ticketing.tickets import store

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
TICKET = re.compile(r"PDS\d{13,}")
INJECTION = '<script>window.__pwned = 1; alert(1)</script><img src=x onerror="window.__pwned = 2; alert(2)">'
TIMEOUT = 15_000  # ms; generous for a loaded CI machine, never waited when things are on time


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + b"\x80" * 8 for _ in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
async def citizen(live_gateway, page):
    """(base_url, app, page): a phone-sized page that records dialogs and script errors."""
    base, app = live_gateway
    await page.set_viewport_size(PHONE)
    page.dialogs = []
    page.errors = []

    async def dismiss(dialog):
        page.dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield base, app, page
    assert page.errors == []  # no script error on any page


async def _open_chat(page, base):
    await page.goto(base + "/chat")
    # Wait for the live stream, so what follows is really delivered over SSE.
    await page.locator("#chat[data-live=open]").wait_for(timeout=TIMEOUT)


async def test_chat_with_the_bot_shows_the_ticket_number_live(citizen):
    base, app, page = citizen
    await _open_chat(page, base)
    await page.get_by_role("button", name="社保咨询").click()

    citizen_bubble = page.locator("#chat-log .msg-citizen")
    await expect(citizen_bubble).to_have_count(1)
    await expect(citizen_bubble.locator(".msg-text")).to_have_text("社保咨询")
    # With the NLU disabled the bot answers every message with a ticket number.
    reply = page.locator("#chat-log .msg-bot:not(.msg-welcome) .msg-text")
    await expect(reply).to_have_text(TICKET, timeout=TIMEOUT)
    number = TICKET.search(await reply.inner_text()).group(0)
    await expect(page.locator("#ticket-no")).to_have_text(number)
    await expect(page.locator("#ticket-link")).to_have_attribute("href", f"/progress?ticket_no={number}")
    await expect(citizen_bubble).not_to_have_class(re.compile("msg-pending"))
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    await page.locator("button.copy-button[data-copy='#ticket-no']").click()
    assert await page.evaluate("navigator.clipboard.readText()") == number

    # Typed text, sent with Enter: a follow-up joins the same ticket; the bot only acknowledges.
    await page.locator("#chat-input").fill("补充：我想问社保卡丢了怎么补办")
    await page.locator("#chat-input").press("Enter")
    await expect(page.locator("#chat-log .msg-bot:not(.msg-welcome)")).to_have_count(2, timeout=TIMEOUT)
    await expect(page.locator("#chat-log .msg-bot .msg-text").last).to_contain_text(number)

    # A reload rebuilds the same conversation from the history, each message once.
    await page.reload()
    await expect(page.locator("#chat-log .msg-citizen")).to_have_count(2, timeout=TIMEOUT)
    await expect(page.locator("#chat-log .msg-bot:not(.msg-welcome)")).to_have_count(2)
    await expect(page.locator("#ticket-no")).to_have_text(number)


async def test_the_bot_answers_a_question_in_the_chat(live_gateway_nlu, page):
    base, app = live_gateway_nlu
    await page.set_viewport_size(PHONE)
    await _open_chat(page, base)
    await page.locator("#chat-input").fill("公积金提取打哪个电话？")
    await page.locator("#chat-send").click()
    reply = page.locator("#chat-log .msg-bot:not(.msg-welcome) .msg-text")
    await expect(reply).to_contain_text("12329", timeout=TIMEOUT)
    assert not TICKET.search(await page.locator("#chat-log").inner_text())  # answered, no ticket opened


async def test_an_operator_taking_over_is_announced_and_replies_live(citizen):
    base, app, page = citizen
    await _open_chat(page, base)
    await page.locator("#chat-input").fill("小区门口的下水道堵了好几天了")
    await page.locator("#chat-send").click()
    reply = page.locator("#chat-log .msg-bot:not(.msg-welcome) .msg-text")
    await expect(reply).to_have_text(TICKET, timeout=TIMEOUT)
    number = TICKET.search(await reply.inner_text()).group(0)
    session_id = await page.evaluate("localStorage.getItem('hotline.chat.session')")
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,64}", session_id)

    # What the console publishes when an operator takes the ticket.
    await app[REPLIES].publish_event(app[REPLIES].session_topic(session_id),
                                       {"type": "operator_joined", "operator": "王芳", "ticket_no": number})
    notice = page.locator("#operator-notice")
    await expect(notice).to_be_visible(timeout=TIMEOUT)
    await expect(notice).to_contain_text("人工客服已接入")
    await expect(notice).to_contain_text("王芳")

    # The operator's reply, through the same path the console uses.
    operator = Actor("wangfang", "王芳", "operator")
    async with app[SESSIONS]() as session:
        ticket = await store.ticket_by_number(session, number)
        await deliver_operator_reply(app, session, ticket, "您好，已联系物业今天下午疏通。", operator)
    bubble = page.locator("#chat-log .msg-operator")
    await expect(bubble.locator(".msg-text")).to_have_text("您好，已联系物业今天下午疏通。", timeout=TIMEOUT)
    await expect(bubble.locator(".msg-author")).to_have_text("人工客服 · 王芳")

    # After a reload the notice stays (from the operator's message in the history).
    await page.reload()
    await expect(page.locator("#operator-notice")).to_contain_text("人工客服已接入", timeout=TIMEOUT)
    await expect(page.locator("#chat-log .msg-operator")).to_have_count(1)


async def test_emergency_numbers_in_a_reply_are_tel_links_and_nothing_else_is(citizen):
    base, app, page = citizen
    await _open_chat(page, base)
    await page.locator("#chat-input").fill("楼道里有很浓的煤气味")
    await page.locator("#chat-send").click()
    reply = page.locator("#chat-log .msg-bot:not(.msg-welcome) .msg-text")
    await expect(reply).to_have_text(TICKET, timeout=TIMEOUT)
    number = TICKET.search(await reply.inner_text()).group(0)
    text = "如遇火情请拨打119，有人受伤请拨打120；工单号 1101199 与电话 12345 不是急救号码。"
    async with app[SESSIONS]() as session:
        ticket = await store.ticket_by_number(session, number)
        await deliver_operator_reply(app, session, ticket, text, Actor("wangfang", "王芳", "operator"))
    bubble = page.locator("#chat-log .msg-operator .msg-text")
    await expect(bubble).to_have_text(text, timeout=TIMEOUT)
    links = bubble.locator("a.tel-link")
    await expect(links).to_have_count(2)
    assert [await link.get_attribute("href") for link in await links.all()] == ["tel:119", "tel:120"]


async def test_leave_a_message_get_a_ticket_number_and_look_it_up(citizen, tmp_path):
    base, app, page = citizen
    photo = tmp_path / "路灯.png"
    photo.write_bytes(_png())

    await page.goto(base + "/")
    await page.get_by_role("link", name=re.compile("我要留言（网民留言）")).click()
    await page.wait_for_url(base + "/message")
    await page.get_by_label("姓名").fill("李女士")
    await page.get_by_label("联系电话").fill("138-3751-2345")
    await page.get_by_label("问题发生区域").select_option(label="卫东区")
    await page.get_by_label("留言标题").fill("建设路路灯不亮")
    await page.get_by_label("留言内容").fill("卫东区建设路与中兴路交叉口的路灯坏了两周，晚上很黑，请尽快维修。")
    await page.locator("#images").set_input_files(str(photo))
    # The chosen image is previewed before the upload.
    await expect(page.locator("#images-preview img")).to_have_count(1)
    assert await page.locator("#images-preview img").get_attribute("alt") == "待上传图片：路灯.png"
    await page.get_by_role("button", name="提交留言").click()

    await page.wait_for_url(re.compile(r"/message/receipt/lm-[0-9a-f]{32}$"), timeout=TIMEOUT)
    number_el = page.locator("#receipt-ticket-no")
    await expect(number_el).to_have_text(TICKET)
    number = await number_el.inner_text()
    # One tap copies the ticket number.
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    await page.get_by_role("button", name="复制工单号").click()
    await expect(page.locator(".copy-status")).to_have_text("已复制")
    assert await page.evaluate("navigator.clipboard.readText()") == number
    await expect(page.locator("#receipt-title")).to_have_text("建设路路灯不亮")

    async with app[SESSIONS]() as session:
        ticket = await store.ticket_by_number(session, number, full=True)
    assert ticket.region == "weidong" and ticket.citizen_phone == "13837512345"
    assert [a.filename for a in ticket.attachments] == ["路灯.png"]

    # The receipt links to the progress page with the number filled in.
    await page.get_by_role("link", name="查询办理进度").click()
    await expect(page.get_by_label("工单号")).to_have_value(number)
    await page.get_by_label("手机号后四位").fill("2345")
    await page.get_by_role("button", name="查询").click()
    await expect(page.locator("#progress-status")).to_have_text("待审核", timeout=TIMEOUT)
    await expect(page.locator("#progress-timeline li")).to_have_count(1)
    await expect(page.locator("#progress-replies")).to_contain_text(number)

    # A wrong phone says only "not found".
    await page.get_by_label("手机号后四位").fill("0000")
    await page.get_by_role("button", name="查询").click()
    await expect(page.locator("#progress-notice")).to_have_text("未找到该工单，请核对工单号和手机号后四位")
    await expect(page.locator("#progress-result")).to_have_count(0)


async def test_injected_script_stays_inert_text(citizen):
    base, app, page = citizen

    # In the chat: rendered with textContent, live and from the history.
    await _open_chat(page, base)
    await page.locator("#chat-input").fill(INJECTION)
    await page.locator("#chat-send").click()
    await expect(page.locator("#chat-log .msg-bot:not(.msg-welcome) .msg-text")).to_have_text(
        TICKET, timeout=TIMEOUT)
    await expect(page.locator("#chat-log .msg-citizen .msg-text")).to_have_text(INJECTION)
    await page.reload()
    await expect(page.locator("#chat-log .msg-citizen .msg-text")).to_have_text(INJECTION, timeout=TIMEOUT)
    assert await page.locator("#chat-log script, #chat-log img").count() == 0

    # In the form: echoed back after a validation error, and on the receipt.
    await page.goto(base + "/message")
    await page.get_by_label("姓名").fill(INJECTION[:50])
    await page.get_by_label("联系电话").fill("12345")  # invalid: the form comes back with the input
    await page.get_by_label("问题发生区域").select_option("xinhua")
    await page.get_by_label("留言标题").fill(INJECTION[:50])
    await page.get_by_label("留言内容").fill(INJECTION)
    await page.get_by_role("button", name="提交留言").click()
    await expect(page.locator("#phone-error")).to_contain_text("手机号格式不正确", timeout=TIMEOUT)
    await expect(page.get_by_label("留言内容")).to_have_value(INJECTION)
    await expect(page.get_by_label("留言标题")).to_have_value(INJECTION[:50])

    await page.get_by_label("联系电话").fill("13900001111")
    await page.get_by_role("button", name="提交留言").click()
    await page.wait_for_url(re.compile(r"/message/receipt/"), timeout=TIMEOUT)
    await expect(page.locator("#receipt-title")).to_have_text(INJECTION[:50])
    assert await page.locator("main script, main img").count() == 0

    assert page.dialogs == []
    assert await page.evaluate("typeof window.__pwned") == "undefined"


async def test_the_field_focused_after_an_empty_submit_is_not_under_the_sticky_nav(citizen):
    base, app, page = citizen
    await page.goto(base + "/message")
    await page.locator("#message-submit").scroll_into_view_if_needed()
    await page.locator("#message-submit").click()
    focused = await page.wait_for_function("document.activeElement && document.activeElement.matches('.field *')")
    assert focused
    field_top = await page.evaluate("document.activeElement.getBoundingClientRect().top")
    nav_bottom = await page.evaluate("document.querySelector('.site-nav').getBoundingClientRect().bottom")
    assert field_top >= nav_bottom, (field_top, nav_bottom)


async def test_the_pages_have_a_favicon(citizen):
    base, app, page = citizen
    await page.goto(base + "/")
    href = await page.locator("link[rel=icon]").get_attribute("href")
    resp = await page.request.get(base + href)
    assert resp.status == 200 and b"<svg" in await resp.body()
