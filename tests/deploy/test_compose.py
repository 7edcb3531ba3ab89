"""docker-compose.yml, checked without containers: the topology, every service's command through the
real CLI parser, every environment variable against the real settings classes, and the names the
services use of each other (hosts, ports, volumes, dependencies)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from aiohttp.test_utils import make_mocked_request
from pydantic_settings import BaseSettings

import connectors
from config.settings import Settings, load_settings
from gateway.runtime.assembly import create_app
from gateway.runtime.cli import build_parser

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
# What an operator must put in .env; everything else has a default in the file.
SECRETS = {"POSTGRES_PASSWORD": "example-db-password", "HOTLINE_SECRET_KEY": "example-secret-key-0123456789"}
GATEWAY_SERVICES = ("migrate", "web", "worker", "smtp", "feed")


def interpolate(value, env: dict[str, str]):
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR:?error}, $$."""

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = env.get(name) or None
        if op == ":?" and current is None:
            raise LookupError(f"{name}: {arg}")
        return current if current is not None else (arg if op == ":-" else "")

    if isinstance(value, str):
        return re.sub(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:[-?])(?P<arg>[^}]*))?\}", one, value)
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    return value


@pytest.fixture(scope="module")
def raw_compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose(raw_compose) -> dict:
    return interpolate(raw_compose, SECRETS)


def settings_classes() -> list[type[BaseSettings]]:
    """The process settings and every connector's (``connectors/<channel>/settings.py``)."""
    found: list[type[BaseSettings]] = [Settings]
    for package in pkgutil.iter_modules(connectors.__path__):
        if not package.ispkg:
            continue
        try:
            module = importlib.import_module(f"connectors.{package.name}.settings")
        except ModuleNotFoundError:
            continue
        found += [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                  if issubclass(cls, BaseSettings) and cls.__module__ == module.__name__]
    return found


def env_names(cls: type[BaseSettings]) -> set[str]:
    return {field.alias or name.upper() for name, field in cls.model_fields.items()}


def test_topology(compose):
    services = compose["services"]
    assert {"postgres", "redis", "rasa", "migrate", "web", "worker", "smtp", "feed"} <= set(services)
    assert "--appendonly" in services["redis"]["command"]
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["worker"]["deploy"]["replicas"] == 2
    assert "replicas" not in services["feed"].get("deploy", {})  # one poller owns the cursor
    for name in ("postgres", "redis", "rasa", "web", "smtp"):
        assert "healthcheck" in services[name], name
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "smtp", "feed"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_the_secrets_are_required(raw_compose):
    for missing in SECRETS:
        with pytest.raises(LookupError, match=missing):
            interpolate(raw_compose, {k: v for k, v in SECRETS.items() if k != missing})


def test_every_hotline_command_is_a_real_subcommand(compose):
    parser = build_parser()
    commands = {name: service["command"] for name, service in compose["services"].items()
                if service.get("command", [None])[0] == "hotline"}
    assert set(commands) == set(GATEWAY_SERVICES)
    assert {command[1] for command in commands.values()} == {"db", "web", "worker", "smtp", "feed"}
    for name, command in commands.items():
        args = parser.parse_args(command[1:])  # exits (fails the test) on an unknown subcommand or option
        assert args.command == command[1], name
        # the handler of that very subcommand (db upgrade → cmd_db_upgrade), not just any callable
        assert args.func.__name__ == "cmd_" + "_".join(command[1:]), name


def test_every_environment_variable_names_a_real_setting(compose):
    known = set().union(*(env_names(cls) for cls in settings_classes()))
    assert {"DATABASE_URL", "WECHAT_TOKEN", "MAILBOX_ADDRESSES", "NATIONAL_FEED_URL"} <= known
    for name in GATEWAY_SERVICES:
        unknown = set(compose["services"][name]["environment"]) - known
        assert not unknown, f"{name}: {sorted(unknown)} is no setting of config.settings or a connector"


def test_each_gateway_service_s_environment_loads_into_the_settings(compose, monkeypatch):
    every_name = set().union(*(env_names(cls) for cls in settings_classes()))
    for name in GATEWAY_SERVICES:
        for variable in every_name:
            monkeypatch.delenv(variable, raising=False)
        for variable, value in compose["services"][name]["environment"].items():
            monkeypatch.setenv(variable, str(value))
        for cls in settings_classes():
            cls()  # raises on a value the gateway would refuse at start-up
        settings = load_settings()
        assert settings.database_url.startswith("postgresql+asyncpg://")
        assert settings.redis_url and settings.rasa_url and settings.secret_key == SECRETS["HOTLINE_SECRET_KEY"]
        assert str(settings.data_dir) in {volume.split(":")[1] for volume in compose["services"][name]["volumes"]}


def test_the_services_find_each_other(compose):
    services = compose["services"]
    env = services["web"]["environment"]
    database, redis, rasa = urlsplit(env["DATABASE_URL"]), urlsplit(env["REDIS_URL"]), urlsplit(env["RASA_URL"])
    assert {database.hostname, redis.hostname, rasa.hostname} <= set(services)
    postgres = services["postgres"]["environment"]
    assert (database.username, database.password, database.path) == (
        postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], "/" + postgres["POSTGRES_DB"])
    rasa_command = services["rasa"]["command"]
    assert rasa_command[rasa_command.index("--port") + 1] == str(rasa.port)
    for name, service in services.items():
        assert set(service.get("depends_on", {})) <= set(services), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith(("/", ".")) or source in compose["volumes"], f"{name}: {volume}"
        assert service.get("image"), name


def test_the_published_ports_are_the_ones_the_processes_listen_on(compose, monkeypatch):
    from connectors.email.settings import EmailSettings

    web_port = str(Settings().http_port)
    assert compose["services"]["web"]["expose"] == [web_port]
    assert f"localhost:{web_port}/healthz" in " ".join(compose["services"]["web"]["healthcheck"]["test"])
    smtp = compose["services"]["smtp"]
    for variable, value in smtp["environment"].items():
        monkeypatch.setenv(variable, str(value))
    smtp_port = EmailSettings().smtp_port
    assert [port.split(":")[1] for port in smtp["ports"]] == [str(smtp_port)]
    assert f"'localhost', {smtp_port}" in " ".join(smtp["healthcheck"]["test"])


async def test_the_web_healthcheck_path_is_a_route_of_the_app(tmp_path):
    settings = load_settings(HOTLINE_DATA_DIR=str(tmp_path), DATABASE_URL=None, REDIS_URL=None, RASA_URL=None)
    app = create_app(settings, redis_url="redis://127.0.0.1:1/0")  # built, never started: no server needed
    match = await app.router.resolve(make_mocked_request("GET", "/healthz", app=app))
    assert match.http_exception is None
