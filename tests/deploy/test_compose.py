"""docker-compose.yml, checked without containers: the topology, every service's command through the
real CLI parser, every environment variable against the real settings classes, and the names the
services use of each other (hosts, ports, volumes, dependencies)."""

from __future__ import annotations

import importlib
import inspect
import ipaddress
import json
import pkgutil
import re
import shutil
import subprocess
import sys
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
    assert {"proxy", "postgres", "redis", "rasa", "migrate", "web", "worker", "smtp", "feed"} <= set(services)
    assert "--appendonly" in services["redis"]["command"]
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["worker"]["deploy"]["replicas"] == 2
    assert "replicas" not in services["feed"].get("deploy", {})  # one poller owns the cursor
    for name, service in services.items():  # every long-running service; the one-shot migrate none
        assert service["healthcheck"] == {"disable": True} if name == "migrate" else service["healthcheck"]["test"], name
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "smtp", "feed"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_the_images_are_built_here(compose):
    root = COMPOSE.parent
    built = {name: service["build"] for name, service in compose["services"].items() if "build" in service}
    assert set(built) == {"rasa", *GATEWAY_SERVICES}
    for name, build in built.items():
        assert (root / build["context"] / build["dockerfile"]).is_file(), name
    assert compose["services"]["rasa"]["command"][0] == "rasa"


def test_only_the_proxy_is_trusted_and_only_the_proxy_reaches_the_replicas(compose, raw_compose):
    services, networks = compose["services"], compose["networks"]
    proxy_address = ipaddress.ip_address(services["proxy"]["networks"]["edge"]["ipv4_address"])
    assert proxy_address in ipaddress.ip_network(networks["edge"]["ipam"]["config"][0]["subnet"])
    on_edge = {name for name, service in services.items() if "edge" in service.get("networks", ())}
    assert on_edge == {"proxy", "web"}
    web = load_settings(**compose["services"]["web"]["environment"])
    assert set(web.trusted_proxy_networks) == {ipaddress.ip_network(f"{proxy_address}/32")}
    # The city's HTTPS entrance in front of nginx joins the trusted hops when the operator names it.
    entrance = interpolate(raw_compose, {**SECRETS, "HOTLINE_UPSTREAM_PROXIES": "192.0.2.0/28"})
    assert set(load_settings(**entrance["services"]["web"]["environment"]).trusted_proxy_networks) == {
        ipaddress.ip_network(f"{proxy_address}/32"), ipaddress.ip_network("192.0.2.0/28")}
    assert "ports" not in services["web"]  # reached through the proxy only
    assert [port.split(":")[-1] for port in services["proxy"]["ports"]] == ["8080"]
    conf = (COMPOSE.parent / "deploy" / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    assert "listen 8080;" in conf and f"http://web:{Settings().http_port};" in conf
    assert "./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in services["proxy"]["volumes"]
    for name in GATEWAY_SERVICES:  # nobody else is told to trust a proxy
        if name != "web":
            assert "HOTLINE_TRUSTED_PROXIES" not in services[name]["environment"], name


def test_the_env_example_names_every_variable_the_file_reads():
    example = {line.split("=", 1)[0] for line in (COMPOSE.parent / ".env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    read = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text(encoding="utf-8")))
    assert read == example


def env_file(tmp_path: Path) -> Path:
    path = tmp_path / "compose.env"
    path.write_text("".join(f"{name}={value}\n" for name, value in SECRETS.items()))
    return path


def test_debian_s_docker_compose_renders_the_file_as_this_test_reads_it(compose, tmp_path):
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (Debian: apt-get install docker-compose)")
    done = subprocess.run([binary, "--env-file", str(env_file(tmp_path)), "-f", str(COMPOSE), "config"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rendered = yaml.safe_load(done.stdout)["services"]
    assert set(rendered) == set(compose["services"])
    for name, service in compose["services"].items():  # the same values after the tool's own substitution
        assert {k: str(v) for k, v in rendered[name].get("environment", {}).items()} == {
            k: str(v) for k, v in service.get("environment", {}).items()}, name
        assert rendered[name].get("command") == service.get("command"), name


def test_the_file_matches_the_compose_specification(compose, tmp_path):
    rendered = tmp_path / "docker-compose.json"
    rendered.write_text(json.dumps(compose))
    for document in (COMPOSE, rendered):  # as written, and with the variables filled in
        done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                               str(document)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


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
