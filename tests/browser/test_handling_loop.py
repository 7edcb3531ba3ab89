"""The whole loop after the hand-off in a real browser (Debian's Chromium through Playwright).

A citizen complains in the web chat; an operator classifies and dispatches it to the health
commission; the commission's handler signs, asks for an extension that a dispatcher approves, and
answers; the operator approves the answer, which reaches the citizen's chat with the 一事一评 link;
the citizen says 未解决 and the ticket goes back to the unit (重办); a second answer, 满意, 办结; the
unit's evaluation figures follow.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from config.local_time import LOCAL_TZ
from gateway.infra.resources import SESSIONS
from tests.browser.citizen_chat import citizen_writes
from ticketing.accounts import users
from ticketing.db.models.base import utcnow

pytestmark = pytest.mark.browser
PASSWORD = "browser-pass-1"
SURVEY_LINK = re.compile(r"https?://\S+/survey/[0-9]+\.[A-Za-z0-9_=-]+")


async def _people(app) -> None:
    async with app[SESSIONS]() as session, session.begin():
        await users.create_user(session, "li", role="operator", password=PASSWORD, display_name="李坐席")
        await users.create_user(session, "zhao", role="dispatcher", password=PASSWORD, display_name="赵督办")
        await users.create_user(session, "wjw", role="handler", password=PASSWORD, display_name="卫健委经办人",
                                unit="health", known_units=["health"])


async def _login(browser, base: str, username: str, lands_on: str):
    ctx = await browser.new_context(locale="zh-CN")
    page = await ctx.new_page()
    await page.goto(base + "/console/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(base + lands_on)
    return ctx, page


async def _health_figures(page) -> dict:
    month = utcnow().astimezone(LOCAL_TZ).strftime("%Y-%m")
    body = await page.evaluate("async (m) => (await fetch('/api/v1/console/evaluation?month=' + m)).json()", month)
    return next(u for u in body["units"] if u["unit"] == "health")


async def _survey_link(chat, nth: int) -> str:
    """The link in the ``nth`` (1-based) answer the citizen's chat received."""
    bubbles = chat.locator("#chat-log .msg-operator .msg-text", has_text="一事一评")
    await bubbles.nth(nth - 1).wait_for(timeout=15000)
    text = await bubbles.nth(nth - 1).inner_text()
    assert "【市卫生健康委员会答复】" in text
    match = SURVEY_LINK.search(text)
    assert match, text
    # The link is clickable in the chat (the rest of the answer stays plain text).
    assert await bubbles.nth(nth - 1).locator("a.survey-link").get_attribute("href") == match.group(0)
    return match.group(0)


async def _answer_survey(browser, base: str, link: str, *, solved: bool, satisfaction: str) -> str:
    ctx = await browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = await ctx.new_page()
    # The link names the public URL; the test gateway listens on a random port.
    await page.goto(base + link[link.index("/survey/"):])
    await page.check(f"input[name=solved][value={'yes' if solved else 'no'}]")
    await page.check(f"input[name=satisfaction][value={satisfaction}]")
    await page.click("#survey-form button[type=submit]")
    await page.wait_for_url(re.compile(r".*/survey/.+/done"))
    text = await page.locator("main").inner_text()
    await ctx.close()
    return text


async def _unit_answers(desk, base: str, number: str, text: str) -> None:
    await desk.goto(f"{base}/desk/tickets/{number}")
    await desk.click("#sign-form button[type=submit]")
    await desk.wait_for_selector("#answer-form")
    await desk.fill("#answer-form textarea[name=text]", text)
    await desk.click("#answer-form button[type=submit]")
    await desk.wait_for_selector("#answer-form", state="detached")


async def _operator_approves(console, base: str, number: str) -> None:
    await console.goto(f"{base}/console/tickets/{number}")
    await console.click("#approve-form button[type=submit]")
    await console.wait_for_selector("#review-panel", state="detached")


