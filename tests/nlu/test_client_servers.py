"""The NLU client over several Rasa servers, and identical texts sharing one parse (a real Rasa server).

A counting relay (tests/nlu/conftest.py: a real HTTP hop in front of the session's Rasa) shows which
server got which parse.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from nlu import client as client_module
from nlu.client import NluClient
from nlu.server import free_port

pytestmark = pytest.mark.rasa

TEXTS = ["卫东区建设路的路灯坏了一个星期了", "小区楼下烧烤油烟太大", "我想咨询一下社保卡怎么补办", "公交车司机态度恶劣",
         "孩子上学划片的问题", "医院排队时间太长", "自来水发黄有异味", "房东不退押金怎么办"]


async def test_one_server_down_the_other_parses(rasa_url):
    down = f"http://127.0.0.1:{free_port()}"
    async with NluClient(f"{down},{rasa_url}", timeout=30.0) as nlu:
        assert nlu.urls == (down, rasa_url)
        results = [await nlu.parse(text) for text in TEXTS[:4]]
        assert all(r.intent is not None and r.model for r in results)
        assert await nlu.healthy()
    async with NluClient(down, timeout=5.0) as nlu:  # all down: a hand-off, never an exception
        result = await nlu.parse(TEXTS[0])
        assert result.handoff and result.intent is None and not await nlu.healthy()


async def test_parses_are_spread_over_the_servers(relay):
    first, first_url = await relay()
    second, second_url = await relay()
    async with NluClient(f"{first_url},{second_url}", timeout=30.0) as nlu:
        results = await asyncio.gather(*(nlu.parse(text) for text in TEXTS))
    assert all(r.intent is not None for r in results)
    assert sum(first.parses.values()) + sum(second.parses.values()) == len(TEXTS)
    assert first.parses and second.parses  # both servers worked


async def test_identical_texts_share_one_parse(relay, monkeypatch):
    monkeypatch.setattr(client_module, "SHARE_SECONDS", 0.5)
    counting, url = await relay()
    async with NluClient(url, timeout=30.0) as nlu:
        same = await asyncio.gather(*(nlu.parse(TEXTS[0]) for _ in range(5)), nlu.parse(TEXTS[1]))
        assert len({(r.department, r.intent["name"]) for r in same[:5]}) == 1
        await nlu.parse(TEXTS[0])  # within the window: the same answer again
        assert counting.parses == Counter({TEXTS[0]: 1, TEXTS[1]: 1})
        assert nlu.rasa_requests == 2
        await asyncio.sleep(0.6)  # the window has passed: asked again
        await nlu.parse(TEXTS[0])
        assert counting.parses[TEXTS[0]] == 2
