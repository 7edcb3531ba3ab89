"""The intake stream: connectors XADD normalized messages, workers read them in a group.

Delivery is at-least-once: an entry is acknowledged only after the database commit, a
crashed worker's pending entries are reclaimed with XAUTOCLAIM, and an entry delivered
too often is moved to a dead-letter stream that admins can list and replay.  Exactly-once
*effects* come from the database's (channel, channel message id) uniqueness.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:  # pragma: no cover
    import redis.asyncio as aioredis


import logging
from datetime import datetime, timezone

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from connectors.base import Admission, InboundMessage, IntakeUnavailable, OnceKey
from gateway.infra.coalesce import Script, TickPipeline
from gateway.infra.keys import RedisKeys

log = logging.getLogger(__name__)

# Bounded so a runaway producer cannot fill memory; far above any backlog the six
# operators' city could produce, and trimming only ever drops the oldest (long acked) entries.
STREAM_MAXLEN = 1_000_000
# Every worker process reads in this one group, so each entry goes to one of them.
CONSUMER_GROUP = "workers"

# KEYS: the client's rate-limit window, the stream, [a retried message's text digest]
# ARGV: limit, window TTL, stream MAXLEN, the message, [its digest, the digest's TTL]
# → 0 over the limit, -1 a reused message id with another text, else the entry id.
ADMIT = Script("""
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
if count > tonumber(ARGV[1]) then return 0 end
if KEYS[3] and not redis.call('SET', KEYS[3], ARGV[5], 'NX', 'EX', ARGV[6]) then
  local first = redis.call('GET', KEYS[3])
  if first and first ~= ARGV[5] then return -1 end
