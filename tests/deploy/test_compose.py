"""docker-compose.yml parses, and every service's command is a real `hotline` subcommand."""

from pathlib import Path

import pytest
import yaml

from gateway.runtime.cli import build_parser

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_topology(compose):
    services = compose["services"]
    assert {"postgres", "redis", "rasa", "web", "worker", "smtp", "feed"} <= set(services)
    assert "--appendonly" in services["redis"]["command"]
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["worker"]["deploy"]["replicas"] == 2
    assert "replicas" not in services["feed"].get("deploy", {})  # one poller owns the cursor
    for name in ("postgres", "redis", "rasa", "web", "smtp"):
        assert "healthcheck" in services[name], name
    assert compose["volumes"]


def test_every_hotline_command_exists_in_the_cli(compose):
    parser = build_parser()
    commands = [s["command"] for s in compose["services"].values() if s.get("command", [None])[0] == "hotline"]
    assert {c[1] for c in commands} >= {"db", "web", "worker", "smtp", "feed"}
    for command in commands:
        args = parser.parse_args(command[1:])  # exits (fails the test) on an unknown subcommand
        assert callable(args.func)
