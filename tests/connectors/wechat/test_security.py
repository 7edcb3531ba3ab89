"""Hostile or broken callbacks: refused with a status, no crash, nothing published."""

from __future__ import annotations

import base64
import os
import time
from urllib.parse import urlencode

import pytest

from connectors.wechat.security import cdata, sign
from connectors.wechat.simulator import WeChatPlatform

OPENID = "oCitizen0000000000000000002"
TOKEN = "hotline12345"

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xml><ToUserName>gh_x</ToUserName><FromUserName>oCitizen0000000000000000002</FromUserName>
<CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1</MsgId></xml>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh_x</ToUserName><FromUserName>oCitizen0000000000000000002</FromUserName>
<CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>"""

MALFORMED = "<xml><ToUserName>gh_x</ToUserName><FromUserName>o1<Content>unclosed</xml>"
NESTED = (
    "<xml><ToUserName>gh_x</ToUserName><FromUserName><a>o1</a></FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>x</Content><MsgId>3</MsgId></xml>"
)


async def _assert_nothing_stored(h) -> None:
    assert await h.pipeline.messages() == []
    assert h.pipeline.publish_calls == 0


async def _still_serving(h) -> None:
    reply = await h.exchange(h.platform.text(OPENID, "之后的正常消息"))
    assert reply is not None and reply["Content"] == "已收到您的诉求：之后的正常消息"


def _signed_safe(encrypt: str, *, ts: str | None = None, nonce: str = "12345") -> tuple[str, bytes]:
    ts = ts or str(int(time.time()))
    query = urlencode(
        {
            "signature": sign(TOKEN, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "encrypt_type": "aes",
            "msg_signature": sign(TOKEN, ts, nonce, encrypt),
        }
    )
    body = f"<xml><ToUserName>{cdata('gh_x')}</ToUserName><Encrypt>{cdata(encrypt)}</Encrypt></xml>"
    return query, body.encode()


# ---- signatures and timestamps ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["plaintext", "safe"])
@pytest.mark.parametrize("skew", [-301, 301, -86_400])
async def test_timestamp_outside_the_window_is_refused(make_harness, mode, skew) -> None:
    h = await make_harness(mode)
    resp = await h.post(h.platform.text(OPENID, "旧消息"), timestamp=int(time.time()) + skew)
    assert resp.status == 403
    await _assert_nothing_stored(h)


@pytest.mark.parametrize("mode", ["plaintext", "safe"])
async def test_timestamp_inside_the_window_is_accepted(make_harness, mode) -> None:
    h = await make_harness(mode)
    resp = await h.post(h.platform.text(OPENID, "稍早的消息"), timestamp=int(time.time()) - 250)
    assert resp.status == 200
    assert len(await h.pipeline.messages()) == 1


async def test_bad_plain_signature_is_refused(make_harness) -> None:
    h = await make_harness("plaintext")
    req = h.platform.sign_request(h.platform.text(OPENID, "伪造"))
    query = req.query.replace("signature=", "signature=f", 1)
    resp = await h.client.post(f"/wechat?{query}", data=req.body)
    assert resp.status == 403
    other = WeChatPlatform("anothertoken")  # right shape, wrong token
    req = other.sign_request(h.platform.text(OPENID, "伪造"))
    assert (await h.client.post(f"/wechat?{req.query}", data=req.body)).status == 403
    await _assert_nothing_stored(h)
    await _still_serving(h)


@pytest.mark.parametrize("mode", ["compatible", "safe"])
async def test_bad_msg_signature_is_refused(make_harness, mode) -> None:
    h = await make_harness(mode)
    req = h.platform.sign_request(h.platform.text(OPENID, "伪造"))
    sig = req.query.split("msg_signature=")[1][:40]
    tampered = req.query.replace(sig, sig[:-1] + ("0" if sig[-1] != "0" else "1"))
    assert (await h.client.post(f"/wechat?{tampered}", data=req.body)).status == 403
    # A valid URL signature does not make up for a missing msg_signature.
    without = "&".join(p for p in req.query.split("&") if not p.startswith("msg_signature="))
    assert (await h.client.post(f"/wechat?{without}", data=req.body)).status == 403
    await _assert_nothing_stored(h)
    await _still_serving(h)


async def test_unencrypted_post_is_refused_when_an_aes_key_is_configured(make_harness) -> None:
    h = await make_harness("safe")
    plain = WeChatPlatform(TOKEN, mode="plaintext")  # correct token, correct URL signature
    req = plain.sign_request(plain.text(OPENID, "明文伪造"))
    resp = await h.client.post(f"/wechat?{req.query}", data=req.body)
    assert resp.status == 403
    await _assert_nothing_stored(h)


async def test_encrypted_body_swapped_under_a_valid_url_signature_is_refused(make_harness) -> None:
    h = await make_harness("safe")
    first = h.platform.sign_request(h.platform.text(OPENID, "原消息"))
    second = h.platform.sign_request(h.platform.text(OPENID, "替换后的消息"))
    resp = await h.client.post(f"/wechat?{first.query}", data=second.body)
    assert resp.status == 403
    await _assert_nothing_stored(h)


# ---- hostile bodies --------------------------------------------------------------------


@pytest.mark.parametrize(
    "encrypt",
    [
        "garbage",
        "!!!not base64!!!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(os.urandom(64)).decode(),  # right size, random bytes
        base64.b64encode(os.urandom(1024)).decode(),
        "A" * 44,
    ],
)
async def test_garbage_ciphertext_is_refused(make_harness, encrypt) -> None:
    h = await make_harness("safe")
    query, body = _signed_safe(encrypt)
    resp = await h.client.post(f"/wechat?{query}", data=body)
    assert resp.status in (400, 403)
    await _assert_nothing_stored(h)
    await _still_serving(h)


@pytest.mark.parametrize("xml", [MALFORMED, NESTED, "", "not xml at all", "<xml>", "\xff\xfe<xml/>"])
async def test_malformed_xml_is_refused(make_harness, xml) -> None:
    h = await make_harness("plaintext")
    resp = await h.post(xml)
    assert resp.status == 400
    await _assert_nothing_stored(h)
    await _still_serving(h)


@pytest.mark.parametrize("xml", [MALFORMED, NESTED])
async def test_malformed_xml_inside_the_ciphertext_is_refused(make_harness, xml) -> None:
    h = await make_harness("safe")
    resp = await h.post(xml)
    assert resp.status == 400
    await _assert_nothing_stored(h)
    await _still_serving(h)


@pytest.mark.parametrize("mode", ["plaintext", "safe"])
@pytest.mark.parametrize("xml", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
async def test_entity_declarations_are_refused(make_harness, mode, xml) -> None:
    h = await make_harness(mode)
    started = time.monotonic()
    resp = await h.post(xml)  # in safe mode the bomb is inside valid, signed ciphertext
    assert resp.status == 400
    assert time.monotonic() - started < 2.0  # refused, not expanded
    await _assert_nothing_stored(h)
    await _still_serving(h)


async def test_entity_bomb_in_the_outer_body_of_safe_mode_is_refused(make_harness) -> None:
    h = await make_harness("safe")
    ts, nonce = str(int(time.time())), "777"
    query = urlencode(
        {"timestamp": ts, "nonce": nonce, "encrypt_type": "aes", "msg_signature": sign(TOKEN, ts, nonce, "x")}
    )
    resp = await h.client.post(f"/wechat?{query}", data=BILLION_LAUGHS.encode())
    assert resp.status == 400
    await _assert_nothing_stored(h)


@pytest.mark.parametrize("chunked", [False, True])
async def test_oversized_body_is_refused(make_harness, chunked) -> None:
    h = await make_harness("plaintext", WECHAT_MAX_BODY_BYTES=4096)
    big = h.platform.text(OPENID, "长" * 5000)
    req = h.platform.sign_request(big)
    if chunked:

        async def gen():
            for i in range(0, len(req.body), 1000):
                yield req.body[i : i + 1000]

        resp = await h.client.post(f"/wechat?{req.query}", data=gen())
    else:
        resp = await h.client.post(f"/wechat?{req.query}", data=req.body)
    assert resp.status == 413
    await _assert_nothing_stored(h)


async def test_missing_required_fields_are_refused(make_harness) -> None:
    h = await make_harness("safe")
    for xml in (
        "<xml><ToUserName>gh_x</ToUserName><MsgType>text</MsgType><Content>x</Content></xml>",
        h.platform.message_xml(OPENID, "text", {"Content": "无编号"}),  # no MsgId
        h.platform.message_xml(OPENID, "text", {"Content": "x", "MsgId": "12; DROP"}),
    ):
        assert (await h.post(xml)).status == 400
    await _assert_nothing_stored(h)
