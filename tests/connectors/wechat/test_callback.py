"""The callback URL, driven by a simulated WeChat platform speaking the real protocol."""

from __future__ import annotations

import time

import pytest

from connectors.wechat import texts

MODES = ("plaintext", "compatible", "safe")
OPENID = "oCitizen0000000000000000001"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"


# ---- URL verification ------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_url_verification_echoes_echostr(make_harness, mode) -> None:
    h = await make_harness(mode)
    resp = await h.client.get(f"/wechat?{h.platform.verification_query('5837397520665436492')}")
    assert resp.status == 200
    assert await resp.text() == "5837397520665436492"
    assert resp.content_type == "text/plain"


async def test_url_verification_refuses_bad_signature_and_stale_timestamp(make_harness) -> None:
    h = await make_harness("plaintext")
    query = h.platform.verification_query("echo").replace("signature=", "signature=0")
    assert (await h.client.get(f"/wechat?{query}")).status == 403
    stale = h.platform.verification_query("echo", timestamp=int(time.time()) - 301)
    assert (await h.client.get(f"/wechat?{stale}")).status == 403
    assert (await h.client.get("/wechat")).status == 403


# ---- message types ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_text_is_published_and_answered_passively(make_harness, mode) -> None:
    h = await make_harness(mode)
    msg_id = h.platform.next_msg_id()
    reply = await h.exchange(h.platform.text(OPENID, "新华区建设路路灯不亮了", msg_id))

    [message] = await h.pipeline.messages()
    assert message.channel == "wechat"
    assert message.native_id == msg_id
    assert message.sender_id == OPENID
    assert message.contact.wechat_openid == OPENID
    assert message.text == "新华区建设路路灯不亮了"
    assert message.received_at.tzinfo is not None
    assert message.metadata["msg_type"] == "text"
    assert message.metadata["wechat_mode"] == mode

    assert reply is not None
    assert reply["MsgType"] == "text"
    assert reply["Content"] == "已收到您的诉求：新华区建设路路灯不亮了"
    assert reply["ToUserName"] == OPENID
    assert reply["FromUserName"] == h.platform.account
    assert h.sim.sent == []  # answered passively, no customer-service message


@pytest.mark.parametrize("mode", MODES)
async def test_voice_with_recognition_is_published_as_text(make_harness, mode) -> None:
    h = await make_harness(mode)
    reply = await h.exchange(h.platform.voice(OPENID, "我想咨询公积金提取"))
    [message] = await h.pipeline.messages()
    assert message.text == "我想咨询公积金提取"
    assert message.metadata["msg_type"] == "voice"
    assert message.metadata["format"] == "amr"
    assert reply is not None and reply["Content"] == "已收到您的诉求：我想咨询公积金提取"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("recognition", [None, "", "   "])
async def test_voice_without_recognition_asks_to_type(make_harness, mode, recognition) -> None:
    h = await make_harness(mode)
    reply = await h.exchange(h.platform.voice(OPENID, recognition))
    assert reply is not None
    assert reply["Content"] == texts.VOICE_NOT_RECOGNISED
    assert "文字" in reply["Content"] and "110" in reply["Content"]
    assert await h.pipeline.messages() == []
    assert h.pipeline.publish_calls == 0


@pytest.mark.parametrize("mode", MODES)
async def test_image_is_fetched_stored_and_published(make_harness, mode) -> None:
    h = await make_harness(mode)
    h.sim.add_media("MEDIA_abc123", JPEG, "image/jpeg")
    pic_url = "http://mmbiz.qpic.cn/mmbiz/abc123/0"
    reply = await h.exchange(h.platform.image(OPENID, "MEDIA_abc123", pic_url))

    [message] = await h.pipeline.messages()
    assert message.metadata["msg_type"] == "image"
    assert message.metadata["pic_url"] == pic_url
    assert message.metadata["media_id"] == "MEDIA_abc123"
    assert "media_error" not in message.metadata
    assert message.text == texts.IMAGE_TEXT
    [ref] = message.attachments
    assert ref.kind == "image" and ref.content_type == "image/jpeg" and ref.size == len(JPEG)
    assert h.store.path_of(ref.storage_key).read_bytes() == JPEG  # the bytes WeChat's API served
    assert h.sim.media_requests == 1
    assert h.sim.token_fetches == 1
    assert reply is not None


async def test_image_whose_media_cannot_be_fetched_keeps_pic_url(make_harness) -> None:
    h = await make_harness("safe")
    reply = await h.exchange(h.platform.image(OPENID, "MEDIA_unknown", "http://mmbiz.qpic.cn/x/0"))
    [message] = await h.pipeline.messages()
    assert message.attachments == ()
    assert message.metadata["pic_url"] == "http://mmbiz.qpic.cn/x/0"
    assert message.metadata["media_error"].startswith("40007")
    assert reply is not None


async def test_image_with_a_lying_content_type_is_not_stored(make_harness) -> None:
    h = await make_harness("plaintext")
    h.sim.add_media("MEDIA_exe", b"MZ\x90\x00 not a picture", "image/jpeg")
    await h.exchange(h.platform.image(OPENID, "MEDIA_exe", "http://mmbiz.qpic.cn/y/0"))
    [message] = await h.pipeline.messages()
    assert message.attachments == ()
    assert "media_error" in message.metadata
    stored = [p for p in h.store.root.rglob("*") if p.is_file()] if h.store.root.exists() else []
    assert stored == []


