"""Fixtures of the NLU tests; the session's real Rasa server (`rasa_url`) is in tests/conftest.py."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from nlu import training
from nlu.client import NluClient
from nlu.servers import BATCH_PATH

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


class Relay:
    """A real HTTP hop in front of the session's Rasa that counts requests by route and parses by
    text; ``batches=False`` answers the batch route 404, as a Rasa started without
    nlu/credentials.yml does."""

    def __init__(self, target: str, *, batches: bool = True) -> None:
        self.target = target
        self.batches = batches
        self.requests: Counter[str] = Counter()  # by route: "single", "batch"
        self.parses: Counter[str] = Counter()  # by text, whichever route

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/model/parse", self.parse)
        app.router.add_post(BATCH_PATH, self.batch)
        app.router.add_get("/status", self.status)
        return app

    async def parse(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests["single"] += 1
        self.parses[body["text"]] += 1
        return await self._forward("POST", "/model/parse", body)

    async def batch(self, request: web.Request) -> web.Response:
        if not self.batches:
            return web.json_response({"status": "failure", "code": 404}, status=404)
        body = await request.json()
        self.requests["batch"] += 1
        self.parses.update(body["texts"])
        return await self._forward("POST", BATCH_PATH, body)

    async def status(self, request: web.Request) -> web.Response:
        return await self._forward("GET", "/status", None)

    async def _forward(self, method: str, path: str, body: dict | None) -> web.Response:
        async with aiohttp.ClientSession() as http, http.request(method, self.target + path, json=body) as resp:
            return web.Response(status=resp.status, body=await resp.read(), content_type="application/json")


@pytest.fixture
def relay(rasa_url, aiohttp_server):
    async def start(**options: bool) -> tuple[Relay, str]:
        relay = Relay(rasa_url, **options)
        server = await aiohttp_server(relay.app())
        return relay, str(server.make_url("")).rstrip("/")

    return start
