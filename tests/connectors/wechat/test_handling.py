"""WeChat's retries (three deliveries of one MsgId) and the deferred answer."""

from __future__ import annotations

import asyncio
import time

import pytest

OPENID = "oCitizen0000000000000000003"


def _content(reply):
    return None if reply is None else reply["Content"]


@pytest.mark.parametrize("mode", ["plaintext", "safe"])
async def test_same_msgid_three_times_concurrently_publishes_once(make_harness, mode) -> None:
    h = await make_harness(mode)
    h.pipeline.delay = 0.3  # all three deliveries are in flight before the answer exists
    msg_id = h.platform.next_msg_id()
    xml = h.platform.text(OPENID, "小区噪音扰民", msg_id)
    replies = await asyncio.gather(*(h.exchange(xml) for _ in range(3)))

    assert [m.native_id for m in await h.pipeline.messages()] == [msg_id]
    assert h.pipeline.publish_calls == 1
    answers = {_content(r) for r in replies}
    # One answer for the MsgId: retries re-serve the identical passive reply (WeChat keeps
    # only the answer to the delivery it still waits for), or say `success`.
    assert "已收到您的诉求：小区噪音扰民" in answers
    assert answers <= {"已收到您的诉求：小区噪音扰民", None}
    await asyncio.sleep(0.3)
    assert h.sim.sent == []  # and never an extra customer-service message
    assert (await h.redis.get(h.connector.state.sent_key(msg_id))) == b"passive"


@pytest.mark.parametrize("mode", ["plaintext", "safe"])
async def test_same_msgid_three_times_sequentially_publishes_once(make_harness, mode) -> None:
    h = await make_harness(mode)
    msg_id = h.platform.next_msg_id()
    xml = h.platform.text(OPENID, "路面塌陷", msg_id)
    replies = [await h.exchange(xml) for _ in range(3)]
    assert h.pipeline.publish_calls == 1
    assert len(await h.pipeline.messages()) == 1
    assert [_content(r) for r in replies] == ["已收到您的诉求：路面塌陷"] * 3
    assert h.sim.sent == []


async def test_repeated_unsubscribe_event_is_recorded_once(make_harness) -> None:
    h = await make_harness("safe")
    created = int(time.time())
    xml = h.platform.event(OPENID, "unsubscribe", create_time=created)
    for _ in range(3):
        assert await h.exchange(xml) is None
    [message] = await h.pipeline.messages()
    assert message.native_id == f"{OPENID}:{created}:unsubscribe"


async def test_distinct_msgids_are_all_published(make_harness) -> None:
    h = await make_harness("plaintext")
    xmls = [h.platform.text(OPENID, f"第{i}条") for i in range(5)]
    await asyncio.gather(*(h.exchange(x) for x in xmls))
    assert sorted(m.text for m in await h.pipeline.messages()) == sorted(f"第{i}条" for i in range(5))


@pytest.mark.parametrize("mode", ["plaintext", "safe"])
async def test_slow_answer_is_success_then_a_customer_service_message(make_harness, mode, eventually) -> None:
    h = await make_harness(mode)  # reply budget 1 s
    h.pipeline.delay = 1.6
    msg_id = h.platform.next_msg_id()
    started = time.monotonic()
    reply = await h.exchange(h.platform.text(OPENID, "我要投诉物业", msg_id))
    elapsed = time.monotonic() - started
    assert reply is None  # `success`, within the budget
    assert 0.9 <= elapsed < 2.0  # the budget, plus slack for a loaded CI machine
    assert h.sim.sent == []

    await eventually(lambda: h.sim.sent, timeout=5)
    [sent] = h.sim.sent
    assert sent.touser == OPENID
    assert sent.msgtype == "text"
    assert sent.content == "已收到您的诉求：我要投诉物业"
    assert (await h.redis.get(h.connector.state.sent_key(msg_id))) == b"deferred"
    await asyncio.sleep(0.3)
    assert len(h.sim.sent) == 1


async def test_retries_of_a_slow_message_still_send_exactly_once(make_harness, eventually) -> None:
    h = await make_harness("safe")  # budget 1 s; WeChat's real retry interval is 5 s
    h.pipeline.delay = 1.5
    msg_id = h.platform.next_msg_id()
    xml = h.platform.text(OPENID, "油烟污染", msg_id)
    first = await h.exchange(xml)  # ~1.0 s: success, deferred task waits
    second = await h.exchange(xml)  # arrives while the answer is not there yet; it comes at ~1.5 s
    third = await h.exchange(xml)
    await asyncio.sleep(0.5)
    assert first is None
    assert h.pipeline.publish_calls == 1
    passive = [r for r in (second, third) if r is not None]
    # Exactly one of: a passive answer on a retry (re-served identically), or one
    # customer-service message. Never both, never two.
    if h.sim.sent:
        assert len(h.sim.sent) == 1 and passive == []
    else:
        assert passive and {r["Content"] for r in passive} == {"已收到您的诉求：油烟污染"}
    holder = await h.redis.get(h.connector.state.sent_key(msg_id))
    assert holder == (b"deferred" if h.sim.sent else b"passive")


