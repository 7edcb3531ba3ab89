"""Parses that get their places together go to Rasa in one request (nlu/rasa_batch.py), and a Rasa
without that route still gets every parse, one per request (a real Rasa server behind counting relays)."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import pytest

from nlu.client import NluClient
from nlu.servers import BATCH_PATH

pytestmark = pytest.mark.rasa

TEXTS = ["卫东区建设路的路灯坏了一个星期了", "小区楼下烧烤油烟太大", "我想咨询一下社保卡怎么补办", "公交车司机态度恶劣",
         "孩子上学划片的问题", "医院排队时间太长", "自来水发黄有异味", "房东不退押金怎么办", "个税汇算怎么操作",
         "您好", "厂房着火了，快来人", "舞钢市的农民工工资被拖欠了半年"]


async def one_by_one(url: str) -> list[dict]:
    async with NluClient(url, timeout=30.0, per_server=1) as nlu:
        return [(await nlu.parse(text)).to_dict() for text in TEXTS]


async def test_a_burst_goes_in_batches_with_the_answers_of_single_parses(rasa_url, relay):
    counting, url = await relay()
    async with NluClient(url, timeout=30.0, per_server=8) as nlu:
        together = [result.to_dict() for result in await asyncio.gather(*(nlu.parse(text) for text in TEXTS))]
        assert nlu.rasa_requests == len(TEXTS) and nlu.rasa_batches >= 2
    # Never more than half the server's places in one request, so a second batch waits inside Rasa.
    assert counting.requests["batch"] >= len(TEXTS) // 4 and counting.parses == Counter(TEXTS)
    assert together == await one_by_one(rasa_url)


async def test_batches_are_spread_over_the_servers(relay):
    first, first_url = await relay()
    second, second_url = await relay()
    async with NluClient(f"{first_url},{second_url}", timeout=30.0) as nlu:
        results = await asyncio.gather(*(nlu.parse(text) for text in TEXTS[:8]))
    assert all(result.intent is not None for result in results)
    assert first.requests["batch"] and second.requests["batch"]
    assert first.parses + second.parses == Counter(TEXTS[:8])


async def test_a_rasa_without_the_batch_route_gets_one_parse_per_request(rasa_url, relay):
    plain, url = await relay(batches=False)
    async with NluClient(url, timeout=30.0, per_server=8) as nlu:
        results = [result.to_dict() for result in await asyncio.gather(*(nlu.parse(text) for text in TEXTS))]
        assert nlu.rasa_requests == len(TEXTS) and nlu.rasa_batches == 0
        # Remembered: the next burst asks no batch of it.
        await asyncio.gather(*(nlu.parse(f"{text}。") for text in TEXTS[:4]))
    assert plain.requests == {"single": len(TEXTS) + 4}
    assert results == await one_by_one(rasa_url)


async def test_the_batch_route_parses_like_model_parse_and_refuses_bad_bodies(rasa_url):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{rasa_url}{BATCH_PATH}", json={"texts": TEXTS[:3]}) as resp:
            assert resp.status == 200
            results = (await resp.json())["results"]
        singles = []
        for text in TEXTS[:3]:
            async with http.post(f"{rasa_url}/model/parse", json={"text": text}) as resp:
                singles.append(await resp.json())
        assert results == singles
        for bad in ({"texts": []}, {"text": "路灯坏了"}, {"texts": [1]}, {"texts": ["路灯坏了"] * 65}, ["路灯坏了"]):
            async with http.post(f"{rasa_url}{BATCH_PATH}", json=bad) as resp:
                assert resp.status == 400
                error = await resp.json()
                assert error["status"] == "failure" and error["code"] == 400 and "texts" in error["message"]
        async with http.post(f"{rasa_url}{BATCH_PATH}", data=b"{not json",
                             headers={"Content-Type": "application/json"}) as resp:
            assert resp.status == 400