end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'msg', ARGV[4])
""")


@dataclass(frozen=True)
class StreamEntry:
    entry_id: str
    payload: bytes
    deliveries: int = 1

    def message(self) -> InboundMessage:
        return InboundMessage.from_json(self.payload)


@dataclass(frozen=True)
class DeadLetter:
    entry_id: str
    original_id: str
    payload: str
    error: str
    deliveries: int
    failed_at: str


class IntakeStream:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys) -> None:
        self.redis = redis
        self.key = keys.key("intake")
        self.dead_key = keys.key("intake", "dead")
        self.group = CONSUMER_GROUP
        self.tick = TickPipeline(redis)

    async def publish(self, message: InboundMessage) -> str:
        """XADD the message (with the other publishes of this event-loop tick); its entry id."""
        try:
            entry_id = await self.tick.execute("XADD", self.key, "MAXLEN", "~", STREAM_MAXLEN, "*",
                                               "msg", message.to_json_bytes())
        except (RedisError, OSError) as exc:
            raise IntakeUnavailable(str(exc)) from exc
        return entry_id.decode()

    async def admit(self, message: InboundMessage, *, rate_key: str, limit: int, rate_ttl: int,
                    once: OnceKey | None = None) -> Admission:
        """Count the client's request, check a retried message's text, and XADD: one script, one
        round trip (shared with the other requests of this tick).  Nothing is counted or stored for
        a request Redis did not take."""
        keys = [rate_key, self.key] + ([once.key] if once else [])
        args = [limit, rate_ttl, STREAM_MAXLEN, message.to_json_bytes()]
        if once:
            args += [once.value, once.ttl]
        try:
            reply = await self.tick.evalsha(ADMIT, keys, args)
        except (RedisError, OSError) as exc:
            raise IntakeUnavailable(str(exc)) from exc
        if reply == 0:
            return Admission(refused="rate_limited")
        if reply == -1:
            return Admission(refused="reused")
        return Admission(entry_id=reply.decode())

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.key, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self, consumer: str, *, count: int, block_ms: int) -> list[StreamEntry]:
        result = await self.redis.xreadgroup(
            self.group, consumer, {self.key: ">"}, count=count, block=block_ms
        )
        entries = []
        for _stream, items in result or []:
            for entry_id, fields in items:
                entries.append(StreamEntry(entry_id.decode(), fields.get(b"msg", b"")))
        return entries

    async def reclaim(self, consumer: str, *, min_idle_ms: int, count: int) -> list[StreamEntry]:
        """Take over entries another consumer read but never acknowledged."""
        reply = await self.redis.xautoclaim(
            self.key, self.group, consumer, min_idle_time=min_idle_ms, start_id="0-0", count=count
        )
        claimed = reply[1] if len(reply) > 1 else []
        if not claimed:
            return []
        ids = [entry_id for entry_id, _ in claimed]
        counts = await self._delivery_counts(ids)
        return [
            StreamEntry(entry_id.decode(), (fields or {}).get(b"msg", b""), counts.get(entry_id.decode(), 1))
            for entry_id, fields in claimed
            if fields is not None  # deleted meanwhile; XAUTOCLAIM already dropped it from the PEL
        ]

    async def _delivery_counts(self, ids: list[bytes]) -> dict[str, int]:
        if not ids:
            return {}
        lo, hi = min(ids, key=_id_key), max(ids, key=_id_key)
        rows = await self.redis.xpending_range(self.key, self.group, min=lo, max=hi, count=len(ids) + 100)
        return {row["message_id"].decode(): int(row["times_delivered"]) for row in rows}

    async def ack(self, entry_id: str) -> None:
        await self.redis.xack(self.key, self.group, entry_id)

    def stage_ack(self, pipe: aioredis.client.Pipeline, entry_ids: list[str]) -> None:
        """Queue one XACK of all these entries on a caller's pipeline (sent after the commit)."""
        if entry_ids:
            pipe.xack(self.key, self.group, *entry_ids)

    async def dead_letter(self, entry: StreamEntry, error: str) -> None:
        """Move an entry to the dead-letter stream and acknowledge it, atomically."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                self.dead_key,
                {
                    "msg": entry.payload,
                    "original_id": entry.entry_id,
                    "error": error[:2000],
                    "deliveries": str(entry.deliveries),
                    "failed_at": datetime.now(timezone.utc).isoformat(),
                },
            )
            pipe.xack(self.key, self.group, entry.entry_id)
            await pipe.execute()

    async def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        rows = await self.redis.xrange(self.dead_key, count=count)
        return [
            DeadLetter(
                entry_id=entry_id.decode(),
                original_id=f.get(b"original_id", b"").decode(),
                payload=f.get(b"msg", b"").decode("utf-8", "replace"),
                error=f.get(b"error", b"").decode("utf-8", "replace"),
                deliveries=int(f.get(b"deliveries", b"0") or 0),
                failed_at=f.get(b"failed_at", b"").decode(),
            )
            for entry_id, f in rows
        ]

    async def replay(self, dead_id: str) -> str | None:
        """Put a dead letter back on the intake stream; returns the new entry id."""
        rows = await self.redis.xrange(self.dead_key, min=dead_id, max=dead_id)
        if not rows:
            return None
        fields = rows[0][1]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.key, {"msg": fields[b"msg"]}, maxlen=STREAM_MAXLEN, approximate=True)
            pipe.xdel(self.dead_key, dead_id)
            new_id, _ = await pipe.execute()
        return new_id.decode()

    async def backlog(self) -> dict[str, int]:
        """Entries not yet read plus entries read but not acknowledged."""
        try:
            groups = await self.redis.xinfo_groups(self.key)
        except ResponseError:
            return {"pending": 0, "lag": 0}
        for g in groups:
            if g["name"] in (self.group, self.group.encode()):
                return {"pending": int(g.get("pending") or 0), "lag": int(g.get("lag") or 0)}
        return {"pending": 0, "lag": 0}


def _id_key(entry_id: bytes) -> tuple[int, int]:
    ms, _, seq = entry_id.decode().partition("-")
    return int(ms), int(seq or 0)


STREAM: web.AppKey[IntakeStream] = web.AppKey("stream", IntakeStream)
