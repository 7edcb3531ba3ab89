"""The bot's questions in the web chat, in a real browser on a phone (issue #19): the place asked with the
county list under it, the phone asked with the privacy note, 不方便提供 one tap away."""

from __future__ import annotations

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from gateway.infra.resources import SESSIONS
from tests.browser.citizen_chat import citizen_writes
from ticketing.db.models.tickets import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.rasa]

TIMEOUT = 30_000  # ms: the NLU parses each message on a loaded machine


async def test_the_chat_asks_for_the_place_and_the_phone_with_one_tap_answers(live_gateway_nlu, browser):
    base, app = live_gateway_nlu
    context, chat = await citizen_writes(browser, base, "小区门口的路灯坏了好几天了，晚上黑乎乎的")
    try:
        bot = chat.locator("#chat-log .msg-bot:not(.msg-welcome)")
        await expect(bot.last).to_contain_text("请问事情发生在哪里", timeout=TIMEOUT)
        replies = chat.locator(".confirm-replies .quick-reply")
        await expect(replies.filter(has_text="郏县")).to_have_count(1)
        await expect(replies.filter(has_text="不方便提供")).to_have_count(1)

        await chat.fill("#chat-input", "郏县城关镇光明路与建设路交叉口")
        await chat.click("#chat-send")
        await expect(bot.last).to_contain_text("不会公开", timeout=TIMEOUT)
        await expect(replies).to_have_count(1)  # only 不方便提供 under the phone question
        await replies.filter(has_text="不方便提供").click()
        await expect(bot.last).to_contain_text("信息已补充", timeout=TIMEOUT)
        await expect(chat.locator(".confirm-replies")).to_have_count(0)

        async with app[SESSIONS]() as session:
            ticket = (await session.execute(select(Ticket))).scalar_one()
        assert (ticket.status, ticket.region) == ("pending_review", "jiaxian")
        assert ticket.location_detail == "郏县城关镇光明路与建设路交叉口"
        assert ticket.gathering_gaps == [{"slot": "contact_phone", "reason": "declined"}]
    finally:
        await context.close()
