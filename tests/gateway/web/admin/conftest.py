"""NLU administration test helpers: the console's agents, and a gateway that owns a real Rasa server."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

import pytest

from gateway.web.admin.state import RASA_MANAGED
from tests.gateway.web.console.conftest import PASSWORD, Agent, console, console_settings  # noqa: F401  (fixtures re-exported)


async def admin_agent(console_fixture, username: str = "root", role: str = "admin") -> Agent:
    _, agent, _ = console_fixture
    return await agent(username, role=role)


async def wait_job(agent: Agent, job_id: int, timeout: float = 600.0, seen: list | None = None) -> dict:
    """Poll a training job until it ends; `seen` collects the progress values observed."""
    deadline = time.monotonic() + timeout
    while True:
        resp = await agent.get(f"/api/v1/admin/nlu/jobs/{job_id}")
        job = await resp.json()
        if seen is not None:
            seen.append(job["progress"])
        if job["status"] != "running":
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"training job {job_id} still running after {timeout} s: {job['phase']}")
        await asyncio.sleep(0.5)


@pytest.fixture
def base_model():
    """The model of the repository's data (trained once, cached by data hash)."""
    from nlu import training

    if not Path(training.rasa_bin()).exists():
        pytest.skip(f"Rasa is not installed at {training.rasa_bin()}")
    return training.ensure_model(progress=True)


@pytest.fixture
async def managed_gateway(stack, aiohttp_client, base_model):
    """A gateway in embedded mode: it started its own Rasa server (like the launcher does)."""
    from gateway.runtime.assembly import create_app
    from gateway.web.admin import ManagedRasa
    from nlu.server import RasaProcess

    log = Path(tempfile.gettempdir()) / f"hotline-test-nlu-admin-{os.getpid()}.log"
    server = RasaProcess(base_model, log_path=log).start()
    try:
        await server.wait_ready(timeout=300)
        settings = stack.settings(RASA_URL=server.url, HOTLINE_NLU_ENABLED=True)
        app = create_app(settings, redis_url=stack.redis_url, run_worker=False)
        app[RASA_MANAGED] = ManagedRasa(url=server.url, model_path=base_model, process=server.process)
        client = await aiohttp_client(app)
        yield client
    finally:
        await asyncio.to_thread(server.stop)
