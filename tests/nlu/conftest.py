"""Fixtures of the NLU tests; the session's real Rasa server (`rasa_url`) is in tests/conftest.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from nlu import training
from nlu.client import NluClient

RASA_PYTHON = Path(training.rasa_bin()).parent / "python"
needs_rasa_python = pytest.mark.skipif(not RASA_PYTHON.exists(), reason="Rasa's virtualenv (.venv-rasa) is not installed")


def run_in_rasa(script: str, argument: object) -> dict:
    """Run a script inside Rasa's own environment (from the repository root) with one JSON argument;
    its last line of output is JSON."""
    done = subprocess.run([str(RASA_PYTHON), "-c", script, json.dumps(argument, ensure_ascii=False)],
                          cwd=training.REPO_ROOT, env=training.rasa_env(), capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
async def nlu(rasa_url):
    client = NluClient(rasa_url, timeout=10.0)
    yield client
    await client.close()