@pytest.mark.parametrize("mode", MODES)
async def test_location_is_published_with_coordinates(make_harness, mode) -> None:
    h = await make_harness(mode)
    reply = await h.exchange(h.platform.location(OPENID, "33.735241", "113.299123", "河南省平顶山市新华区中兴路"))
    [message] = await h.pipeline.messages()
    assert message.text == "位置：河南省平顶山市新华区中兴路（纬度 33.735241，经度 113.299123）"
    assert message.metadata["msg_type"] == "location"
    assert message.metadata["label"] == "河南省平顶山市新华区中兴路"
    assert message.metadata["latitude"] == "33.735241"
    assert message.metadata["longitude"] == "113.299123"
    assert reply is not None


@pytest.mark.parametrize("mode", MODES)
async def test_subscribe_gets_the_welcome_and_publishes_nothing(make_harness, mode) -> None:
    h = await make_harness(mode)
    reply = await h.exchange(h.platform.event(OPENID, "subscribe"))
    assert reply is not None
    assert reply["Content"] == texts.WELCOME
    for word in ("咨询", "投诉", "建议", "110", "119", "120", "122"):
        assert word in reply["Content"]
    assert await h.pipeline.messages() == []


@pytest.mark.parametrize("mode", MODES)
async def test_unsubscribe_is_recorded(make_harness, mode) -> None:
    h = await make_harness(mode)
    created = int(time.time())
    reply = await h.exchange(h.platform.event(OPENID, "unsubscribe", create_time=created))
    assert reply is None  # `success`: nobody left to read an answer
    [message] = await h.pipeline.messages()
    assert message.text == "（取消关注）"
    assert message.metadata["msg_type"] == "event:unsubscribe"
    assert message.native_id == f"{OPENID}:{created}:unsubscribe"


async def test_other_events_are_acknowledged_and_not_published(make_harness) -> None:
    h = await make_harness("safe")
    assert await h.exchange(h.platform.event(OPENID, "CLICK", event_key="MENU_1")) is None
    assert await h.pipeline.messages() == []


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_message_type_gets_a_polite_answer(make_harness, mode) -> None:
    h = await make_harness(mode)
    xml = h.platform.message_xml(OPENID, "video", {"MediaId": "v1", "ThumbMediaId": "t1", "MsgId": "123"})
    reply = await h.exchange(xml)
    assert reply is not None and reply["Content"] == texts.UNSUPPORTED
    assert await h.pipeline.messages() == []


async def test_empty_text_gets_a_prompt(make_harness) -> None:
    h = await make_harness("plaintext")
    reply = await h.exchange(h.platform.text(OPENID, "   "))
    assert reply is not None and reply["Content"] == texts.EMPTY_TEXT
    assert await h.pipeline.messages() == []


# ---- replies cannot break the XML ---------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_cdata_terminator_in_reply_cannot_break_the_xml(make_harness, mode) -> None:
    h = await make_harness(mode)
    evil = "答复]]><MsgType>news</MsgType><Content><![CDATA[伪造]]>&amp;<script>x</script>]]>]]>"
    h.pipeline.answer = lambda msg: evil
    reply = await h.exchange(h.platform.text(OPENID, "测试"))
    assert reply is not None
    assert reply["MsgType"] == "text"
    assert reply["Content"] == evil  # byte for byte, as text


# ---- stream unavailable ------------------------------------------------------------------


async def test_stream_down_answers_503_and_the_retry_publishes(make_harness) -> None:
    h = await make_harness("safe")
    h.pipeline.unavailable = True
    msg_id = h.platform.next_msg_id()
    xml = h.platform.text(OPENID, "停水了", msg_id)
    resp = await h.post(xml)
    assert resp.status == 503
    assert await h.pipeline.messages() == []
    # WeChat retries; the claim of the failed delivery must not swallow it.
    h.pipeline.unavailable = False
    reply = await h.exchange(xml)
    assert reply is not None and reply["Content"] == "已收到您的诉求：停水了"
    assert [m.native_id for m in await h.pipeline.messages()] == [msg_id]


async def test_redis_down_answers_503(aiohttp_client, pipeline, tmp_path) -> None:
    import redis.asyncio as aioredis
    from aiohttp import web

    from connectors.storage import AttachmentStore
    from connectors.wechat import load_wechat_settings, setup_wechat
    from connectors.wechat.simulator import WeChatPlatform

    dead = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    app = web.Application()
    setup_wechat(
        app,
        load_wechat_settings(WECHAT_TOKEN="hotline12345"),
        publish=pipeline.publish,
        wait_reply=pipeline.wait_reply,
        attachments=AttachmentStore(tmp_path),
        redis=dead,
        key_prefix="unused",
    )
    client = await aiohttp_client(app)
    platform = WeChatPlatform("hotline12345")
    req = platform.sign_request(platform.text(OPENID, "Redis 不可用"))
    resp = await client.post(f"/wechat?{req.query}", data=req.body)
    assert resp.status == 503  # WeChat retries; nothing acknowledged
    assert pipeline.publish_calls == 0
    await dead.aclose()
