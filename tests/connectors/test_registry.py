"""The registry and the contract every channel folder keeps."""

from pathlib import Path

import pytest

import connectors
from connectors.base import CHANNELS, Channel
from connectors.email.channel import EmailChannel
from connectors.national_feed.channel import NationalFeedChannel
from connectors.registry import CHANNEL_CLASSES
from connectors.web.channel import WebChannel
from connectors.wechat.channel import WeChatChannel
from tests.connectors.contexts import Recorder

# The files every channel folder has, so a reader finds the same things in the same places.
SAME_IN_EVERY_FOLDER = {"__init__.py", "channel.py", "settings.py", "inbound.py", "outbound.py", "texts.py"}
ROOT = Path(connectors.__file__).parent


def test_the_registry_names_each_channel_once():
    assert all(issubclass(cls, Channel) for cls in CHANNEL_CLASSES)
    names = [cls.name for cls in CHANNEL_CLASSES]
    assert len(set(names)) == len(names) and set(names) <= set(CHANNELS)
    assert {cls.service for cls in CHANNEL_CLASSES} == {None, "smtp", "feed"}


@pytest.mark.parametrize("cls", CHANNEL_CLASSES, ids=lambda cls: cls.name)
def test_every_channel_folder_has_the_same_file_names(cls):
    module = cls.__module__
    assert module.startswith("connectors.") and module.endswith(".channel")
    folder = ROOT / module.split(".")[1]
    assert SAME_IN_EVERY_FOLDER <= {p.name for p in folder.glob("*.py")}


@pytest.fixture
def context(tmp_path):
    return Recorder().context(tmp_path)


def test_channels_whose_settings_are_unset_stay_off(context, monkeypatch):
    for var in ("WECHAT_TOKEN", "NATIONAL_FEED_URL"):
        monkeypatch.delenv(var, raising=False)
    assert WeChatChannel.from_settings(context) is None
    assert NationalFeedChannel.from_settings(context) is None
    # The web chat and the mailbox's reply side need nothing beyond their defaults.
    assert isinstance(WebChannel.from_settings(context), WebChannel)
    assert isinstance(EmailChannel.from_settings(context), EmailChannel)


async def test_a_channel_turned_on_brings_routes_output_and_the_prefix_it_was_given(context, monkeypatch):
    monkeypatch.setenv("WECHAT_TOKEN", "hotline12345")
    monkeypatch.setenv("NATIONAL_FEED_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NATIONAL_FEED_APP_KEY", "pds-12345")
    monkeypatch.setenv("NATIONAL_FEED_APP_SECRET", "simulator-secret-0123456789")
    wechat = WeChatChannel.from_settings(context)
    feed = NationalFeedChannel.from_settings(context)
    try:
        assert {(r.method, r.path) for r in wechat.routes()} == {("GET", "/wechat"), ("POST", "/wechat")}
        assert wechat.output().name == "wechat" and wechat.connector.state.prefix == "test:conn:wechat"
        assert feed.routes() == () and feed.output().name == "national_platform"
        assert feed.poller.prefix == "test:conn:national_feed"  # the feed's keys keep their old namespace
    finally:
        await wechat.aclose()
        await feed.aclose()


def test_a_channel_without_a_service_says_so(context):
    web_channel = WebChannel.from_settings(context)
    assert web_channel.service is None and web_channel.output() is None
    with pytest.raises(NotImplementedError):
        web_channel.serving()
