"""Hot spots: keywords of the tickets (jieba TF-IDF over each ticket's title), topics rising
against the previous period, and bursts of similar tickets in one region.

A ticket's keywords are the few most specific words of its title, with the city's place names
and the words every complaint uses removed, so "卫东区建设路路灯坏了" counts for 建设路 and 路灯.
A burst is ``burst_threshold`` tickets of one region sharing a keyword within ``burst_hours``;
it is raised once: a new alert for the same region and keyword only after the window has passed.
A rising topic is raised once per window too (:func:`raise_rising_alerts`): "路灯" rising over 24 h
is announced again only after 24 h; over 7 days, not while any alert of the keyword is a week old or
less (the 24-hour alert already told the news).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.directory import Directory
from ticketing.db.models.analytics import HotspotAlert
from ticketing.db.models.tickets import Ticket

KEYWORDS_PER_TICKET = 3
# Words every request uses: they say nothing about the topic.
GENERIC = frozenset("""
反映 问题 希望 市民 群众 请求 要求 相关 部门 解决 处理 情况 现在 目前 已经 一直 没有 还是 什么 怎么 如何 为什么
可以 能否 是否 咨询 投诉 举报 求助 建议 表扬 你好 您好 谢谢 麻烦 尽快 严重 影响 多次 至今 今天 昨天 晚上 早上
每天 几天 一下 这个 那个 我们 他们 自己 小区 附近 平顶山 平顶山市 12345 热线 工单
""".split())


@functools.cache
def _extractor(place_names: frozenset[str]):
    import jieba
    import jieba.analyse

    jieba.setLogLevel(logging.WARNING)
    extractor = jieba.analyse.TFIDF()
    extractor.stop_words = set(extractor.stop_words) | GENERIC | place_names
    return extractor


def place_names(directory: Directory) -> frozenset[str]:
    names = {region.name for region in directory.regions}
    for region in directory.regions:
        names.update(region.aliases)
    return frozenset(names)


# Titles repeat (and every period re-reads the last 48 h): remember what each one gave.
@functools.lru_cache(maxsize=200_000)
def keywords(text: str, places: frozenset[str] = frozenset(), top: int = KEYWORDS_PER_TICKET) -> tuple[str, ...]:
    """The ``top`` most specific words of ``text`` (two characters or more, no digits)."""
    words = _extractor(places).extract_tags(text or "", topK=top * 3)
    return tuple([w for w in words if len(w) >= 2 and not any(ch.isdigit() for ch in w)][:top])


Tagged = list[tuple[int, str | None, tuple[str, ...]]]


def _tagged(rows: list[tuple[int, str | None, str]], places: frozenset[str]) -> Tagged:
    return [(ticket_id, region, keywords(title, places)) for ticket_id, region, title in rows]


async def _keywords_of(session: AsyncSession, start: datetime, end: datetime, places: frozenset[str], *,
                       every: int = 1) -> Tagged:
    """(ticket id, region, keywords) of the tickets created in [start, end).  jieba runs in a thread:
    a first pass over thousands of titles takes seconds, which the event loop must not wait for."""
    return await asyncio.to_thread(_tagged, await _titles(session, start, end, every=every), places)


def _in_period(start: datetime, end: datetime) -> list:
    return [Ticket.created_at >= start, Ticket.created_at < end, Ticket.status != "merged",
            Ticket.title.is_not(None)]


async def _titles(session: AsyncSession, start: datetime, end: datetime, *,
                  every: int = 1) -> list[tuple[int, str | None, str]]:
    stmt = select(Ticket.id, Ticket.region, Ticket.title).where(*_in_period(start, end))
    if every > 1:
        stmt = stmt.where(Ticket.id % every == 0)  # an even sample: ids grow with time
    return [(ticket_id, region, title or "") for ticket_id, region, title in await session.execute(stmt)]


@dataclass(frozen=True)
class Topic:
    keyword: str
    count: int
    previous: int

    @property
    def growth(self) -> float | None:
        return None if self.previous == 0 else round(self.count / self.previous, 2)


async def rising_topics(session: AsyncSession, directory: Directory, *, now: datetime, window: timedelta,
                        limit: int = 10) -> list[Topic]:
    """Keywords of the last ``window`` with at least ``rising_min_count`` tickets and at least
    ``rising_ratio`` times the previous window's count (a topic absent before counts as 1)."""
    rules = directory.analytics
    places = place_names(directory)
    current: Counter[str] = Counter()
    previous: Counter[str] = Counter()
    for counter, start in ((current, now - window), (previous, now - 2 * window)):
        for _, _, words in await _keywords_of(session, start, start + window, places):
            counter.update(set(words))
    topics = [Topic(word, count, previous[word]) for word, count in current.items()
              if count >= rules.rising_min_count and count >= rules.rising_ratio * max(previous[word], 1)]
    topics.sort(key=lambda t: (-t.count / max(t.previous, 1), -t.count, t.keyword))
    return topics[:limit]


@dataclass(frozen=True)
class Burst:
    region: str
    keyword: str
    tickets: tuple[int, ...]
    window_start: datetime
    window_end: datetime


async def bursts(session: AsyncSession, directory: Directory, *, now: datetime) -> list[Burst]:
    """Every (region, keyword) with at least ``burst_threshold`` tickets in the last ``burst_hours``."""
    rules = directory.analytics
    start = now - timedelta(hours=rules.burst_hours)
    places = place_names(directory)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for ticket_id, region, words in await _keywords_of(session, start, now, places):
        if region:
            for word in words:
                groups[(region, word)].append(ticket_id)
    found = [Burst(region, word, tuple(sorted(ids)), start, now) for (region, word), ids in groups.items()
             if len(ids) >= rules.burst_threshold]
    return sorted(found, key=lambda b: (-len(b.tickets), b.region, b.keyword))