async def test_no_answer_at_all_sends_nothing(make_harness) -> None:
    h = await make_harness("plaintext", WECHAT_DEFERRED_WAIT=0.5)
    h.pipeline.answer = lambda msg: None
    assert await h.exchange(h.platform.text(OPENID, "无人答复")) is None
    await asyncio.sleep(0.8)
    assert h.sim.sent == []
    assert len(await h.pipeline.messages()) == 1


async def test_deferred_answer_out_of_window_is_not_retried(make_harness, eventually) -> None:
    h = await make_harness("plaintext")
    h.pipeline.delay = 1.3
    h.sim.fail_next("send", 45015)
    assert await h.exchange(h.platform.text(OPENID, "很久以前的留言")) is None
    await eventually(lambda: h.sim.send_attempts >= 1, timeout=5)
    await asyncio.sleep(0.3)
    assert h.sim.send_attempts == 1
    assert h.sim.sent == []


async def test_shutdown_stops_pending_deferred_deliveries(make_harness) -> None:
    h = await make_harness("plaintext", WECHAT_DEFERRED_WAIT=30)
    h.pipeline.answer = lambda msg: None  # never answers
    assert await h.exchange(h.platform.text(OPENID, "等待中")) is None
    assert h.connector.pending_tasks >= 1
    await h.connector.aclose(grace=0.1)
    assert h.connector.pending_tasks == 0


async def test_deferred_delivery_yields_to_a_passive_answer_already_claimed(make_harness, eventually) -> None:
    h = await make_harness("plaintext")
    h.pipeline.delay = 1.4
    msg_id = h.platform.next_msg_id()
    assert await h.exchange(h.platform.text(OPENID, "已被被动答复", msg_id)) is None
    # Meanwhile a retried delivery answered passively (as it does when it wins the claim).
    assert await h.connector.state.claim_delivery(msg_id, "passive") == "passive"
    await eventually(lambda: h.redis.get(h.connector.state.reply_key(msg_id)), timeout=5)
    await asyncio.sleep(0.3)
    assert h.sim.send_attempts == 0 and h.sim.sent == []


async def test_delivery_claim_has_exactly_one_winner(make_harness) -> None:
    h = await make_harness("plaintext")
    hows = ["passive", "deferred"] * 10
    holders = await asyncio.gather(*(h.connector.state.claim_delivery("m-1", how) for how in hows))
    winner = (await h.redis.get(h.connector.state.sent_key("m-1"))).decode()
    assert set(holders) == {winner}


async def test_concurrent_deliveries_of_a_slow_message_are_all_acknowledged(make_harness, eventually) -> None:
    h = await make_harness("safe")
    h.pipeline.delay = 1.4  # later than the 1 s budget
    msg_id = h.platform.next_msg_id()
    xml = h.platform.text(OPENID, "供暖不热", msg_id)
    replies = await asyncio.gather(*(h.exchange(xml) for _ in range(3)))  # exchange asserts HTTP 200
    assert replies == [None, None, None]
    await eventually(lambda: h.sim.sent, timeout=5)
    await asyncio.sleep(0.3)
    assert [s.content for s in h.sim.sent] == ["已收到您的诉求：供暖不热"]
    assert h.pipeline.publish_calls == 1


async def test_retry_while_the_first_delivery_is_still_storing_is_not_acknowledged(make_harness) -> None:
    h = await make_harness("plaintext")
    msg_id = h.platform.next_msg_id()
    # A delivery that claimed the MsgId and then died before storing it.
    await h.redis.set(h.connector.state.msg_key(msg_id), "pending:dead-process", ex=20)
    resp = await h.post(h.platform.text(OPENID, "进程崩溃后的重试", msg_id))
    assert resp.status == 503  # not acknowledged: WeChat's next retry may find the claim gone
    assert await h.pipeline.messages() == []
    await h.redis.delete(h.connector.state.msg_key(msg_id))  # the short claim TTL ran out
    assert await h.exchange(h.platform.text(OPENID, "进程崩溃后的重试", msg_id)) is not None
    assert len(await h.pipeline.messages()) == 1
