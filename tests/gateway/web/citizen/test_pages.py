"""The citizen pages render in Chinese, under the strict CSP, with no inline script."""

from __future__ import annotations

import re

import pytest

from gateway.infra.resources import DIRECTORY

PAGES = ["/", "/chat", "/message", "/progress"]


@pytest.mark.parametrize("path", PAGES)
async def test_pages_are_chinese_mobile_and_script_free_inline(client, path):
    resp = await client.get(path)
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    page = await resp.text()
    assert '<html lang="zh-CN">' in page
    assert 'name="viewport"' in page
    # Every script is a file (the CSP would block inline ones) and there are no inline handlers.
    assert all('src="/static/' in tag for tag in re.findall(r"<script[^>]*>", page))
    assert re.search(r"\son[a-z]+=", page) is None
    for link in ("/chat", "/message", "/progress"):
        assert f'href="{link}"' in page
    for number in ("110", "119", "120", "122"):
        assert f'href="tel:{number}"' in page


async def test_landing_says_what_12345_is(client):
    page = await (await client.get("/")).text()
    assert "7×24 小时" in page and "12345" in page
    for e in client.app[DIRECTORY].emergency_numbers:
        assert e.name in page and e.description in page
    assert "12345 不受理紧急警情" in page


async def test_chat_page_has_quick_replies_and_its_script(client):
    page = await (await client.get("/chat")).text()
    for topic in ("公积金查询", "社保咨询", "停水停电", "投诉举报"):
        assert f'data-text="{topic}"' in page
    assert 'role="log"' in page and 'data-api="/api/v1/web"' in page
    assert '<script src="/static/citizen/chat.js" defer></script>' in page
    script = await client.get("/static/citizen/chat.js")
    assert script.status == 200
    body = await script.text()
    # Citizen, bot and operator text only ever goes through textContent: no HTML sinks at all.
    for sink in (".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in body
    assert ".textContent = text" in body


async def test_static_files_are_served(client):
    for path in ("/static/citizen/citizen.css", "/static/citizen/message.js"):
        assert (await client.get(path)).status == 200


async def test_form_pages_set_the_csrf_cookie_and_are_not_cached(client):
    resp = await client.get("/message")
    assert resp.headers["Cache-Control"] == "no-store"
    assert "hotline_csrf" in resp.cookies and "hotline_visitor" in resp.cookies
    assert resp.cookies["hotline_visitor"]["httponly"]
