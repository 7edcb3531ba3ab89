"""The fault campaign's citizens and its bookkeeping: paced web messages, what became of each, the drain.

Every message has a key of its own (in its text, its session id and its ``client_message_id``), so the
database and the streams can be asked afterwards what became of each one the gateway acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from bench.common import pct

MESSAGES_PATH = "/api/v1/web/messages"
# A citizen's client gives up on a request after this long (and the campaign counts "no answer").
REQUEST_TIMEOUT = 15.0
# How long a cut client that stalls keeps its half body open before it goes away.
STALL_SECONDS = 2.0


def message_key(tag: str, index: int) -> str:
    return f"{tag}-{index:06d}"


def message_body(tag: str, index: int) -> dict[str, str]:
    key = message_key(tag, index)
    return {"session_id": key, "text": f"第{index}号测试诉求：小区路灯不亮，请尽快维修 [{key}]",
            "client_message_id": f"m{index:08d}"}


@dataclass
class Outcomes:
    """What the citizens saw: one status (or none) per message."""

    sent: int = 0
    accepted: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    no_answer: int = 0
    cut: int = 0  # bodies the client itself abandoned halfway (counted in no_answer too)
    latencies: list[float] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    def p99_ms(self) -> float:
        return pct(self.latencies, 99) * 1000 if self.latencies else 0.0


class Load:
    """Citizens posting web messages at a steady rate, each with a key of its own.

    While ``cut_every`` is set, every n-th message is instead sent as a request whose client goes away
    halfway through the body: half of them reset the connection at once, half stall, then close it.
    """

    def __init__(self, base_url: str, tag: str, *, rate: float, seconds: float) -> None:
        self.base_url = base_url
        self.tag = tag
        self.rate = rate
        self.seconds = seconds
        self.cut_every = 0
        self.outcomes = Outcomes()
        self.started = 0.0

    async def run(self) -> Outcomes:
        total = int(self.rate * self.seconds)
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        tasks: set[asyncio.Task[None]] = set()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=512), timeout=timeout) as session:
            self.started = time.monotonic()
            for index in range(total):
                delay = self.started + index / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if self.cut_every and index % self.cut_every == 0:
                    task = asyncio.create_task(self._cut(index))
                else:
                    task = asyncio.create_task(self._post(session, index))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                self.outcomes.sent += 1
            if tasks:
                await asyncio.gather(*tasks)
        return self.outcomes

    async def _post(self, session: aiohttp.ClientSession, index: int) -> None:
        begun = time.perf_counter()
        try:
            async with session.post(self.base_url + MESSAGES_PATH, json=message_body(self.tag, index)) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            self.outcomes.no_answer += 1
            return
        self.outcomes.latencies.append(time.perf_counter() - begun)
        self.outcomes.statuses[status] += 1
        if status == 202:
            self.outcomes.accepted.add(message_key(self.tag, index))

    async def _cut(self, index: int) -> None:
        """Headers and half the body, then the client is gone."""
        body = json.dumps(message_body(self.tag, index), ensure_ascii=False).encode()
        host, port = self.base_url.removeprefix("http://").split(":")
        head = (f"POST {MESSAGES_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.outcomes.no_answer += 1
        self.outcomes.cut += 1
        try:
            reader, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            return
        try:
            writer.write(head + body[: len(body) // 2])
            await writer.drain()
            if index % 2:
                await asyncio.sleep(STALL_SECONDS)
            else:  # a reset rather than an orderly close, as a dropped mobile connection often looks
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        finally:
            writer.close()


def _id(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class StreamWatch:
    """The intake stream and its consumer group, as the bench reads them (never writes)."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.redis = aioredis.Redis.from_url(redis_url, socket_timeout=5)
        self.key = f"{prefix}:intake"
        self.dead_key = f"{prefix}:intake:dead"
        self.group = "workers"

    async def close(self) -> None:
        await self.redis.aclose()

    async def last_id(self) -> str:
        newest = await self.redis.xrevrange(self.key, count=1)
        return newest[0][0].decode() if newest else "0-0"

    async def settled_up_to(self, mark: str) -> bool:
        """Every entry up to ``mark`` was delivered to a worker and acknowledged (or dead-lettered)."""
        groups = await self.redis.xinfo_groups(self.key)
        group = next((g for g in groups if g["name"] in (self.group, self.group.encode())), None)
        if group is None or _id(group["last-delivered-id"]) < _id(mark):
            return False
        return not await self.redis.xpending_range(self.key, self.group, min="-", max=mark, count=1)

    async def drain_seconds(self, since: float, poll: float = 0.2) -> float:
        """Seconds from ``since`` (the end of a fault, monotonic) until nothing from before it is pending.

        Polls through outages; the mark is the newest entry when the watch begins, right after the fault.
        """
        while True:
            try:
                mark = await self.last_id()
                break
            except (OSError, aioredis.RedisError):
                await asyncio.sleep(poll)
        while True:
            try:
                if await self.settled_up_to(mark):
                    return time.monotonic() - since
            except (OSError, aioredis.RedisError):
                pass
            await asyncio.sleep(poll)

    async def idle(self) -> bool:
        """Nothing unread and nothing pending in the whole stream."""
        try:
            return await self.settled_up_to(await self.last_id())
        except (OSError, aioredis.RedisError):
            return False

    async def dead_letters(self) -> list[str]:
        """The texts of the dead-lettered messages."""
        rows = await self.redis.xrange(self.dead_key)
        texts = []
        for _entry_id, fields in rows:
            try:
                texts.append(str(json.loads(fields.get(b"msg", b"{}")).get("text", "")))
            except ValueError:
                texts.append(fields.get(b"msg", b"").decode("utf-8", "replace"))
        return texts


KEY_IN_TEXT = re.compile(r"\[([A-Za-z0-9_-]+-\d{6})\]")


@dataclass
class Tally:
    stored: Counter[str]  # key → citizen entries in the database
    dead: set[str]
    dead_letters: int

    def lost(self, accepted: set[str]) -> int:
        """Acknowledged with 202, yet neither in the database nor among the dead letters."""
        return len(accepted - set(self.stored) - self.dead)

    def duplicated(self) -> int:
        return sum(1 for count in self.stored.values() if count > 1)

    def unacknowledged(self, accepted: set[str]) -> int:
        """Stored although the client saw no 202 (its answer was lost in the fault): at least once."""
        return len(set(self.stored) - accepted)


async def tally(database_url: str, stream: StreamWatch, tag: str) -> Tally:
    conn = await asyncpg.connect(database_url)
    try:
        # The key is in the text, not only in the channel's message id (which is unique in the
        # database): a second entry of one message would show up here, whatever its id.
        rows = await conn.fetch(
            "SELECT text FROM entries WHERE author = 'citizen' AND channel = 'web' AND text LIKE $1",
            f"%[{tag}-%",
        )
    finally:
        await conn.close()
    stored: Counter[str] = Counter()
    for row in rows:
        found = KEY_IN_TEXT.search(row["text"])
        if found:
            stored[found.group(1)] += 1
    dead_texts = await stream.dead_letters()
    dead = {found.group(1) for text in dead_texts if (found := KEY_IN_TEXT.search(text))}
    return Tally(stored=stored, dead=dead, dead_letters=len(dead_texts))
