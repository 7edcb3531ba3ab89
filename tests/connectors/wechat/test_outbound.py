"""Customer-service messages through wechatpy's client against the API simulator."""

from __future__ import annotations

import asyncio

import pytest

from connectors.base import ReplyTarget
from connectors.wechat.outbound import WeChatApi

OPENID = "oCitizen0000000000000000004"


def target(openid: str = OPENID) -> ReplyTarget:
    return ReplyTarget(channel="wechat", sender_id=openid)


async def test_send_reply_delivers_a_customer_service_text(make_harness) -> None:
    h = await make_harness("safe")
    result = await h.connector.send_reply(target(), "您的工单 PDS20240001 已转市城市管理局办理。")
    assert result.delivered is True
    assert result.channel_message_id == "1001"
    [sent] = h.sim.sent
    assert (sent.touser, sent.msgtype, sent.content) == (OPENID, "text", "您的工单 PDS20240001 已转市城市管理局办理。")
    assert h.sim.token_fetches == 1


async def test_token_is_fetched_once_and_reused(make_harness) -> None:
    h = await make_harness("plaintext")
    for i in range(3):
        assert (await h.connector.send_reply(target(), f"第{i}次答复")).delivered
    assert h.sim.token_fetches == 1
    assert len({s.access_token for s in h.sim.sent}) == 1
    token_key = f"{h.prefix}:conn:wechat:token:wx2c2769f8efd9abc2"
    assert (await h.redis.get(token_key)).decode() == h.sim.sent[0].access_token
    assert 0 < await h.redis.ttl(token_key) <= 7200 - 300


async def test_outside_the_48_hour_window_is_undelivered(make_harness) -> None:
    h = await make_harness("plaintext")
    h.sim.fail_next("send", 45015)
    result = await h.connector.send_reply(target(), "答复")
    assert result.delivered is False
    assert result.detail.startswith("45015 ")
    assert h.sim.sent == []
    assert h.sim.send_attempts == 1  # not retried: it would fail again


async def test_expired_token_is_refreshed_and_the_call_retried_once(make_harness) -> None:
    h = await make_harness("plaintext")
    assert (await h.connector.send_reply(target(), "第一条")).delivered
    old = h.sim.sent[0].access_token
    h.sim.expire_token()  # → 42001 for the cached token
    result = await h.connector.send_reply(target(), "第二条")
    assert result.delivered is True
    assert h.sim.token_fetches == 2
    assert h.sim.send_attempts == 3  # ok, 42001, ok
    assert h.sim.sent[1].access_token != old
    assert h.sim.sent[1].content == "第二条"


async def test_invalid_credential_is_retried_only_once(make_harness) -> None:
    h = await make_harness("plaintext")
    h.sim.fail_next("send", 40001, times=5)  # would loop for ever with wechatpy's auto_retry
    # (the simulator checks the token first, so 40001 here comes from the fault queue)
    result = await h.connector.send_reply(target(), "答复")
    assert result.delivered is False
    assert result.detail.startswith("40001 ")
    assert h.sim.send_attempts == 2
    assert h.sim.token_fetches == 2


async def test_one_refresher_for_many_processes(make_harness, redis_client) -> None:
    """Five 'processes' (separate API objects sharing Redis) need a token at once: one fetch."""
    h = await make_harness("plaintext")
    apis = [WeChatApi(h.connector.settings, redis_client, f"{h.prefix}:conn:wechat") for _ in range(5)]
    try:
        results = await asyncio.gather(*(api.send_text(OPENID, f"并发{i}") for i, api in enumerate(apis)))
        assert all(r.delivered for r in results)
        assert h.sim.token_fetches == 1
        assert len({s.access_token for s in h.sim.sent}) == 1

        # The token goes bad for everybody at once: still a single refresh.
        h.sim.expire_token()
        results = await asyncio.gather(*(api.send_text(OPENID, f"再次{i}") for i, api in enumerate(apis)))
        assert all(r.delivered for r in results), [r.detail for r in results]
        assert h.sim.token_fetches == 2
    finally:
        await asyncio.gather(*(api.aclose() for api in apis))


async def test_token_endpoint_errors_are_reported(make_harness) -> None:
    h = await make_harness("plaintext", WECHAT_APP_SECRET="wrong-secret")
    result = await h.connector.send_reply(target(), "答复")
    assert result.delivered is False
    assert result.detail.startswith("40125 ")


async def test_unreachable_api_is_reported_not_raised(make_harness) -> None:
    h = await make_harness("plaintext", WECHAT_API_BASE_URL="http://127.0.0.1:9/cgi-bin/", WECHAT_API_TIMEOUT=1)
    result = await h.connector.send_reply(target(), "答复")
    assert result.delivered is False
    assert "network error" in result.detail


async def test_outbound_without_credentials_is_undelivered(make_harness) -> None:
    h = await make_harness("plaintext", WECHAT_APP_SECRET="")
    result = await h.connector.send_reply(target(), "答复")
    assert result.delivered is False
    assert "WECHAT_APP_SECRET" in result.detail


@pytest.mark.parametrize(
    "tgt, text",
    [
        (ReplyTarget(channel="email", sender_id="a@b.cn"), "答复"),
        (ReplyTarget(channel="wechat", sender_id=OPENID), "  "),
    ],
)
async def test_wrong_target_or_empty_text_is_refused(make_harness, tgt, text) -> None:
    h = await make_harness("plaintext")
    assert (await h.connector.send_reply(tgt, text)).delivered is False
    assert h.sim.send_attempts == 0