async def test_a_complaint_goes_round_the_whole_loop_in_the_browser(live_gateway, browser):
    base, app = live_gateway
    await _people(app)
    errors: list[str] = []

    # The citizen complains in the web chat.
    citizen, chat = await citizen_writes(browser, base, "卫东区某诊所无证行医，收费很高，请查处")

    # The operator classifies it and dispatches it to the health commission.
    op_ctx, console = await _login(browser, base, "li", "/console")
    console.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    row = console.locator("#queue-rows tr.row", has_text="无证行医")
    await row.wait_for(timeout=15000)
    number = await row.get_attribute("data-number")
    await console.goto(f"{base}/console/tickets/{number}")
    await console.select_option("#f-request_type", "complaint")
    await console.select_option("#f-department", "health")
    await console.click("#classify-form button[type=submit]")
    await console.wait_for_selector(".flash:has-text('分类')")
    await console.select_option("#dispatch-target", "department:health")
    await console.fill("#dispatch-form textarea[name=note]", "请核实查处并答复群众")
    await console.click("#dispatch-form button[type=submit]")
    await console.wait_for_selector("#dispatch-form", state="detached")
    figures_before = await _health_figures(await _dispatcher_page(browser, base))

    # The unit's handler lands on the desk, sees the ticket waiting to be signed, signs.
    desk_ctx, desk = await _login(browser, base, "wjw", "/desk")
    desk.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await desk.locator(f"tr.row[data-number='{number}']").wait_for(timeout=10000)
    await desk.goto(f"{base}/desk/tickets/{number}")
    assert "请核实查处并答复群众" in await desk.locator("#dispatch-note").inner_text()
    await desk.click("#sign-form button[type=submit]")
    await desk.wait_for_selector("#extension-form")

    # It asks for an extension; a dispatcher approves it.
    later = (utcnow() + timedelta(days=40)).astimezone(LOCAL_TZ).date()
    await desk.fill("#extension-form input[name=until]", later.isoformat())
    await desk.fill("#extension-form input[name=reason]", "需联合卫生监督所现场执法取证")
    await desk.click("#extension-form button[type=submit]")
    await desk.wait_for_selector("#extension:has-text('待审批')")
    dispatcher = await _dispatcher_page(browser, base)
    await dispatcher.goto(f"{base}/console/tickets/{number}")
    await dispatcher.click("#extension-panel button[value='1']")
    await dispatcher.wait_for_selector("#extension-panel", state="detached")

    # The unit answers; the operator approves; the citizen's chat gets it with the survey link.
    await desk.goto(f"{base}/desk/tickets/{number}")
    await desk.fill("#answer-form textarea[name=text]", "经查，该诊所未取得医疗机构执业许可证，已依法取缔并罚款。")
    await desk.click("#answer-form button[type=submit]")
    await desk.wait_for_selector("#answer-form", state="detached")
    await _operator_approves(console, base, number)
    link = await _survey_link(chat, 1)
    assert "已依法取缔" in await chat.locator("#chat-log .msg-operator .msg-text").last.inner_text()

    # 未解决: the ticket returns to the unit (重办), waiting for its signature again.
    done = await _answer_survey(browser, base, link, solved=False, satisfaction="unsatisfied")
    assert "重新办理" in done
    await desk.goto(f"{base}/desk")
    redo = desk.locator(f"tr.row[data-number='{number}']")
    await redo.wait_for(timeout=10000)
    assert "重办" in await redo.inner_text()
    # The same link cannot be used twice.
    page = await citizen.new_page()
    resp = await page.goto(base + link[link.index("/survey/"):])
    assert resp.status == 409 and "已评价" in await page.content()

    # Second answer, approved; 满意 closes the ticket.
    await _unit_answers(desk, base, number, "经复查，该诊所已停业，现场已查封，群众反映的收费问题已责令退还。")
    await _operator_approves(console, base, number)
    second = await _survey_link(chat, 2)
    assert second != link
    done = await _answer_survey(browser, base, second, solved=True, satisfaction="satisfied")
    assert "办结" in done
    await console.goto(f"{base}/console/tickets/{number}")
    assert "已办结" in await console.locator("main").inner_text()

    # The unit's evaluation: two rounds received, one evaluation bad and one good, one extension.
    figures = await _health_figures(dispatcher)
    assert figures["received"] == figures_before["received"] + 1 == 2
    assert figures["surveys"] == 2 and figures["solved_pct"] == 50 and figures["satisfied_pct"] == 50
    assert figures["extended"] == 1

    assert not [e for e in errors if "Content Security Policy" in e], errors
    for ctx in (citizen, op_ctx, desk_ctx):
        await ctx.close()


_DISPATCHER: dict[str, object] = {}


async def _dispatcher_page(browser, base: str):
    """One logged-in dispatcher page for the test (the evaluation and the extension decision)."""
    if base not in _DISPATCHER:
        _, page = await _login(browser, base, "zhao", "/console/loop")
        _DISPATCHER[base] = page
    return _DISPATCHER[base]
