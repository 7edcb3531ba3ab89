"""Fixtures of the national feed tests: the simulator over real HTTP, a client signed for it,
a real Redis under a unique prefix, and a durable publish (XADD to a real stream).

Redis is the server on 127.0.0.1:6379 (``TEST_REDIS_URL``); every key of a test starts with
its own prefix and is deleted afterwards.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from config.directory import Directory, load_directory
from connectors.base import InboundMessage, IntakeUnavailable
from connectors.national_feed.client import NationalPlatformClient
from connectors.national_feed.poller import FeedPoller
from connectors.national_feed.simulator import SIMULATOR, SimulatorState, create_simulator_app

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
APP_KEY = "pds-test-app"
APP_SECRET = "test-secret-0123456789abcdef"


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_item(n: int, **overrides) -> dict:
    item = {
        "id": f"GJ20240506{n:06d}",
        "title": f"测试事项{n}",
        "content": f"第{n}号诉求：小区路灯不亮，晚上出行不便，请尽快维修。",
        "citizen_name": "王女士",
        "citizen_id": f"U{n:08d}",
        "phone": "13903750000",
        "division_code": "410402",
        "division_name": "新华区",
        "type": "投诉",
        "submitted_at": "2024-05-06 09:30:00",
        "deadline": "2024-05-21 23:59:59",
    }
    item.update(overrides)
    return item


@pytest.fixture(scope="session")
def directory() -> Directory:
    return load_directory()


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    # decode_responses=False, like the gateway's own client (gateway/infra/redis_client.py).
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except RedisError:
        await client.aclose()
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis_client) -> AsyncIterator[str]:
    base = f"tnf{uuid.uuid4().hex[:12]}"
    yield base
    keys = [k async for k in redis_client.scan_iter(match=f"{base}:*", count=500)]
    if keys:
        await redis_client.delete(*keys)


@dataclass
class Sim:
    url: str
    state: SimulatorState


@pytest.fixture
async def sim(aiohttp_server) -> Sim:
    app = create_simulator_app(APP_KEY, APP_SECRET, [])
    server = await aiohttp_server(app)
    return Sim(str(server.make_url("")).rstrip("/"), app[SIMULATOR])


@pytest.fixture
async def make_client(sim, directory):
    made: list[NationalPlatformClient] = []

    def factory(*, url: str | None = None, app_key: str = APP_KEY, app_secret: str = APP_SECRET,
                **kw) -> NationalPlatformClient:
        # Tiny backoff: the retry logic is what is tested, not the waiting.
        kw.setdefault("backoff_base", 0.01)
        kw.setdefault("backoff_max", 0.05)
        kw.setdefault("timeout", 5.0)
        c = NationalPlatformClient(url or sim.url, app_key, app_secret, directory=directory, **kw)
        made.append(c)
        return c

    yield factory
    for c in made:
        await c.close()


@pytest.fixture
async def client(make_client) -> NationalPlatformClient:
    return make_client()


class StreamPublish:
    """The durable publish: XADD the message JSON to a real Redis stream.

    ``fail_after(n)`` lets n more messages through, then sends the rest to a Redis port
    nothing listens on, so the failure is a real connection error turned into
    :class:`IntakeUnavailable`, as the gateway's own publish does."""

    def __init__(self, redis: aioredis.Redis, stream: str) -> None:
        self.redis = redis
        self.stream = stream
        # No client-side retries: the refusal should be immediate, as the test only needs it real.
        self._dead = aioredis.Redis(host="127.0.0.1", port=closed_port(), socket_connect_timeout=1,
                                    retry=Retry(NoBackoff(), 0))
        self._left: int | None = None

    def fail_after(self, n: int) -> None:
        self._left = n

    def recover(self) -> None:
        self._left = None

    async def __call__(self, message: InboundMessage) -> str:
        target = self.redis
        if self._left is not None:
            if self._left <= 0:
                target = self._dead
            else:
                self._left -= 1
        try:
            entry_id = await target.xadd(self.stream, {"msg": message.to_json()})
        except RedisError as exc:
            raise IntakeUnavailable(f"intake stream: {exc}") from exc
        return entry_id.decode() if isinstance(entry_id, bytes) else entry_id

    async def messages(self) -> list[InboundMessage]:
        rows = await self.redis.xrange(self.stream)
        return [InboundMessage.from_json(fields[b"msg"]) for _, fields in rows]

    async def close(self) -> None:
        await self._dead.aclose()


@pytest.fixture
async def publish(redis_client, prefix) -> AsyncIterator[StreamPublish]:
    p = StreamPublish(redis_client, f"{prefix}:intake")
    yield p
    await p.close()


@pytest.fixture
def make_poller(client, publish, redis_client, prefix):
    def factory(c: NationalPlatformClient | None = None, **kw) -> FeedPoller:
        kw.setdefault("poll_seconds", 0.05)
        kw.setdefault("page_size", 3)
        return FeedPoller(c or client, publish, redis_client, f"{prefix}:conn:national_feed", **kw)

    return factory


@pytest.fixture
def poller(make_poller) -> FeedPoller:
    return make_poller()
