"""A burst of callbacks from many citizens at once, some of them delivered again by WeChat: every
delivery is answered 200, every message is published once, and every citizen gets exactly one
answer, either passive or as one customer-service message (half of the answers are held back
until all callbacks have been answered, so they cannot be passive: no timing asserts)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import redis.asyncio as aioredis

from connectors.base import InboundMessage

CITIZENS = 40
RETRIED = 12  # citizens whose message WeChat delivers a second time meanwhile


async def test_burst_with_retries_gets_exactly_one_answer_per_citizen(make_harness, eventually) -> None:
    h = await make_harness("safe", WECHAT_REPLY_BUDGET=0.5)
    release = asyncio.Event()
    redis: aioredis.Redis = h.redis

    async def respond(message: InboundMessage) -> None:
        number = int(message.text.rsplit("#", 1)[1])
        if number % 2:
            await release.wait()  # late: its callback has long been answered `success`
        await redis.set(h.pipeline.reply_key(message.channel, message.native_id),
                        f"已受理#{number}".encode(), ex=600)

    h.pipeline._respond = respond  # type: ignore[method-assign]
    openids = [f"oBurst{i:04d}".ljust(28, "x") for i in range(CITIZENS)]
    xmls = [h.platform.text(openid, f"小区路灯不亮#{i}") for i, openid in enumerate(openids)]
    deliveries = [*xmls, *xmls[:RETRIED]]  # WeChat's retries arrive among the first deliveries
    before = time.time()
    answers = await asyncio.gather(*(h.exchange(xml) for xml in deliveries))  # each asserts HTTP 200
    release.set()

    assert h.pipeline.publish_calls == CITIZENS  # a retry never publishes again
    published = await h.pipeline.messages()
    assert len({m.native_id for m in published}) == CITIZENS
    # Every message says when its answer is due, so a worker short of NLU time stores it unclassified.
    assert all(isinstance(m.metadata["reply_by"], float) and m.metadata["reply_by"] > before for m in published)

    passive: dict[str, set[str]] = {}
    for xml, answer in zip(deliveries, answers):
        if answer is not None:
            passive.setdefault(answer["ToUserName"], set()).add(answer["Content"])
    assert all(len(texts) == 1 for texts in passive.values())  # a retry re-serves the same answer
    held = {openids[i] for i in range(1, CITIZENS, 2)}
    assert not held & set(passive)

    # The held answers go out as customer-service messages, one each, and nothing else does.
    await eventually(lambda: len(h.sim.sent) >= CITIZENS - len(passive), timeout=15)
    await asyncio.sleep(0.3)  # a duplicate, if any, would arrive now
    by_citizen = Counter(sent.touser for sent in h.sim.sent)
    assert all(by_citizen[openid] + (openid in passive) == 1 for openid in openids)
    assert not set(by_citizen) - set(openids)
