"""The web chat API is tested through the whole gateway: its fixtures build one per test."""

from tests.gateway.conftest import client, make_client  # noqa: F401 - fixtures
