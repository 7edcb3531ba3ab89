"""The published known-good vectors (shared/reference/wechat-test-vectors.md)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from aiohttp import web

from connectors.storage import AttachmentStore
from connectors.wechat import load_wechat_settings, setup_wechat
from connectors.wechat.security import CallbackCrypto, CallbackRejected, cdata, parse_xml, sign
from connectors.wechat.simulator import WeChatPlatform

# A. Tencent's WXBizMsgCrypt sample
A_TOKEN = "spamtest"
A_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
A_APPID = "wx2c2769f8efd9abc2"
A_TIMESTAMP = "1409735669"
A_NONCE = "1320562132"
A_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
A_SIGNATURE = "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"
A_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9"
    "FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3y"
    "t+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v"
    "6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
A_FIELDS = {
    "ToUserName": "gh_10f6c3c3ac5a",
    "FromUserName": "oyORnuP8q7ou2gfYjqLzSIWZf0rs",
    "CreateTime": "1409735668",
    "MsgType": "text",
    "Content": "abcdteT",
    "MsgId": "6054768590064713728",
}

# B. wechatpy's own crypto test
B_TOKEN = "123456"
B_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
B_APPID = "wx49f0ab532d5d035a"
B_MSG_SIGNATURE = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
B_TIMESTAMP = "1411525903"
B_NONCE = "461056294"
B_ENCRYPT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymz"
    "xh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIi"
    "OAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvc"
    "cTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)


def _last_hex_changed(sig: str) -> str:
    return sig[:-1] + ("0" if sig[-1] != "0" else "1")


# ---- at the crypto layer -------------------------------------------------------------


def test_vector_a_decrypts_to_the_documented_message() -> None:
    crypto = CallbackCrypto(A_TOKEN, A_KEY, A_APPID)
    fields = parse_xml(crypto.decrypt(A_ENCRYPT, A_MSG_SIGNATURE, A_TIMESTAMP, A_NONCE))
    assert fields == A_FIELDS


def test_vector_a_changed_msg_signature_is_rejected() -> None:
    crypto = CallbackCrypto(A_TOKEN, A_KEY, A_APPID)
    with pytest.raises(CallbackRejected) as info:
        crypto.decrypt(A_ENCRYPT, _last_hex_changed(A_MSG_SIGNATURE), A_TIMESTAMP, A_NONCE)
    assert info.value.status == 403


def test_vector_a_other_app_id_is_rejected() -> None:
    crypto = CallbackCrypto(A_TOKEN, A_KEY, "wx0000000000000001")
    with pytest.raises(CallbackRejected) as info:
        crypto.decrypt(A_ENCRYPT, A_MSG_SIGNATURE, A_TIMESTAMP, A_NONCE)
    assert info.value.status == 403
    assert "app id" in info.value.reason


def test_vector_a_plain_signature() -> None:
    assert sign(A_TOKEN, A_TIMESTAMP, A_NONCE) == A_SIGNATURE


def test_vector_b_decrypts_to_test() -> None:
    crypto = CallbackCrypto(B_TOKEN, B_KEY, B_APPID)
    fields = parse_xml(crypto.decrypt(B_ENCRYPT, B_MSG_SIGNATURE, B_TIMESTAMP, B_NONCE))
    assert fields["Content"] == "test"
    assert fields["FromUserName"] == "messense"
    assert fields["MsgId"] == "4363689963896700987"
    assert fields["MsgType"] == "text"


def test_vector_c_plain_url_signature() -> None:
    assert sign("test", "1410685589", "test") == "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"


# ---- through the HTTP endpoint ---------------------------------------------------------


async def _app_for(aiohttp_client, redis_client, prefix, pipeline, tmp_path, *, token, key, app_id, now):
    settings = load_wechat_settings(
        WECHAT_TOKEN=token, WECHAT_ENCODING_AES_KEY=key, WECHAT_APP_ID=app_id, WECHAT_REPLY_BUDGET=1.0
    )
    app = web.Application()
    connector = setup_wechat(
        app,
        settings,
        publish=pipeline.publish,
        wait_reply=pipeline.wait_reply,
        attachments=AttachmentStore(tmp_path),
        redis=redis_client,
        key_prefix=f"{prefix}:conn:wechat",
    )
    # The vectors were signed in 2014: replay them with the clock they were made at.
    connector.clock = lambda: float(now)
    return await aiohttp_client(app)


def _compatible_body_a() -> bytes:
    plain = "".join(f"<{k}>{cdata(v) if k not in ('CreateTime', 'MsgId') else v}</{k}>" for k, v in A_FIELDS.items())
    return f"<xml>{plain}<Encrypt>{cdata(A_ENCRYPT)}</Encrypt></xml>".encode()


def _query_a(msg_signature: str = A_MSG_SIGNATURE) -> str:
    return urlencode(
        {
            "signature": A_SIGNATURE,
            "timestamp": A_TIMESTAMP,
            "nonce": A_NONCE,
            "openid": A_FIELDS["FromUserName"],
            "encrypt_type": "aes",
            "msg_signature": msg_signature,
        }
    )


async def test_vector_a_accepted_in_compatible_mode_over_http(
    aiohttp_client, redis_client, prefix, pipeline, tmp_path
) -> None:
    client = await _app_for(
        aiohttp_client,
        redis_client,
        prefix,
        pipeline,
        tmp_path,
        token=A_TOKEN,
        key=A_KEY,
        app_id=A_APPID,
        now=int(A_TIMESTAMP) + 2,
    )
    resp = await client.post(f"/wechat?{_query_a()}", data=_compatible_body_a())
    body = await resp.text()
    assert resp.status == 200, body

    [message] = await pipeline.messages()
    assert message.channel == "wechat"
    assert message.native_id == A_FIELDS["MsgId"]
    assert message.sender_id == A_FIELDS["FromUserName"]
    assert message.contact.wechat_openid == A_FIELDS["FromUserName"]
    assert message.text == "abcdteT"
    assert message.received_at.timestamp() == int(A_FIELDS["CreateTime"])
    assert message.metadata["msg_type"] == "text"
    assert message.metadata["wechat_mode"] == "compatible"

    # The answer comes back encrypted with the same key and app id, as WeChat expects.
    platform = WeChatPlatform(A_TOKEN, mode="compatible", encoding_aes_key=A_KEY, app_id=A_APPID)
    reply = platform.read_reply(body)
    assert "<Encrypt>" in body
    assert reply is not None
    assert reply["Content"] == "已收到您的诉求：abcdteT"
    assert reply["ToUserName"] == A_FIELDS["FromUserName"]
    assert reply["FromUserName"] == A_FIELDS["ToUserName"]


async def test_vector_a_over_http_with_changed_msg_signature_is_refused(
    aiohttp_client, redis_client, prefix, pipeline, tmp_path
) -> None:
    client = await _app_for(
        aiohttp_client,
        redis_client,
        prefix,
        pipeline,
        tmp_path,
        token=A_TOKEN,
        key=A_KEY,
        app_id=A_APPID,
        now=int(A_TIMESTAMP),
    )
    resp = await client.post(f"/wechat?{_query_a(_last_hex_changed(A_MSG_SIGNATURE))}", data=_compatible_body_a())
    assert resp.status == 403
    assert await pipeline.messages() == []


async def test_vector_a_over_http_for_another_app_is_refused(
    aiohttp_client, redis_client, prefix, pipeline, tmp_path
) -> None:
    client = await _app_for(
        aiohttp_client,
        redis_client,
        prefix,
        pipeline,
        tmp_path,
        token=A_TOKEN,
        key=A_KEY,
        app_id="wx0000000000000001",
        now=int(A_TIMESTAMP),
    )
    resp = await client.post(f"/wechat?{_query_a()}", data=_compatible_body_a())
    assert resp.status == 403
    assert await pipeline.messages() == []


async def test_vector_a_outside_the_timestamp_window_is_refused(
    aiohttp_client, redis_client, prefix, pipeline, tmp_path
) -> None:
    client = await _app_for(
        aiohttp_client,
        redis_client,
        prefix,
        pipeline,
        tmp_path,
        token=A_TOKEN,
        key=A_KEY,
        app_id=A_APPID,
        now=int(A_TIMESTAMP) + 301,
    )
    resp = await client.post(f"/wechat?{_query_a()}", data=_compatible_body_a())
    assert resp.status == 403
    assert await pipeline.messages() == []


async def test_vector_b_accepted_in_safe_mode_over_http(
    aiohttp_client, redis_client, prefix, pipeline, tmp_path
) -> None:
    client = await _app_for(
        aiohttp_client,
        redis_client,
        prefix,
        pipeline,
        tmp_path,
        token=B_TOKEN,
        key=B_KEY,
        app_id=B_APPID,
        now=int(B_TIMESTAMP) - 30,
    )
    query = urlencode(
        {"timestamp": B_TIMESTAMP, "nonce": B_NONCE, "encrypt_type": "aes", "msg_signature": B_MSG_SIGNATURE}
    )
    body = f"<xml><ToUserName>{cdata('gh_test')}</ToUserName><Encrypt>{cdata(B_ENCRYPT)}</Encrypt></xml>"
    resp = await client.post(f"/wechat?{query}", data=body.encode())
    assert resp.status == 200, await resp.text()
    [message] = await pipeline.messages()
    assert (message.text, message.sender_id, message.native_id) == ("test", "messense", "4363689963896700987")
    assert message.metadata["wechat_mode"] == "safe"
