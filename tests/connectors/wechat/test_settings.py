"""Settings validation and the XML/signature helpers."""

from __future__ import annotations

import pytest
import xmltodict
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.wechat.security import CallbackRejected, check_timestamp, parse_xml, render_text_reply
from connectors.wechat.settings import WeChatSettingsError, load_wechat_settings

KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("WECHAT_"):
            monkeypatch.delenv(name)


def test_defaults_and_plaintext_mode() -> None:
    s = load_wechat_settings(WECHAT_TOKEN="abc123")
    assert s.enabled and not s.encrypted and not s.outbound_enabled
    assert s.api_base_url == "https://api.weixin.qq.com/cgi-bin/"
    assert (s.timestamp_window, s.reply_budget, s.answer_within, s.max_body_bytes) == (300, 0.5, 3.5, 64 * 1024)


def test_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("WECHAT_TOKEN", "envtoken")
    monkeypatch.setenv("WECHAT_ENCODING_AES_KEY", KEY)
    monkeypatch.setenv("WECHAT_APP_ID", "wx2c2769f8efd9abc2")
    monkeypatch.setenv("WECHAT_APP_SECRET", "s3cret")
    monkeypatch.setenv("WECHAT_API_BASE_URL", "http://127.0.0.1:9999/cgi-bin")
    monkeypatch.setenv("WECHAT_REPLY_BUDGET", "3.5")
    s = load_wechat_settings()
    assert s.encrypted and s.outbound_enabled
    assert s.api_base_url == "http://127.0.0.1:9999/cgi-bin/"
    assert s.reply_budget == 3.5
    assert "s3cret" not in repr(s)


def test_blank_aes_key_means_plaintext() -> None:
    assert not load_wechat_settings(WECHAT_TOKEN="abc123", WECHAT_ENCODING_AES_KEY="").encrypted


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"WECHAT_TOKEN": "a b"}, "WECHAT_TOKEN"),
        ({"WECHAT_ENCODING_AES_KEY": "short", "WECHAT_APP_ID": "wx2c2769f8efd9abc2"}, "WECHAT_ENCODING_AES_KEY"),
        ({"WECHAT_ENCODING_AES_KEY": KEY}, "WECHAT_APP_ID"),
        ({"WECHAT_APP_ID": "not-an-app-id"}, "WECHAT_APP_ID"),
        ({"WECHAT_API_BASE_URL": "ftp://x/"}, "WECHAT_API_BASE_URL"),
        ({"WECHAT_TIMESTAMP_WINDOW": "0"}, "WECHAT_TIMESTAMP_WINDOW"),
        ({"WECHAT_REPLY_BUDGET": "5"}, "WECHAT_REPLY_BUDGET"),
        ({"WECHAT_REPLY_BUDGET": "soon"}, "WECHAT_REPLY_BUDGET"),
        ({"WECHAT_MAX_BODY_BYTES": "10"}, "WECHAT_MAX_BODY_BYTES"),
    ],
)
def test_invalid_values_name_the_variable(env, variable) -> None:
    with pytest.raises(WeChatSettingsError) as info:
        load_wechat_settings(**{"WECHAT_TOKEN": "abc123", **env})
    assert str(info.value).startswith(f"invalid setting {variable}:")


def test_setup_refuses_without_token(aiohttp_client) -> None:
    from aiohttp import web

    from connectors.storage import AttachmentStore
    from connectors.wechat import setup_wechat

    async def nothing(*_a):  # pragma: no cover - never called
        return None

    with pytest.raises(WeChatSettingsError, match="WECHAT_TOKEN"):
        setup_wechat(
            web.Application(),
            load_wechat_settings(),
            publish=nothing,
            wait_reply=nothing,
            attachments=AttachmentStore("/tmp"),
            redis=None,
            key_prefix="x",
        )


def test_timestamp_window_edges() -> None:
    check_timestamp("1000", 300, now=1300)
    check_timestamp("1600", 300, now=1300)
    for bad in ("999", "1601", "", "12a", "-5", "1" * 13):
        with pytest.raises(CallbackRejected):
            check_timestamp(bad, 300, now=1300)


@settings(deadline=None)  # timing varies on a shared CI machine
@given(st.text())
def test_any_reply_text_survives_the_xml(text: str) -> None:
    xml = render_text_reply("oUser", "gh_account", text)
    parsed = parse_xml(xml)
    assert parsed["MsgType"] == "text"
    assert parsed["ToUserName"] == "oUser"
    expected = "".join(
        ch for ch in text if not ("\x00" <= ch <= "\x08" or ch in "\x0b\x0c\ufffe\uffff" or "\x0e" <= ch <= "\x1f")
    )
    # Read like a client that keeps whitespace; expat normalises line ends.
    content = xmltodict.parse(xml, strip_whitespace=False)["xml"]["Content"] or ""
    assert content == expected.replace("\r\n", "\n").replace("\r", "\n")
    assert set(xmltodict.parse(xml)["xml"]) == {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Content"}


def test_parse_xml_refuses_doctype_even_without_entities() -> None:
    with pytest.raises(CallbackRejected):
        parse_xml('<!DOCTYPE xml SYSTEM "http://evil/x.dtd"><xml><A>1</A></xml>')
