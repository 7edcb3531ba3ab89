"""Browser tests: a live gateway on a real port, driven by Debian's Chromium via Playwright.

No browser is ever downloaded: Playwright launches /usr/bin/chromium (installed by .ci/run).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from pathlib import Path

import pytest
from aiohttp import web

from gateway.runtime.assembly import create_app

CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def backend() -> str:
    # Browser tests exercise the pages, not the storage: the embedded stack is enough.
    return "embedded"


@contextlib.asynccontextmanager
async def serve_gateway(stack, **overrides):
    """The whole gateway (worker included) on a free port: (base_url, app)."""
    app = create_app(stack.settings(**overrides), redis_url=stack.redis_url, run_worker=True)
    # Open live streams (SSE) would hold the shutdown for aiohttp's default 60 s.
    runner = web.AppRunner(app, shutdown_timeout=3)
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        await runner.cleanup()


@pytest.fixture
async def live_gateway(stack):
    """The gateway with the NLU off: every message is a ticket (the pages, not the bot, under test)."""
    async with serve_gateway(stack) as served:
        yield served


@pytest.fixture
async def live_gateway_nlu(stack, rasa_url):
    """The gateway answering through the real Rasa server."""
    async with serve_gateway(stack, RASA_URL=rasa_url, HOTLINE_NLU_ENABLED=True) as served:
        yield served


@pytest.fixture
async def browser():
    if not os.path.exists(CHROMIUM):
        # CI installs chromium when tests/browser_required exists: there a missing browser is a failure.
        if (Path(__file__).parent.parent / "browser_required").exists():
            pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser):
    context = await browser.new_context(locale="zh-CN")
    page = await context.new_page()
    yield page
    await context.close()
