"""The 并单 job of every process that runs the worker service: each ``HOTLINE_CLUSTER_SECONDS`` one
of them (whichever takes the Redis lock) brings its same-matter graph of the open tickets up to date
with the tickets created, changed and closed since its last run (:class:`ticketing.duplicates.live.LiveIndex`)
and stores the clusters in Redis, where the clusters page reads them (:mod:`gateway.web.console.cluster_api`).

The first run of a process builds the graph of every open ticket of the window (20,000 tickets: some
CPU-seconds, in a thread, once); each later run costs in proportion to what changed.  Each process
keeps its own graph and its own watermark, so when the lock passes to another worker that one catches
up from where it last was.  The stored result is replaced whole at each run; a stopped worker's
expires (``CLUSTERS_TTL_SECONDS``), and the page then computes the clusters itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from gateway.infra.analytics_keys import CLUSTERS_TTL_SECONDS, clusters_key
from gateway.infra.resources import KEYS, REDIS, SESSIONS, SETTINGS
from gateway.worker.background import background_task, every, exclusive
from ticketing.db.models.base import utcnow
from ticketing.duplicates.live import LiveIndex


@dataclass(frozen=True)
class ClusterRun:
    locked_out: bool = False
    changed: int = 0
    clusters: int = 0


class ClusterJob:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        settings = app[SETTINGS]
        self.interval = settings.cluster_seconds
        self.live = LiveIndex(days=settings.duplicate_days)
        self.lock_key = app[KEYS].key("duplicates", "lock")
        # The first build of a large window takes a while: no other process should start one meanwhile.
        self.lock_seconds = max(300.0, 3 * self.interval)
        self._running = asyncio.Lock()

    async def run(self, stop: asyncio.Event) -> None:
        """At once (the page should not wait a period for its first clusters), then every period."""
        await every(stop, self.interval, self.run_once, what="clusters job", at_start=True)

    async def run_once(self, *, now: datetime | None = None) -> ClusterRun:
        async with exclusive(self.app[REDIS], self.lock_key, self.lock_seconds) as held:
            if not held:
                return ClusterRun(locked_out=True)
            async with self._running:  # a test's run_once beside the background one
                now = now or utcnow()
                async with self.app[SESSIONS]() as session:
                    rows = await self.live.read_changes(session, now=now)
                # CPU work (each new ticket's neighbours): off the event loop; only this job touches the graph.
                changed = await asyncio.to_thread(self.live.apply, rows, now=now)
                clusters = await asyncio.to_thread(self.live.clusters)
                stored = {"computed_at": now.isoformat(), "tickets": len(self.live),
                          "clusters": [c.to_json() for c in clusters]}
                await self.app[REDIS].set(clusters_key(self.app[KEYS]), json.dumps(stored), ex=CLUSTERS_TTL_SECONDS)
        return ClusterRun(changed=changed, clusters=len(clusters))


CLUSTER_JOB: web.AppKey[ClusterJob] = web.AppKey("cluster_job", ClusterJob)


def clusters_ctx() -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that runs the 并单 job for as long as the app runs."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        job = app[CLUSTER_JOB] = ClusterJob(app)
        async with background_task(job.run, name="clusters"):
            yield

    return ctx
