"""Environment settings of the mailbox: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

import pytest

from config.settings import SettingsError
from connectors.email.settings import load_email_settings, parse_relay_url

ENV_VARS = (
    "HOTLINE_SMTP_PORT", "HOTLINE_SMTP_HOST", "MAILBOX_ADDRESSES", "SMTP_RELAY_URL", "HOTLINE_SMTP_MAX_BYTES",
    "SMTP_TLS_CERT", "SMTP_TLS_KEY", "SMTP_AUTOREPLY_PER_HOUR", "HOTLINE_SMTP_HOSTNAME", "SMTP_AUTOREPLY_WAIT",
    "HOTLINE_SMTP_MAX_SESSIONS", "HOTLINE_SMTP_MAX_SESSIONS_PER_CLIENT", "HOTLINE_SMTP_COMMAND_TIMEOUT",
    "HOTLINE_SMTP_TIMEOUT",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def test_defaults():
    s = load_email_settings()
    assert (s.smtp_host, s.smtp_port) == ("127.0.0.1", 2525)
    assert s.mailbox_addresses == ("mayor@12345.pds.gov.cn",)
    assert s.relay is None
    assert s.max_bytes == 20 * 1024 * 1024
    assert s.autoreply_per_hour == 5
    assert s.server_hostname == "12345.pds.gov.cn"
    assert s.tls_context() is None


def test_environment_is_read(monkeypatch):
    monkeypatch.setenv("HOTLINE_SMTP_PORT", "2626")
    monkeypatch.setenv("MAILBOX_ADDRESSES", " Mayor@12345.pds.gov.cn, 12345@PDS.gov.cn ,mayor@12345.pds.gov.cn")
    monkeypatch.setenv("SMTP_RELAY_URL", "smtp+starttls://user%40pds:p%3Ass@relay.pds.gov.cn")
    monkeypatch.setenv("SMTP_AUTOREPLY_PER_HOUR", "0")
    s = load_email_settings()
    assert s.smtp_port == 2626
    assert s.mailbox_addresses == ("mayor@12345.pds.gov.cn", "12345@pds.gov.cn")
    relay = s.relay
    assert (relay.host, relay.port, relay.security) == ("relay.pds.gov.cn", 587, "starttls")
    assert (relay.username, relay.password) == ("user@pds", "p:ss")
    assert "p:ss" not in repr(relay)
    assert s.autoreply_per_hour == 0


def test_relay_url_forms():
    assert parse_relay_url("smtp://mx.local").port == 25
    assert parse_relay_url("smtps://mx.local").security == "ssl"
    r = parse_relay_url("smtp://mx.local:2526?verify=no&timeout=5")
    assert (r.port, r.verify_tls, r.timeout) == (2526, False, 5.0)


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("HOTLINE_SMTP_PORT", "70000"),
        ("HOTLINE_SMTP_PORT", "smtp"),
        ("MAILBOX_ADDRESSES", "not-an-address"),
        ("MAILBOX_ADDRESSES", " , "),
        ("SMTP_RELAY_URL", "http://relay"),
        ("SMTP_RELAY_URL", "smtp://"),
        ("SMTP_RELAY_URL", "smtp://relay:99999"),
        ("HOTLINE_SMTP_MAX_BYTES", "-1"),
        ("SMTP_AUTOREPLY_PER_HOUR", "many"),
        ("SMTP_TLS_CERT", "/no/such/cert.pem"),
        ("HOTLINE_SMTP_HOSTNAME", "bad host"),
    ],
)
def test_invalid_values_name_the_variable(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError, match=var):
        load_email_settings()


def test_certificate_needs_its_key(monkeypatch, tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    monkeypatch.setenv("SMTP_TLS_CERT", str(cert))
    with pytest.raises(SettingsError, match="SMTP_TLS_KEY"):
        load_email_settings()
    key = tmp_path / "key.pem"
    key.write_text("y")
    monkeypatch.setenv("SMTP_TLS_KEY", str(key))
    s = load_email_settings()  # both present: validated, but not a usable pair
    with pytest.raises(SettingsError, match="SMTP_TLS_CERT"):
        s.tls_context()


def test_connection_limits_and_timeouts(monkeypatch):
    s = load_email_settings()
    assert (s.max_sessions, s.max_sessions_per_client, s.command_timeout, s.session_timeout) == (100, 20, 30.0, 300.0)
    monkeypatch.setenv("HOTLINE_SMTP_MAX_SESSIONS_PER_CLIENT", "3")
    monkeypatch.setenv("HOTLINE_SMTP_COMMAND_TIMEOUT", "12.5")
    s = load_email_settings()
    assert (s.max_sessions_per_client, s.command_timeout) == (3, 12.5)
    monkeypatch.setenv("HOTLINE_SMTP_MAX_SESSIONS_PER_CLIENT", "0")
    with pytest.raises(SettingsError, match="HOTLINE_SMTP_MAX_SESSIONS_PER_CLIENT"):
        load_email_settings()
