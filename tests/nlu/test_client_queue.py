"""The NLU client sends a Rasa server only as many parses as it works on; the others wait in the
client, earliest deadline first, and one still waiting at its deadline hands off without reaching
Rasa (a real Rasa server behind a gate that holds chosen parses: no sleeps, no timing asserts)."""

from __future__ import annotations

import asyncio
import time

import pytest

from nlu.client import NluClient

pytestmark = pytest.mark.rasa

HELD = "【占住】路灯坏了"


async def _until(predicate) -> None:
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not met")


async def test_a_parse_waiting_past_its_deadline_hands_off_without_reaching_rasa(gated_rasa):
    gate, url = gated_rasa
    gate.held.add("【占住】")
    async with NluClient(url, timeout=30.0, per_server=1) as nlu:
        busy = asyncio.ensure_future(nlu.parse(HELD))
        await _until(lambda: gate.parsed)  # the server's one place is taken
        late = await nlu.parse("建设路小区的垃圾没人清运", deadline=time.monotonic())
        assert late.handoff and late.intent is None  # unclassified: the caller's reply was due
        assert nlu.expired == 1
        gate.release.set()
        assert (await busy).intent is not None
        # The place is free again: the next parse goes through.
        assert (await nlu.parse("建设路小区的垃圾没人清运")).intent is not None
    assert gate.parsed == [HELD, "建设路小区的垃圾没人清运"]


async def test_waiting_parses_go_earliest_deadline_first_then_in_arrival_order(gated_rasa):
    gate, url = gated_rasa
    gate.held.add("【占住】")
    texts = ["公交车司机态度恶劣", "自来水发黄有异味", "医院排队时间太长", "房东不退押金怎么办"]
    async with NluClient(url, timeout=30.0, per_server=1) as nlu:
        busy = asyncio.ensure_future(nlu.parse(HELD))
        await _until(lambda: gate.parsed)
        soon = time.monotonic() + 600
        waiting = [asyncio.ensure_future(nlu.parse(texts[0])), asyncio.ensure_future(nlu.parse(texts[1])),
                   asyncio.ensure_future(nlu.parse(texts[2], deadline=soon + 10)),
                   asyncio.ensure_future(nlu.parse(texts[3], deadline=soon))]
        await asyncio.sleep(0)  # all queued behind the held parse
        gate.release.set()
        results = await asyncio.gather(busy, *waiting)
    assert all(result.intent is not None for result in results)
    # Deadlines first (the earlier one first), then those without one in the order they came.
    assert gate.parsed == [HELD, texts[3], texts[2], texts[0], texts[1]]


async def test_a_burst_reaches_rasa_only_as_fast_as_it_parses(gated_rasa):
    gate, url = gated_rasa
    texts = [f"第{i}号：小区门口的路灯不亮" for i in range(12)]
    async with NluClient(url, timeout=30.0, per_server=2) as nlu:
        results = await asyncio.gather(*(nlu.parse(text) for text in texts))
        assert nlu.servers._sending == 0 and not any(not waiter.done() for _d, _n, waiter in nlu.servers._queue)
    assert all(result.intent is not None for result in results)
    assert gate.most_inflight == 2  # never more than the client's places on the server
    assert gate.parsed == texts  # every one parsed once, in the order asked
