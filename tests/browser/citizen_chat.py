"""A citizen on a phone: a browser context of their own, the web chat open and live, one message sent."""

from __future__ import annotations

PHONE = {"width": 390, "height": 844}


async def citizen_writes(browser, base: str, text: str):
    """The citizen's (context, chat page) after ``text`` was sent from the chat."""
    context = await browser.new_context(locale="zh-CN", viewport=PHONE)
    chat = await context.new_page()
    await chat.goto(base + "/chat")
    await chat.wait_for_selector("#chat[data-live=open]", timeout=10000)
    await chat.fill("#chat-input", text)
    await chat.click("#chat-send")
    return context, chat
