import asyncio
import time

import pytest

from gateway.runtime.assembly import create_app


@pytest.fixture
def make_client(stack, aiohttp_client):
    """Build a gateway app on the test's stack (worker included unless told otherwise)."""

    async def make(*, run_worker: bool = True, redis_url: str | None = None, services=(), **overrides):
        settings = stack.settings(**overrides)
        app = create_app(settings, redis_url=redis_url or stack.redis_url, run_worker=run_worker,
                         services=services)
        return await aiohttp_client(app)

    return make


@pytest.fixture
async def client(make_client):
    return await make_client()


async def eventually(check, timeout: float = 10.0, interval: float = 0.05):
    """Poll an async check until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {result!r})")
        await asyncio.sleep(interval)
