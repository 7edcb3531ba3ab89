"""Fixtures of the NLU tests; the session's real Rasa server (`rasa_url`) is in tests/conftest.py."""

from __future__ import annotations

import pytest

from nlu.client import NluClient


@pytest.fixture
async def nlu(rasa_url):
    client = NluClient(rasa_url, timeout=10.0)
    yield client
    await client.close()
