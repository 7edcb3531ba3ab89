"""Fixtures of the WeChat connector tests.

The connector runs against a real Redis (127.0.0.1:6379, one key prefix per test, all
keys deleted afterwards), a real AttachmentStore in a temporary directory, the API
simulator on a loopback port, and a stand-in for the gateway's pipeline: ``publish``
XADDs the message JSON to a real Redis stream, a responder task reads that stream and
writes the answer under a reply key, and ``wait_reply`` reads that key.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from aiohttp import web

from connectors.base import InboundMessage, IntakeUnavailable
from connectors.storage import AttachmentStore
from connectors.task_stop import cancel_and_wait
from connectors.wechat import WeChatConnector, load_wechat_settings, setup_wechat
from connectors.wechat.simulator import WeChatApiSimulator, WeChatPlatform

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

TOKEN = "hotline12345"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx2c2769f8efd9abc2"
APP_SECRET = "sim-secret-0123456789"
ACCOUNT = "gh_10f6c3c3ac5a"

MODES = ("plaintext", "compatible", "safe")


@pytest_asyncio.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    # decode_responses=False, as the gateway connects.
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=False)
    try:
        await client.ping()
    except Exception as exc:  # pragma: no cover - environment problem, not a test result
        await client.aclose()
        # As the project's other server-backed tests: skipped where Redis is absent, but CI
        # (which starts it) must never silently skip.
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is required: {exc!r}")
        pytest.skip(f"Redis at {REDIS_URL} unreachable")
    yield client
    await client.aclose()


@pytest_asyncio.fixture
async def prefix(redis_client: aioredis.Redis) -> AsyncIterator[str]:
    value = f"test-wechat-{uuid.uuid4().hex[:12]}"
    yield value
    keys = [key async for key in redis_client.scan_iter(match=f"{value}*", count=500)]
    if keys:
        await redis_client.delete(*keys)


@dataclass
class FakePipeline:
    """The gateway's side of the contract, backed by a real Redis stream."""

    redis: aioredis.Redis
    prefix: str
    answer: Callable[[InboundMessage], str | None] = lambda msg: f"已收到您的诉求：{msg.text}"
    delay: float = 0.0
    unavailable: bool = False
    publish_calls: int = 0
    _task: asyncio.Task[Any] | None = None
    _pending: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def stream(self) -> str:
        return f"{self.prefix}:intake"

    def reply_key(self, channel: str, native_id: str) -> str:
        return f"{self.prefix}:reply:{channel}:{native_id}"

    async def publish(self, message: InboundMessage) -> str:
        self.publish_calls += 1
        if self.unavailable:
            raise IntakeUnavailable("stream down (test)")
        entry = await self.redis.xadd(self.stream, {"message": message.to_json().encode()})
        return entry.decode() if isinstance(entry, bytes) else entry

    async def wait_reply(self, channel: str, native_id: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        key = self.reply_key(channel, native_id)
        while True:
            raw = await self.redis.get(key)
            if raw is not None:
                return raw.decode()
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.02)

    async def messages(self) -> list[InboundMessage]:
        entries = await self.redis.xrange(self.stream)
        return [InboundMessage.from_json(fields[b"message"]) for _, fields in entries]

    async def _respond(self, message: InboundMessage) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        text = self.answer(message)
        if text is not None:
            await self.redis.set(self.reply_key(message.channel, message.native_id), text.encode(), ex=600)

    async def _run(self) -> None:
        last = "0-0"
        while True:
            got = await self.redis.xread({self.stream: last}, block=200, count=50)
            for _, entries in got or ():
                for entry_id, fields in entries:
                    last = entry_id
                    task = asyncio.create_task(self._respond(InboundMessage.from_json(fields[b"message"])))
                    self._pending.add(task)
                    task.add_done_callback(self._pending.discard)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(t for t in [self._task, *self._pending] if t is not None)


@pytest_asyncio.fixture
async def pipeline(redis_client: aioredis.Redis, prefix: str) -> AsyncIterator[FakePipeline]:
    p = FakePipeline(redis_client, prefix)
    p.start()
    yield p
    await p.stop()


@pytest_asyncio.fixture
async def api_sim(aiohttp_server: Any) -> AsyncIterator[tuple[WeChatApiSimulator, str]]:
    sim = WeChatApiSimulator(app_id=APP_ID, app_secret=APP_SECRET)
    server = await aiohttp_server(sim.make_app())
    yield sim, f"http://127.0.0.1:{server.port}/cgi-bin/"


def make_settings(mode: str, base_url: str, **extra: Any):
    env: dict[str, Any] = {
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_API_BASE_URL": base_url,
        "WECHAT_REPLY_BUDGET": 1.0,
        "WECHAT_DEFERRED_WAIT": 5.0,
        "WECHAT_API_TIMEOUT": 5.0,
    }
    if mode != "plaintext":
        env["WECHAT_ENCODING_AES_KEY"] = AES_KEY
    env.update(extra)
    return load_wechat_settings(**env)


@dataclass
class Harness:
    client: Any  # aiohttp TestClient
    connector: WeChatConnector
    platform: WeChatPlatform
    pipeline: FakePipeline
    sim: WeChatApiSimulator
    store: AttachmentStore
    redis: aioredis.Redis
    prefix: str

    async def post(self, xml: str, **sign_kwargs: Any):
        req = self.platform.sign_request(xml, **sign_kwargs)
        return await self.client.post(f"/wechat?{req.query}", data=req.body, headers={"Content-Type": "text/xml"})

    async def exchange(self, xml: str) -> dict[str, str] | None:
        """Post like WeChat and read the answer like WeChat; asserts HTTP 200."""
        resp = await self.post(xml)
        body = await resp.text()
        assert resp.status == 200, (resp.status, body)
        return self.platform.read_reply(body)


@pytest.fixture
def make_harness(aiohttp_client: Any, redis_client, prefix, pipeline, api_sim, tmp_path):
    async def factory(mode: str = "plaintext", **settings_extra: Any) -> Harness:
        sim, base_url = api_sim
        settings = make_settings(mode, base_url, **settings_extra)
        store = AttachmentStore(tmp_path)
        app = web.Application()
        connector = setup_wechat(
            app,
            settings,
            publish=pipeline.publish,
            wait_reply=pipeline.wait_reply,
            attachments=store,
            redis=redis_client,
            key_prefix=f"{prefix}:conn:wechat",
        )
        client = await aiohttp_client(app)
        platform = WeChatPlatform(
            TOKEN,
            mode=mode,
            encoding_aes_key=AES_KEY if mode != "plaintext" else None,
            app_id=APP_ID,
            account=ACCOUNT,
        )
        return Harness(client, connector, platform, pipeline, sim, store, redis_client, prefix)

    return factory


async def _eventually(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll an (async or plain) predicate until truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


@pytest.fixture
def eventually():
    return _eventually