async def raise_burst_alerts(session: AsyncSession, directory: Directory, *, now: datetime) -> list[HotspotAlert]:
    """New alerts for the bursts not yet announced (none for a pair alerted within the window).

    Several keywords of the same tickets make one alert: the one with most tickets wins, the
    others of the same region whose tickets it already covers are left out."""
    rules = directory.analytics
    since = now - timedelta(hours=rules.burst_hours)
    recent = {(region, keyword) for region, keyword in await session.execute(
        select(HotspotAlert.region, HotspotAlert.keyword)
        .where(HotspotAlert.kind == "burst", HotspotAlert.created_at > since))}
    covered: dict[str, set[int]] = defaultdict(set)
    alerts: list[HotspotAlert] = []
    for burst in await bursts(session, directory, now=now):
        if (burst.region, burst.keyword) in recent:
            covered[burst.region].update(burst.tickets)
            continue
        if set(burst.tickets) <= covered[burst.region]:
            continue
        covered[burst.region].update(burst.tickets)
        alert = HotspotAlert(
            key=f"burst:{burst.region}:{burst.keyword}:{now.strftime('%Y%m%d%H%M')}", kind="burst",
            region=burst.region, keyword=burst.keyword, count=len(burst.tickets), window_start=burst.window_start,
            window_end=burst.window_end, created_at=now, mailed=False,
            detail={"tickets": list(burst.tickets[:50])})
        session.add(alert)
        alerts.append(alert)
    await session.flush()
    return alerts


RISING_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}


async def raise_rising_alerts(session: AsyncSession, directory: Directory, rising: dict[str, list[Topic]], *,
                              now: datetime) -> list[HotspotAlert]:
    """New alerts for the first ``analytics.rising_alerts`` topics of each window of ``rising`` (window
    label → topics, as :func:`rising_topics` gives them for :data:`RISING_WINDOWS`) not already
    announced within that window."""
    top = directory.analytics.rising_alerts
    longest = max(RISING_WINDOWS.values())
    rows = await session.execute(select(HotspotAlert.keyword, HotspotAlert.detail, HotspotAlert.created_at)
                                 .where(HotspotAlert.kind == "rising", HotspotAlert.created_at > now - longest))
    announced = [(keyword, (detail or {}).get("window", ""), created_at) for keyword, detail, created_at in rows]
    alerts: list[HotspotAlert] = []
    for label, window in RISING_WINDOWS.items():
        for topic in rising.get(label, [])[:top]:
            if any(keyword == topic.keyword and (label == "7d" or seen == label) and created_at > now - window
                   for keyword, seen, created_at in announced):
                continue
            alert = HotspotAlert(
                key=f"rising:{label}:{topic.keyword}:{now.strftime('%Y%m%d%H%M')}", kind="rising", region=None,
                keyword=topic.keyword, count=topic.count, window_start=now - window, window_end=now,
                created_at=now, mailed=False, detail={"window": label, "previous": topic.previous})
            session.add(alert)
            alerts.append(alert)
            announced.append((topic.keyword, label, now))
    await session.flush()
    return alerts


# A mail the relay refused is tried again by later periods, this many times in all.
MAIL_ATTEMPTS = 3


async def unmailed_alerts(session: AsyncSession, *, since: datetime) -> list[HotspotAlert]:
    """Alerts raised since ``since`` whose mail has not gone yet (the relay was down, or the process
    stopped between raising and mailing) and that have attempts left."""
    found = (await session.scalars(select(HotspotAlert).where(HotspotAlert.mailed.is_(False),
                                                               HotspotAlert.created_at >= since)
                                   .order_by(HotspotAlert.id))).all()
    return [a for a in found if int((a.detail or {}).get("mail_attempts", 0)) < MAIL_ATTEMPTS]


async def recent_alerts(session: AsyncSession, *, since: datetime, limit: int = 50) -> list[HotspotAlert]:
    return list((await session.scalars(select(HotspotAlert).where(HotspotAlert.created_at >= since)
                                       .order_by(HotspotAlert.created_at.desc(), HotspotAlert.id.desc())
                                       .limit(limit))).all())


# The report reads at most about this many titles: a month of a busy city is a sample, not a census.
REPORT_SAMPLE = 20_000


async def top_keywords_by_region(session: AsyncSession, directory: Directory, *, start: datetime, end: datetime,
                                 top: int = 5) -> tuple[dict[str, list[tuple[str, int]]], int]:
    """The most frequent keywords of each region's tickets in [start, end) (the report's top issues),
    and one in how many tickets was read (1: all; above ``REPORT_SAMPLE`` an even sample, whose
    counts are scaled back up)."""
    total = int(await session.scalar(select(func.count()).select_from(Ticket).where(*_in_period(start, end))) or 0)
    every = max(1, -(-total // REPORT_SAMPLE))
    places = place_names(directory)
    counters: dict[str, Counter[str]] = defaultdict(Counter)
    for _, region, words in await _keywords_of(session, start, end, places, every=every):
        if region:
            counters[region].update(set(words))
    return {region: [(word, count * every) for word, count in counter.most_common(top)]
            for region, counter in counters.items()}, every


__all__ = [
    "GENERIC",
    "MAIL_ATTEMPTS",
    "RISING_WINDOWS",
    "Burst",
    "Topic",
    "bursts",
    "keywords",
    "place_names",
    "raise_burst_alerts",
    "raise_rising_alerts",
    "recent_alerts",
    "rising_topics",
    "top_keywords_by_region",
    "unmailed_alerts",
]
