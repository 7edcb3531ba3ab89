"""The analytics job of every process that runs the worker service: each
``HOTLINE_ANALYTICS_SECONDS`` one of them (whichever takes the Redis lock) refreshes the daily
rollups (:func:`ticketing.analytics.rollup.refresh`) and looks for bursts of similar tickets in one
region (:func:`ticketing.analytics.hotspots.raise_burst_alerts`) and the rising topics, which it
leaves in Redis for the analytics pages.  A new burst is stored once (the
alerts table is the memory, so a restart or a second worker never repeats it), announced live on
the analytics topic (the analytics page shows it) and mailed to the supervisors' addresses.

A periodic job rather than the intake transaction: see :mod:`ticketing.analytics.rollup`.  The lock
only saves work; the rebuild of a day is idempotent, so a lapsed lock costs nothing but time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from redis.exceptions import LockError

from gateway.channels.office_mail import notify_office
from gateway.infra.analytics_keys import RISING_TTL_SECONDS, rising_topics_key
from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, KEYS, REDIS, SESSIONS, SETTINGS
from gateway.worker.background import background_task, stopped_within
from ticketing.analytics.hotspots import raise_burst_alerts, rising_topics
from ticketing.analytics.rollup import refresh
from ticketing.db.models.analytics import HotspotAlert
from ticketing.db.models.base import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalyticsRun:
    locked_out: bool = False
    days: int = 0
    alerts: tuple[dict, ...] = ()


def alert_event(alert: HotspotAlert, region_name: str) -> dict:
    return {"type": "hotspot", "kind": alert.kind, "id": alert.id, "region": alert.region,
            "region_name": region_name, "keyword": alert.keyword, "count": alert.count,
            "window_start": alert.window_start.isoformat(), "window_end": alert.window_end.isoformat()}


def alert_text(event: dict, hours: int) -> tuple[str, str]:
    subject = f"【12345热点预警】{event['region_name']}“{event['keyword']}”{hours}小时内{event['count']}件"
    body = (f"{event['region_name']}在 {hours} 小时内收到 {event['count']} 件与“{event['keyword']}”相关的诉求，"
            f"已达到集中反映的预警条件。\n请登录坐席台“数据分析”页面查看热点详情并研判是否需要统一处置。\n\n"
            f"（平顶山12345 自动发送，请勿直接回复）")
    return subject, body


class AnalyticsJob:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.interval = app[SETTINGS].analytics_seconds
        self.lock_key = app[KEYS].key("analytics", "lock")
        # A first run rebuilds every day with tickets: give it time before another process may start.
        self.lock_seconds = max(300.0, 3 * self.interval)

    async def run(self, stop: asyncio.Event) -> None:
        """Every period until ``stop``; the first one a period after start."""
        while not await stopped_within(stop, self.interval):
            try:
                await self.run_once()
            except Exception:  # noqa: BLE001 - Redis or the database down: the next period tries again
                log.exception("analytics job failed; retrying in %ss", self.interval)

    async def run_once(self, *, now: datetime | None = None) -> AnalyticsRun:
        lock = self.app[REDIS].lock(self.lock_key, timeout=self.lock_seconds, blocking=False, thread_local=False)
        if not await lock.acquire():
            return AnalyticsRun(locked_out=True)
        try:
            now = now or utcnow()
            sessions, directory = self.app[SESSIONS], self.app[DIRECTORY]
            async with sessions() as session, session.begin():
                done = await refresh(session)
            async with sessions() as session, session.begin():
                alerts = await raise_burst_alerts(session, directory, now=now)
                regions = {r.code: r.name for r in directory.regions}
                events = tuple(alert_event(a, regions.get(a.region or "", a.region or "")) for a in alerts)
            for event in events:
                await self._announce(event)
            await self._store_rising(now)
        finally:
            with contextlib.suppress(LockError):  # it lapsed, or Redis is gone: it expires by itself
                await lock.release()
        if events:
            log.info("analytics: %d days rebuilt, %d hot-spot alerts", len(done.days), len(events))
        return AnalyticsRun(days=len(done.days), alerts=events)

    async def _store_rising(self, now: datetime) -> None:
        """The topics rising over 24 hours and 7 days, for the analytics pages to read."""
        directory = self.app[DIRECTORY]
        async with self.app[SESSIONS]() as session:
            rising = {label: [{"keyword": t.keyword, "count": t.count, "previous": t.previous}
                              for t in await rising_topics(session, directory, now=now, window=window)]
                      for label, window in (("rising_24h", timedelta(hours=24)), ("rising_7d", timedelta(days=7)))}
        rising["computed_at"] = now.isoformat()
        await self.app[REDIS].set(rising_topics_key(self.app[KEYS]), json.dumps(rising, ensure_ascii=False),
                                  ex=RISING_TTL_SECONDS)

    async def _announce(self, event: dict) -> None:
        replies = self.app[REPLIES]
        try:
            await replies.publish_event(replies.analytics_topic, event)
        except Exception:  # noqa: BLE001 - the page lists stored alerts anyway
            log.warning("hot-spot alert %s not announced live", event["id"], exc_info=True)
        rules = self.app[DIRECTORY].analytics
        subject, body = alert_text(event, rules.burst_hours)
        try:
            results = await notify_office(self.app, rules.supervisor_emails, subject, body)
        except Exception:  # noqa: BLE001 - a mail failure never stops the job
            log.exception("hot-spot alert %s not mailed", event["id"])
            return
        if any(r.delivered for r in results):
            async with self.app[SESSIONS]() as session, session.begin():
                alert = await session.get(HotspotAlert, event["id"])
                if alert is not None:
                    alert.mailed = True


ANALYTICS_JOB: web.AppKey[AnalyticsJob] = web.AppKey("analytics_job", AnalyticsJob)
ANALYTICS_TASK: web.AppKey[asyncio.Task] = web.AppKey("analytics_task", asyncio.Task)


def analytics_ctx() -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that runs the analytics job for as long as the app runs."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        job = app[ANALYTICS_JOB] = AnalyticsJob(app)
        async with background_task(job.run, name="analytics") as task:
            app[ANALYTICS_TASK] = task
            yield

    return ctx
