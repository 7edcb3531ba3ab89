"""Hot spots on a frozen clock: a burst of similar tickets in one region is raised once (and again
only after its window), one below the threshold or spread over regions is not; rising topics
against the previous period; the report's top keywords per region."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from tests.ticketing.analytics.test_rollup import _ticket
from tests.ticketing.factories import DIRECTORY
from ticketing.analytics.hotspots import (
    keywords,
    place_names,
    raise_burst_alerts,
    rising_topics,
    top_keywords_by_region,
)
from ticketing.db.models.analytics import HotspotAlert

NOW = datetime(2025, 6, 2, 4, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
LAMPS = ("建设路路灯坏了", "建设路的路灯晚上不亮", "路灯不亮，建设路很黑", "建设路路灯闪烁", "路灯损坏无人修建设路")


def test_keywords_leave_out_place_names_and_words_every_request_uses():
    places = place_names(DIRECTORY)
    words = keywords("卫东区建设路路灯坏了，希望尽快解决", places)
    assert "建设路" in words and "路灯" in words
    assert not {"卫东区", "希望", "解决", "尽快"} & set(words)


async def test_a_burst_in_one_region_is_raised_once_and_again_after_its_window(sessions):
    for n, title in enumerate(LAMPS):
        await _ticket(sessions, NOW - (n + 1) * 5 * HOUR, region="weidong", title=title)
    # The same topic elsewhere, and older than 48 h here: neither makes the burst bigger.
    await _ticket(sessions, NOW - 3 * HOUR, region="xinhua", title="建设路路灯坏了")
    await _ticket(sessions, NOW - 60 * HOUR, region="weidong", title="建设路路灯坏了")

    async with sessions() as session, session.begin():
        alerts = await raise_burst_alerts(session, DIRECTORY, now=NOW)
        raised = [(a.region, a.keyword, a.count) for a in alerts]
    # 路灯 and 建设路 name the same five tickets: one alert.
    assert len(raised) == 1 and raised[0][0] == "weidong" and raised[0][1] in ("路灯", "建设路") and raised[0][2] == 5

    async with sessions() as session, session.begin():
        assert await raise_burst_alerts(session, DIRECTORY, now=NOW + HOUR) == []  # idempotent
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(HotspotAlert)) == 1

    # Two days on, five new tickets on the same topic are a new burst.
    later = NOW + 50 * HOUR
    for n, title in enumerate(LAMPS):
        await _ticket(sessions, later - (n + 1) * HOUR, region="weidong", title=title)
    async with sessions() as session, session.begin():
        again = await raise_burst_alerts(session, DIRECTORY, now=later)
    assert [(a.region, a.count) for a in again] == [("weidong", 5)]


async def test_four_similar_tickets_or_five_spread_over_regions_are_no_burst(sessions):
    for n, title in enumerate(LAMPS[:4]):
        await _ticket(sessions, NOW - (n + 1) * HOUR, region="weidong", title=title)
    for n, region in enumerate(("xinhua", "zhanhe", "ruzhou", "baofeng")):
        await _ticket(sessions, NOW - (n + 1) * HOUR, region=region, title="小区停水三天了")
    async with sessions() as session, session.begin():
        assert await raise_burst_alerts(session, DIRECTORY, now=NOW) == []


async def test_a_topic_rising_against_the_previous_day_is_listed_a_steady_one_is_not(sessions):
    for n in range(6):
        await _ticket(sessions, NOW - (n + 1) * 2 * HOUR, region="zhanhe", title="工地夜间施工噪音扰民")
    await _ticket(sessions, NOW - 30 * HOUR, region="zhanhe", title="工地夜间施工噪音扰民")
    for n in range(5):  # steady: five yesterday, five today
        await _ticket(sessions, NOW - (n + 1) * HOUR, region="xinhua", title="小区停水")
        await _ticket(sessions, NOW - (n + 25) * HOUR, region="xinhua", title="小区停水")
    async with sessions() as session:
        topics = await rising_topics(session, DIRECTORY, now=NOW, window=timedelta(hours=24))
        words, every = await top_keywords_by_region(session, DIRECTORY, start=NOW - 48 * HOUR, end=NOW)
    rising = {t.keyword: (t.count, t.previous) for t in topics}
    assert rising and all(value == (6, 1) for value in rising.values())
    assert "停水" not in rising
    assert words["xinhua"][0] == ("停水", 10) and every == 1


async def test_the_reports_keywords_of_a_busy_period_come_from_an_even_sample_scaled_up(sessions, monkeypatch):
    from ticketing.analytics import hotspots

    monkeypatch.setattr(hotspots, "REPORT_SAMPLE", 4)
    for n in range(12):
        await _ticket(sessions, NOW - (n + 1) * HOUR, region="xinhua", title="小区停水")
    async with sessions() as session:
        words, every = await top_keywords_by_region(session, DIRECTORY, start=NOW - 48 * HOUR, end=NOW)
    assert every == 3 and words["xinhua"][0] == ("停水", 12)  # 4 of 12 read, each counting for 3


async def test_only_the_top_rising_topics_raise_an_alert_once_per_window(sessions):
    from ticketing.analytics.hotspots import Topic, raise_rising_alerts

    two = DIRECTORY.model_copy(update={"analytics": DIRECTORY.analytics.model_copy(update={"rising_alerts": 2})})
    rising = {"24h": [Topic("路灯", 9, 1), Topic("井盖", 8, 2), Topic("停水", 7, 0)], "7d": [Topic("路灯", 30, 5)]}
    async with sessions() as session, session.begin():
        first = await raise_rising_alerts(session, two, rising, now=NOW)
    # The 7-day "路灯" is the 24-hour one's news: not a second alert.
    assert [(a.keyword, a.detail["window"]) for a in first] == [("路灯", "24h"), ("井盖", "24h")]
    async with sessions() as session, session.begin():
        assert await raise_rising_alerts(session, two, rising, now=NOW + 23 * HOUR) == []
    async with sessions() as session, session.begin():
        later = await raise_rising_alerts(session, two, rising, now=NOW + 25 * HOUR)
    assert [(a.keyword, a.detail["window"]) for a in later] == [("路灯", "24h"), ("井盖", "24h")]
