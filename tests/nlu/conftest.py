"""Fixtures of the NLU tests: one real Rasa server for the whole session.

`rasa_url` makes sure a model for the current training data exists (cached by data hash under
~/.cache/hotline-nlu/models or $HOTLINE_NLU_MODEL_DIR, so only the first run after a data change
trains), starts `rasa run --enable-api` on a free port, waits until the model is loaded, and stops
the server at the end of the session. Set HOTLINE_TEST_RASA_URL to test against a server that is
already running instead.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest

from nlu import training
from nlu.client import NluClient
from nlu.server import RasaProcess


@pytest.fixture(scope="session")
def rasa_url():
    external = os.environ.get("HOTLINE_TEST_RASA_URL")
    if external:
        yield external.rstrip("/")
        return
    if not Path(training.rasa_bin()).exists():
        pytest.skip(f"Rasa is not installed at {training.rasa_bin()} (make creates .venv-rasa)")
    model = training.ensure_model(progress=True)
    log = Path(tempfile.gettempdir()) / f"hotline-test-rasa-{os.getpid()}.log"
    server = RasaProcess(model, log_path=log).start()
    try:
        asyncio.run(server.wait_ready(timeout=240))
    except Exception:
        server.stop()
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        pytest.fail(f"Rasa did not start with {model}:\n{tail}")
    yield server.url
    server.stop()


@pytest.fixture
async def nlu(rasa_url):
    client = NluClient(rasa_url, timeout=10.0)
    yield client
    await client.close()
