"""The stream consumer: read, process, commit, then acknowledge."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict

from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError

from connectors.base import InboundMessage
from connectors.task_stop import cancel_and_wait
from gateway.infra.metrics import Metrics
from gateway.infra.stream import IntakeStream, StreamEntry
from gateway.worker.outage import Backoff, DependencyProbe, is_connectivity_error
from gateway.worker.pending import OwnPending
from gateway.worker.pipeline import Pipeline
from ticketing.intake.contract import Classification, Outcome

log = logging.getLogger(__name__)


# At most this many messages go through the rules at once (fewer on a smaller pool).
MAX_LANES = 16
# Batches in flight at once in the run loop: while one waits on PostgreSQL (its statements, its
# commit), the next is decoded, classified and built, so neither the worker's core nor the
# database's idles.  Two batches never share a citizen (see ``_launch``), so each citizen's
# messages still go in stream order.
DEPTH = 2


def _pool_size(pipeline: Pipeline) -> int:
    pool = pipeline.sessions.kw["bind"].pool
    size = getattr(pool, "size", None)
    return int(size()) if callable(size) else MAX_LANES + 1


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Worker:
    """One consumer of the intake group.

    Normal operation: read new entries, and now and then take over entries other consumers left
    pending.  When the database (or Redis) goes away mid-processing, the worker stops reading,
    probes with capped exponential backoff, and once the probe answers reads its own pending
    entries back at full speed before it takes new ones.  Deliveries that failed because of the
    outage are not counted toward ``max_deliveries``: an outage dead-letters nothing.
    """

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
        outage_backoff_cap: float = 4.0,
    ) -> None:
        self.stream = stream
        self.pipeline = pipeline
        self.metrics = metrics
        self.consumer = consumer or default_consumer_name()
        self.batch = batch
        self.max_deliveries = max_deliveries
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self.own = OwnPending(stream, self.consumer)
        # Messages taken one by one at the same time (each holds a pooled database connection),
        # shared out between the batches in flight.
        self.lanes = max(1, min(MAX_LANES, (_pool_size(pipeline) - 1) // DEPTH))
        # The run loop's batches still being processed, with the citizens each holds.
        self._in_flight: dict[asyncio.Task[None], frozenset[tuple[str, str]]] = {}
        self.probe = DependencyProbe(pipeline.sessions, stream.redis)
        self.backoff = Backoff(cap=outage_backoff_cap)
        # Set by a failure the probe confirms; cleared by a probe that answers.
        self.in_outage = False

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self._loop(stop)
        except asyncio.CancelledError:
            # Cancelled, not stopped: the batches in flight go too (their entries stay pending).
            await cancel_and_wait(self._in_flight)
            self._in_flight.clear()
            raise
        await self.settle(raising=False)

    async def _loop(self, stop: asyncio.Event) -> None:
        redis_backoff = Backoff(cap=10.0)
        next_claim = 0.0
        ready = False
        # A restarted consumer of the same name finds its entries of before still pending.
        drain_own = True
        while not stop.is_set():
            try:
                if not ready:
                    await self.stream.ensure_group()
                    ready = True
                if self.in_outage:
                    await self.settle(raising=False)
                    if not await self.probe.healthy():
                        await _sleep_unless(stop, self.backoff.next())
                        continue
                    log.warning("worker %s: database reachable again, reprocessing pending entries", self.consumer)
                    self.in_outage, drain_own = False, True
                    self.backoff.reset()
                if drain_own:
                    await self.settle()
                    await self.drain_own_pending(stop)
                    drain_own = self.in_outage  # interrupted by another outage: again after it
                    continue
                if time.monotonic() >= next_claim:
                    await self.settle()
                    await self.reclaim_once()
                    next_claim = time.monotonic() + max(self.claim_idle_ms / 2000, 0.2)
                if not self.in_outage:
                    await self._overlapped_step(stop)
                redis_backoff.reset()
            except (RedisError, OSError) as exc:
                # Redis away: keep trying, nothing was acknowledged so nothing is lost.
                log.warning("worker %s: intake stream unavailable: %s", self.consumer, exc)
                ready = False  # a restarted Redis without its data needs the group again
                drain_own = True
                await self.settle(raising=False)
                await _sleep_unless(stop, redis_backoff.next())

    async def step(self, stop: asyncio.Event | None = None) -> int:
        """Read one batch and process it to the end; how many entries it held."""
        entries = await self._read(stop)
        await self.handle_batch(entries)
        return len(entries)

    async def _overlapped_step(self, stop: asyncio.Event) -> None:
        """Read one batch and start processing it beside the batch still in flight."""
        entries = await self._read(stop)
        if entries:
            await self._launch(await self._decoded(entries))

    async def _read(self, stop: asyncio.Event | None) -> list[StreamEntry]:
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
                return []
        return await read

    async def _launch(self, ready: list[tuple[StreamEntry, InboundMessage]]) -> None:
        """Process the batch in a task of its own, once fewer than ``DEPTH`` are in flight and none
        of those holds one of its citizens (whose earlier message must be stored first)."""
        citizens = frozenset((msg.channel, msg.sender_id) for _entry, msg in ready)
        while self._in_flight and (len(self._in_flight) >= DEPTH
                                   or any(citizens & held for held in self._in_flight.values())):
            done, _pending = await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
            self._collect(done)
        task = asyncio.create_task(self._process(ready))
        self._in_flight[task] = citizens

    async def settle(self, *, raising: bool = True) -> None:
        """Wait for every batch in flight (before reading pending entries, probing an outage or
        stopping: those must not overlap a batch).  ``raising``: re-raise a batch's Redis error."""
        while self._in_flight:
            done, _pending = await asyncio.wait(self._in_flight)
            self._collect(done, raising=raising)

    def _collect(self, done: set[asyncio.Task[None]], *, raising: bool = True) -> None:
        errors = []
        for task in done:
            self._in_flight.pop(task, None)
            if not task.cancelled() and task.exception() is not None:
                errors.append(task.exception())
        for error in errors[1:] if raising else errors:
            log.warning("worker %s: a batch in flight ended in %r", self.consumer, error)
        if raising and errors:
            # A batch's own failures are handled inside it; what gets here is Redis going away
            # while acknowledging, which the run loop waits out (the entries stay pending).
            raise errors[0]

    async def drain_own_pending(self, stop: asyncio.Event | None = None) -> int:
        """Process this consumer's pending entries, batch after batch, until none is left or the
        database fails again.  Entries that fail on their own stay pending for the reclaim cycle."""
        after, done = "0", 0
        while stop is None or not stop.is_set():
            entries, gone = await self.own.read(after=after, count=self.batch)
            for entry_id in gone:
                await self.stream.ack(entry_id)
            if not entries and not gone:
                break
            if entries:
                await self.handle_batch(entries)
                done += len(entries)
            after = max([e.entry_id for e in entries] + gone, key=_id_key)
            if self.in_outage:
                break
        if done:
            log.info("worker %s reprocessed %d of its pending entries", self.consumer, done)
        return done

    async def reclaim_once(self) -> int:
        """Take over entries other consumers left pending, batch after batch while batches are full."""
        total = 0
        while not self.in_outage:
            entries = await self.stream.reclaim(self.consumer, min_idle_ms=self.claim_idle_ms, count=self.batch)
            if not entries:
                break
            self.metrics.reclaimed.inc(len(entries))
            log.info("worker %s reclaimed %d pending entries", self.consumer, len(entries))
            await self.handle_batch(entries)
            total += len(entries)
            if len(entries) < self.batch:
                break
        return total

    async def handle_batch(self, entries: list[StreamEntry]) -> None:
        """Entries in passes of at most one message per citizen (a citizen's next message waits for
        the pass after, so their order holds); each pass's plain messages in one transaction."""
        await self._process(await self._decoded(entries))

    async def _decoded(self, entries: list[StreamEntry]) -> list[tuple[StreamEntry, InboundMessage]]:
        """The entries with their messages; the undecodable and the too-often-delivered ones go to
        the dead letters."""
        ready: list[tuple[StreamEntry, InboundMessage]] = []
        for entry in entries:
            if self.in_outage:
                # Read before the outage was known: not attempted now, and not counted.
                await self.own.forgive(entry)
            elif entry.deliveries > self.max_deliveries:
                await self._dead(entry, "delivered too many times")
            else:
                try:
                    ready.append((entry, entry.message()))
                except Exception as exc:  # undecodable: retrying can never help
                    await self._dead(entry, f"undecodable entry: {exc!r}")
        return ready

    async def _process(self, ready: list[tuple[StreamEntry, InboundMessage]]) -> None:
        for citizen_pass in citizen_passes(ready):
            if self.in_outage:
                for entry, _msg in citizen_pass:
                    await self.own.forgive(entry)
                continue
            await self.run_pass(citizen_pass)

    async def run_pass(self, items: list[tuple[StreamEntry, InboundMessage]]) -> None:
        started = time.perf_counter()
        announced: set[int] = set()

        async def committed(group: list[tuple[int, Outcome]]) -> None:
            # Committed: every reply, live event and the acknowledgement of the group in one round trip.
            async with self.stream.redis.pipeline(transaction=False) as pipe:
                for i, outcome in group:
                    self.pipeline.stage_announcement(pipe, items[i][1], outcome)
                self.stream.stage_ack(pipe, [items[i][0].entry_id for i, _outcome in group])
                await pipe.execute()
            announced.update(i for i, _outcome in group)
            elapsed = time.perf_counter() - started
            for _ in group:
                self.metrics.process_seconds.observe(elapsed)

        try:
            results = await self.pipeline.process_batch([msg for _entry, msg in items], committed)
        except Exception as exc:
            left = [(entry, msg) for i, (entry, msg) in enumerate(items) if i not in announced]
            if await self._outage_caused(exc):
                for entry, _msg in left:
                    await self.own.forgive(entry)
                return
            # One poison message must not sink the others: each on its own, as before batching.
            log.warning("worker %s: batch of %d failed (%r); taking them one by one", self.consumer,
                        len(left), exc)
            await self._one_by_one([(entry, msg, None) for entry, msg in left])
            return
        await self._one_by_one([(entry, msg, classification)
                                for (entry, msg), (outcome, classification) in zip(items, results)
                                if outcome is None])

    async def _one_by_one(self, items: list[tuple[StreamEntry, InboundMessage, Classification | None]]) -> None:
        """Messages of different citizens through the rules, a few at a time: each holds a pooled
        connection, and a thousand waiting for a pool of thirty would time out."""
        gate = asyncio.Semaphore(self.lanes)

        async def one(entry: StreamEntry, msg: InboundMessage, classification: Classification | None) -> None:
            async with gate:
                await self.handle(entry, msg, classification)

        await asyncio.gather(*(one(*item) for item in items))

    async def handle(self, entry: StreamEntry, msg: InboundMessage | Exception,
                     classification: Classification | None = None) -> None:
        if self.in_outage:
            # Read before the outage was known: not attempted now, and not counted.
            await self.own.forgive(entry)
            return
        if entry.deliveries > self.max_deliveries:
            await self._dead(entry, "delivered too many times")
            return
        if isinstance(msg, Exception):  # undecodable: retrying can never help
            await self._dead(entry, f"undecodable entry: {msg!r}")
            return
        started = time.perf_counter()
        try:
            if classification is None:
                await self.pipeline.process(msg)
            else:
                await self.pipeline.process(msg, classification)
        except Exception as exc:
            if await self._outage_caused(exc):
                await self.own.forgive(entry)
                return  # left pending, reprocessed when the database is back
            self.metrics.failures.inc()
            log.exception("worker %s: processing %s failed (delivery %d)", self.consumer, entry.entry_id,
                          entry.deliveries)
            if entry.deliveries >= self.max_deliveries:
                await self._dead(entry, repr(exc))
            return  # left pending: reclaimed and retried after the idle time
        await self.stream.ack(entry.entry_id)
        self.metrics.process_seconds.observe(time.perf_counter() - started)

    async def _outage_caused(self, exc: Exception) -> bool:
        """Whether the failure is the database's (or Redis's), not the message's.  A failed probe
        also stops the worker from reading on (``in_outage``) until a probe answers again."""
        if self.in_outage:
            return True
        if not (is_connectivity_error(exc) or isinstance(exc, (DBAPIError, RedisError))):
            return False  # the message's own fault (bad data, a bug): no round trip needed to say so
        if await self.probe.healthy():
            # A connection broken by an outage that is already over fails one delivery, counted:
            # forgiving errors the probe cannot confirm could retry a poison message forever.
            return False
        if not self.in_outage:
            log.warning("worker %s: database unreachable (%r); pausing intake", self.consumer, exc)
            self.in_outage = True
        return True

    async def _dead(self, entry: StreamEntry, reason: str) -> None:
        log.error("worker %s: dead-lettering %s: %s", self.consumer, entry.entry_id, reason)
        await self.stream.dead_letter(entry, reason)
        self.metrics.dead_lettered.inc()



async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


def citizen_passes(items: list[tuple[StreamEntry, InboundMessage]]
                   ) -> list[list[tuple[StreamEntry, InboundMessage]]]:
    """The n-th pass holds each citizen's n-th message, in stream order."""
    passes: list[list[tuple[StreamEntry, InboundMessage]]] = []
    seen: dict[tuple[str, str], int] = defaultdict(int)
    for entry, msg in items:
        key = (msg.channel, msg.sender_id)
        n = seen[key]
        seen[key] += 1
        if n == len(passes):
            passes.append([])
        passes[n].append((entry, msg))
    return passes


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
