"""NATIONAL_FEED_* settings: defaults, and an error naming the variable for bad values."""

from __future__ import annotations

import pytest

from config.settings import SettingsError
from connectors.national_feed.settings import load_national_feed_settings

VARS = ("NATIONAL_FEED_URL", "NATIONAL_FEED_APP_KEY", "NATIONAL_FEED_APP_SECRET", "NATIONAL_FEED_POLL_SECONDS",
        "NATIONAL_FEED_PAGE_SIZE", "NATIONAL_FEED_HANDLER_UNIT", "NATIONAL_FEED_TIMEOUT")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in VARS:
        monkeypatch.delenv(var, raising=False)


def test_unset_url_disables_the_feed():
    s = load_national_feed_settings()
    assert not s.enabled
    assert s.poll_seconds == 30 and s.page_size == 50


def test_environment_is_read(monkeypatch):
    monkeypatch.setenv("NATIONAL_FEED_URL", "https://platform.example.cn/gw/")
    monkeypatch.setenv("NATIONAL_FEED_APP_KEY", "pds12345")
    monkeypatch.setenv("NATIONAL_FEED_APP_SECRET", "0123456789abcdef0123")
    monkeypatch.setenv("NATIONAL_FEED_POLL_SECONDS", "10")
    monkeypatch.setenv("NATIONAL_FEED_PAGE_SIZE", "100")
    s = load_national_feed_settings()
    assert s.enabled
    assert s.url == "https://platform.example.cn/gw"  # no trailing slash: paths are appended
    assert s.app_secret.get_secret_value() == "0123456789abcdef0123"
    assert "0123456789abcdef0123" not in repr(s)
    assert (s.poll_seconds, s.page_size) == (10, 100)


def test_blank_url_is_disabled(monkeypatch):
    monkeypatch.setenv("NATIONAL_FEED_URL", "  ")
    assert not load_national_feed_settings().enabled


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"NATIONAL_FEED_URL": "ftp://platform.example.cn"}, "NATIONAL_FEED_URL"),
        ({"NATIONAL_FEED_URL": "https://"}, "NATIONAL_FEED_URL"),
        ({"NATIONAL_FEED_URL": "https://p.example.cn", "NATIONAL_FEED_APP_SECRET": "0123456789abcdef"},
         "NATIONAL_FEED_APP_KEY"),
        ({"NATIONAL_FEED_URL": "https://p.example.cn", "NATIONAL_FEED_APP_KEY": "k"}, "NATIONAL_FEED_APP_SECRET"),
        ({"NATIONAL_FEED_APP_SECRET": "short"}, "NATIONAL_FEED_APP_SECRET"),
        ({"NATIONAL_FEED_APP_KEY": "has space"}, "NATIONAL_FEED_APP_KEY"),
        ({"NATIONAL_FEED_POLL_SECONDS": "abc"}, "NATIONAL_FEED_POLL_SECONDS"),
        ({"NATIONAL_FEED_POLL_SECONDS": "0"}, "NATIONAL_FEED_POLL_SECONDS"),
        ({"NATIONAL_FEED_PAGE_SIZE": "0"}, "NATIONAL_FEED_PAGE_SIZE"),
        ({"NATIONAL_FEED_PAGE_SIZE": "500"}, "NATIONAL_FEED_PAGE_SIZE"),
        ({"NATIONAL_FEED_PAGE_SIZE": "ten"}, "NATIONAL_FEED_PAGE_SIZE"),
    ],
)
def test_invalid_values_name_the_variable(monkeypatch, env, variable):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SettingsError) as err:
        load_national_feed_settings()
    assert variable in str(err.value)
