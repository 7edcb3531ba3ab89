"""The stream consumer: read, process, commit, then acknowledge."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict

from redis.exceptions import RedisError

from connectors.base import InboundMessage
from gateway.infra.metrics import Metrics
from gateway.infra.stream import IntakeStream, StreamEntry
from gateway.worker.pipeline import Pipeline

log = logging.getLogger(__name__)


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Worker:
    def __init__(
        self,
        stream: IntakeStream,
        pipeline: Pipeline,
        metrics: Metrics,
        *,
        consumer: str | None = None,
        batch: int = 16,
        max_deliveries: int = 5,
        claim_idle_ms: int = 30_000,
        block_ms: int = 1000,
    ) -> None:
        self.stream = stream
        self.pipeline = pipeline
        self.metrics = metrics
        self.consumer = consumer or default_consumer_name()
        self.batch = batch
        self.max_deliveries = max_deliveries
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        next_claim = 0.0
        ready = False
        while not stop.is_set():
            try:
                if not ready:
                    await self.stream.ensure_group()
                    ready = True
                if time.monotonic() >= next_claim:
                    await self.reclaim_once()
                    next_claim = time.monotonic() + max(self.claim_idle_ms / 2000, 0.2)
                await self.step(stop)
                backoff = 0.5
            except (RedisError, OSError) as exc:
                # Redis away: keep trying, nothing was acknowledged so nothing is lost.
                log.warning("worker %s: intake stream unavailable: %s", self.consumer, exc)
                ready = False  # a restarted Redis without its data needs the group again
                try:
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, 10.0)

    async def step(self, stop: asyncio.Event | None = None) -> int:
        read = asyncio.ensure_future(self.stream.read(self.consumer, count=self.batch, block_ms=self.block_ms))
        if stop is not None:
            # Shutting down should not wait out a blocking read.  An entry delivered to a
            # read we abandon stays pending and is reclaimed: at-least-once still holds.
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({read, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not read.done():
                read.cancel()
                # The abandoned read may still end in a connection error; consume it.
                read.add_done_callback(lambda t: t.cancelled() or t.exception())
                return 0
        entries = await read
        await self.handle_batch(entries)
        return len(entries)

    async def reclaim_once(self) -> int:
        entries = await self.stream.reclaim(self.consumer, min_idle_ms=self.claim_idle_ms, count=self.batch)
        if entries:
            self.metrics.reclaimed.inc(len(entries))
            log.info("worker %s reclaimed %d pending entries", self.consumer, len(entries))
            await self.handle_batch(entries)
        return len(entries)

    async def handle_batch(self, entries: list[StreamEntry]) -> None:
        # Different citizens in parallel; one citizen's messages in order.
        # Each entry is decoded once here; an undecodable one gets a lane of its own.
        lanes: dict[str, list[tuple[StreamEntry, InboundMessage | Exception]]] = defaultdict(list)
        for entry in entries:
            try:
                decoded: InboundMessage | Exception = entry.message()
                lane = f"{decoded.channel}:{decoded.sender_id}"
            except Exception as exc:
                decoded, lane = exc, f"raw:{entry.entry_id}"
            lanes[lane].append((entry, decoded))

        async def run_lane(lane: list[tuple[StreamEntry, InboundMessage | Exception]]) -> None:
            for entry, decoded in lane:
                await self.handle(entry, decoded)

        await asyncio.gather(*(run_lane(lane) for lane in lanes.values()))

    async def handle(self, entry: StreamEntry, msg: InboundMessage | Exception) -> None:
        if entry.deliveries > self.max_deliveries:
            await self._dead(entry, "delivered too many times")
            return
        if isinstance(msg, Exception):  # undecodable: retrying can never help
            await self._dead(entry, f"undecodable entry: {msg!r}")
            return
        started = time.perf_counter()
        try:
            await self.pipeline.process(msg)
        except Exception as exc:
            self.metrics.failures.inc()
            log.exception("worker %s: processing %s failed (delivery %d)", self.consumer, entry.entry_id,
                          entry.deliveries)
            if entry.deliveries >= self.max_deliveries:
                await self._dead(entry, repr(exc))
            return  # left pending: reclaimed and retried after the idle time
        await self.stream.ack(entry.entry_id)
        self.metrics.process_seconds.observe(time.perf_counter() - started)

    async def _dead(self, entry: StreamEntry, reason: str) -> None:
        log.error("worker %s: dead-lettering %s: %s", self.consumer, entry.entry_id, reason)
        await self.stream.dead_letter(entry, reason)
        self.metrics.dead_lettered.inc()

