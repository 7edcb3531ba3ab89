import pytest

from config.settings import SettingsError, load_settings


def test_defaults_are_the_embedded_mode(monkeypatch, tmp_path):
    for var in ("DATABASE_URL", "REDIS_URL", "RASA_URL", "HOTLINE_HTTP_PORT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    s = load_settings()
    assert s.redis_url is None and s.rasa_url is None and s.http_port == 8080
    assert s.effective_database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/hotline.sqlite3"


@pytest.mark.parametrize("var,value", [
    ("HOTLINE_HTTP_PORT", "eighty"),
    ("HOTLINE_HTTP_PORT", "70000"),
    ("DATABASE_URL", "mysql://x"),
    ("DATABASE_READ_URL", "mysql://replica"),
    ("REDIS_URL", "http://localhost"),
    ("RASA_URL", "localhost:5005"),
    ("HOTLINE_SECRET_KEY", "short"),
])
def test_bad_value_names_the_variable(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError, match=var):
        load_settings()


def test_postgres_url_gets_the_async_driver(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
    assert load_settings().effective_database_url == "postgresql+asyncpg://postgres@127.0.0.1/test"


def test_analytics_read_the_replica_when_one_is_configured(monkeypatch, tmp_path):
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql://hotline@primary/hotline")
    monkeypatch.delenv("DATABASE_READ_URL", raising=False)
    assert load_settings().effective_read_database_url == "postgresql+asyncpg://hotline@primary/hotline"
    monkeypatch.setenv("DATABASE_READ_URL", "postgres://reader@replica/hotline")
    settings = load_settings()
    assert settings.effective_read_database_url == "postgresql+asyncpg://reader@replica/hotline"
    assert settings.effective_database_url == "postgresql+asyncpg://hotline@primary/hotline"  # writes stay


def test_cli_refuses_to_start_on_a_bad_setting(monkeypatch, capsys):
    from gateway.runtime.cli import main

    monkeypatch.setenv("HOTLINE_HTTP_PORT", "nope")
    with pytest.raises(SystemExit) as exc:
        main(["check"])
    assert exc.value.code == 2
    assert "HOTLINE_HTTP_PORT" in capsys.readouterr().err


def test_proxy_and_metrics_networks_are_parsed_and_checked(monkeypatch):
    monkeypatch.setenv("HOTLINE_TRUSTED_PROXIES", "10.1.2.3, 192.168.0.0/24")
    settings = load_settings()
    assert [str(n) for n in settings.trusted_proxy_networks] == ["10.1.2.3/32", "192.168.0.0/24"]
    assert [str(n) for n in settings.metrics_networks] == ["127.0.0.1/32", "::1/128"]
    monkeypatch.setenv("HOTLINE_METRICS_ALLOW", "localhost")
    with pytest.raises(SettingsError, match="HOTLINE_METRICS_ALLOW"):
        load_settings()
