"""The analytics job of every process that runs the worker service: each
``HOTLINE_ANALYTICS_SECONDS`` one of them (whichever takes the Redis lock) refreshes the daily
rollups (:func:`ticketing.analytics.rollup.refresh`) and looks for bursts of similar tickets in one
region (:func:`ticketing.analytics.hotspots.raise_burst_alerts`) and the rising topics, which it
leaves in Redis for the analytics pages and raises as alerts too.  A new burst or rising topic is
stored once (the alerts table is the memory, so a restart or a second worker never repeats it),
announced live on the analytics topic and the console's (a banner on every console page of the
supervisors) and mailed to the supervisors' and, with ``analytics.alert_leaders``, the leaders'
addresses; a mail that could not go is tried again by the next periods (``mailed`` is the memory).

A periodic job rather than the intake transaction: see :mod:`ticketing.analytics.rollup`.  The lock
only saves work; the rebuild of a day is idempotent, so a lapsed lock costs nothing but time.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from gateway.channels.office_mail import notify_office
from gateway.infra.analytics_keys import RISING_TTL_SECONDS, rising_topics_key
from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, KEYS, REDIS, SESSIONS, SETTINGS
from gateway.worker.background import background_task, every, exclusive
from ticketing.analytics.hotspots import (
    RISING_WINDOWS,
    Topic,
    raise_burst_alerts,
    raise_rising_alerts,
    rising_topics,
    unmailed_alerts,
)
from ticketing.analytics.rollup import refresh
from ticketing.db.models.analytics import HotspotAlert
from ticketing.db.models.base import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalyticsRun:
    locked_out: bool = False
    days: int = 0
    alerts: tuple[dict, ...] = ()


WINDOW_LABELS = {"24h": "24小时", "7d": "7天"}


def alert_event(alert: HotspotAlert, region_name: str, burst_hours: int) -> dict:
    """What the consoles show live: ``text`` is the banner's line, ready to display."""
    window = (alert.detail or {}).get("window", "")
    if alert.kind == "rising":
        previous = int((alert.detail or {}).get("previous", 0))
        text = (f"“{alert.keyword}”近{WINDOW_LABELS.get(window, window)}{alert.count}件"
                f"（上一周期{previous}件），上升明显")
    else:
        text = f"{region_name}“{alert.keyword}”{burst_hours}小时内{alert.count}件，集中反映"
    return {"type": "hotspot", "kind": alert.kind, "id": alert.id, "region": alert.region,
            "region_name": region_name, "keyword": alert.keyword, "count": alert.count, "window": window,
            "text": text, "window_start": alert.window_start.isoformat(), "window_end": alert.window_end.isoformat()}


def alert_text(event: dict, hours: int) -> tuple[str, str]:
    if event["kind"] == "rising":
        subject = f"【12345热点预警】{event['text']}"
        body = (f"近{WINDOW_LABELS.get(event['window'], event['window'])}收到 {event['count']} 件与“{event['keyword']}”"
                f"相关的诉求，较上一周期上升明显。\n请登录坐席台“数据分析”页面查看上升话题并研判是否需要统一处置。\n\n"
                f"（平顶山12345 自动发送，请勿直接回复）")
        return subject, body
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
        await every(stop, self.interval, self.run_once, what="analytics job")

    async def run_once(self, *, now: datetime | None = None) -> AnalyticsRun:
        async with exclusive(self.app[REDIS], self.lock_key, self.lock_seconds) as held:
            if not held:
                return AnalyticsRun(locked_out=True)
            now = now or utcnow()
            sessions, directory = self.app[SESSIONS], self.app[DIRECTORY]
            async with sessions() as session, session.begin():
                done = await refresh(session)
            rising = await self._rising(now)
            # The alerts table is the memory: raised and stored in one transaction, so a restart or
            # a second worker (after the lock lapsed) never raises the same burst or topic twice.
            async with sessions() as session, session.begin():
                alerts = await raise_burst_alerts(session, directory, now=now)
                alerts += await raise_rising_alerts(session, directory, rising, now=now)
                regions = {r.code: r.name for r in directory.regions}
                events = tuple(alert_event(a, regions.get(a.region or "", a.region or "全市"),
                                           directory.analytics.burst_hours) for a in alerts)
            await self._store_rising(rising, now)
            for event in events:
                await self._publish(event)
            await self._mail_pending(now)
        if events:
            log.info("analytics: %d days rebuilt, %d hot-spot alerts", len(done.days), len(events))
        return AnalyticsRun(days=len(done.days), alerts=events)

    async def _rising(self, now: datetime) -> dict[str, list[Topic]]:
        directory = self.app[DIRECTORY]
        async with self.app[SESSIONS]() as session:
            return {label: await rising_topics(session, directory, now=now, window=window)
                    for label, window in RISING_WINDOWS.items()}

    async def _store_rising(self, rising: dict[str, list[Topic]], now: datetime) -> None:
        """The topics rising over 24 hours and 7 days, for the analytics pages to read."""
        stored: dict[str, object] = {
            f"rising_{label}": [{"keyword": t.keyword, "count": t.count, "previous": t.previous} for t in topics]
            for label, topics in rising.items()}
        stored["computed_at"] = now.isoformat()
        await self.app[REDIS].set(rising_topics_key(self.app[KEYS]), json.dumps(stored, ensure_ascii=False),
                                  ex=RISING_TTL_SECONDS)

    async def _publish(self, event: dict) -> None:
        """Live on the analytics page's topic and on the console's, whose every page shows a banner
        to the supervisors (``static/console/hotspot_alerts.js``)."""
        replies = self.app[REPLIES]
        for topic in (replies.analytics_topic, replies.console_topic):
            try:
                await replies.publish_event(topic, event)
            except Exception:
                log.warning("hot-spot alert %s not announced live", event["id"], exc_info=True)

    async def _mail_pending(self, now: datetime) -> None:
        """Mail every alert not mailed yet: the new ones, and those a refusing relay or a stop left
        behind (a few attempts each, over later periods; never twice once one has gone)."""
        directory = self.app[DIRECTORY]
        rules = directory.analytics
        recipients = list(dict.fromkeys((*rules.supervisor_emails, *(rules.leader_emails if rules.alert_leaders
                                                                      else ()))))
        regions = {r.code: r.name for r in directory.regions}
        since = now - timedelta(hours=max(rules.burst_hours, 24))
        async with self.app[SESSIONS]() as session:
            pending = [alert_event(a, regions.get(a.region or "", a.region or "全市"), rules.burst_hours)
                       for a in await unmailed_alerts(session, since=since)]
        for event in pending:
            subject, body = alert_text(event, rules.burst_hours)
            try:
                results = await notify_office(self.app, recipients, subject, body)
                delivered = any(r.delivered for r in results)
            except Exception:
                log.exception("hot-spot alert %s not mailed", event["id"])
                delivered = False
            async with self.app[SESSIONS]() as session, session.begin():
                alert = await session.get(HotspotAlert, event["id"])
                if alert is None:
                    continue
                if delivered:
                    alert.mailed = True
                else:
                    detail = dict(alert.detail or {})
                    detail["mail_attempts"] = int(detail.get("mail_attempts", 0)) + 1
                    alert.detail = detail


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
