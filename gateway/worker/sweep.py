"""The deadline sweep as a scheduled task of every process that runs the worker service.

Every ``HOTLINE_SWEEP_SECONDS`` one of those processes (whichever takes the Redis lock) runs
:func:`ticketing.workflow.sweep.sweep` in one transaction, then mails each notice to the unit's
inbox and announces it on the unit's live desk (and, for overdue work, on the operators'
console).  The flags live in the database, so a restart or a second process never repeats a
notice; a mail that fails is logged and the others still go out; Redis or the database being
down costs one period, never the worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from gateway.channels.unit_mail import notify_unit
from gateway.infra.metrics import METRICS
from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, KEYS, REDIS, SESSIONS, SETTINGS
from gateway.worker.background import background_task, every, exclusive
from ticketing.db.models.base import utcnow
from ticketing.workflow.sweep import OVERDUE, SIGN_OVERDUE, Notice, sweep

log = logging.getLogger(__name__)

# Mails in flight at once: a first sweep after a long outage may owe hundreds.
MAIL_CONCURRENCY = 8
# What the operators' console also hears about: work a unit has let lapse.
CONSOLE_KINDS = frozenset({SIGN_OVERDUE, OVERDUE})


@dataclass(frozen=True)
class SweepResult:
    """One period's outcome: ``locked_out`` when another process held the lock."""

    locked_out: bool = False
    notices: tuple[Notice, ...] = ()
    mailed: int = 0


class SweepMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter("hotline_sweep_runs_total", "Deadline sweep periods", ["outcome"], registry=registry)
        self.notices = Counter("hotline_sweep_notices_total", "Deadline notices flagged", ["kind"],
                               registry=registry)
        self.mail_failures = Counter("hotline_sweep_mail_failures_total", "Deadline notices not mailed",
                                     registry=registry)


class Sweeper:
    def __init__(self, app: web.Application, metrics: SweepMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.interval = app[SETTINGS].sweep_seconds
        self.lock_key = app[KEYS].key("sweep", "lock")
        # Long enough for the sweep and its mail; a process that died holding it blocks a few periods at most.
        self.lock_seconds = max(60.0, 3 * self.interval)

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every period until ``stop``; the first one a period after start."""
        await every(stop, self.interval, self.run_once, what="deadline sweep",
                    failed=self.metrics.runs.labels("failed").inc)

    async def run_once(self, *, now: datetime | None = None) -> SweepResult:
        async with exclusive(self.app[REDIS], self.lock_key, self.lock_seconds) as held:
            if not held:
                self.metrics.runs.labels("locked_out").inc()
                return SweepResult(locked_out=True)
            async with self.app[SESSIONS]() as session, session.begin():
                notices = await sweep(session, self.app[DIRECTORY], now=now or utcnow())
            for notice in notices:
                self.metrics.notices.labels(notice.kind).inc()
            mailed = await self._announce(notices)
        self.metrics.runs.labels("done").inc()
        if notices:
            log.info("deadline sweep: %d notices, %d mailed", len(notices), mailed)
        return SweepResult(notices=tuple(notices), mailed=mailed)

    async def _announce(self, notices: list[Notice]) -> int:
        gate = asyncio.Semaphore(MAIL_CONCURRENCY)
        done: list[bool] = []

        async def one(notice: Notice) -> None:
            async with gate:
                done.append(await self._mail(notice))
            await self._publish(notice)

        try:
            await asyncio.gather(*(one(notice) for notice in notices))
        except asyncio.CancelledError:
            # Shut down mid-way: the flags are committed, the desk and the timeline still show them.
            log.warning("deadline sweep stopped: %d of %d notices not mailed", len(notices) - len(done), len(notices))
            raise
        return sum(done)

    async def _mail(self, notice: Notice) -> bool:
        try:
            result = await notify_unit(self.app, notice.unit, notice.subject, notice.body, ticket_no=notice.ticket_no)
        except Exception:  # noqa: BLE001 - one unit's mail never stops the others
            log.exception("deadline notice %s for %s to unit %s failed", notice.kind, notice.ticket_no, notice.unit)
            self.metrics.mail_failures.inc()
            return False
        if not result.delivered:
            self.metrics.mail_failures.inc()
        return result.delivered

    async def _publish(self, notice: Notice) -> None:
        replies = self.app[REPLIES]
        event = {"type": "reminder", "kind": notice.kind, "ticket_no": notice.ticket_no, "unit": notice.unit}
        topics = [replies.desk_topic(notice.unit)]
        if notice.kind in CONSOLE_KINDS:
            topics.append(replies.console_topic)
        for topic in topics:
            try:
                await replies.publish_event(topic, event)
            except Exception:  # noqa: BLE001 - a live event is a courtesy; the desk reloads from the database
                log.warning("deadline notice %s for %s not announced on %s", notice.kind, notice.ticket_no, topic,
                            exc_info=True)


SWEEPER: web.AppKey[Sweeper] = web.AppKey("deadline_sweeper", Sweeper)
SWEEP_TASK: web.AppKey[asyncio.Task] = web.AppKey("deadline_sweep_task", asyncio.Task)


def sweep_ctx() -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that sweeps deadlines for as long as the app runs."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        sweeper = app[SWEEPER] = Sweeper(app, SweepMetrics(app[METRICS].registry))
        async with background_task(sweeper.run, name="deadline-sweep") as task:
            app[SWEEP_TASK] = task
            yield

    return ctx
