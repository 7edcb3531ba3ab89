"""The analytics job in real worker processes: two workers refresh the rollups and raise a burst
exactly once (one live event, one mail to the supervisors through a real SMTP relay sink), a held
lock keeps a worker out, and a bad period stops start-up."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from config.local_time import LOCAL_TZ
from config.settings import SettingsError, load_settings
from gateway.infra.keys import RedisKeys
from gateway.infra.replies import REPLIES
from gateway.infra.resources import REDIS, SESSIONS
from gateway.worker.analytics import ANALYTICS_JOB
from tests.gateway.conftest import eventually
from tests.gateway.worker.test_sweep import relay, start_worker  # noqa: F401  (fixtures)
from tests.ticketing.analytics.test_rollup import _ticket
from ticketing.analytics import figures
from ticketing.analytics.figures import Scope
from ticketing.db.models.analytics import HotspotAlert
from ticketing.db.models.base import utcnow

SUPERVISORS = "banzhang@12345.pds.gov.cn"  # config/directory.yaml analytics.supervisor_emails
LAMPS = ("建设路路灯坏了", "建设路的路灯晚上不亮", "路灯不亮，建设路很黑", "建设路路灯闪烁", "路灯损坏无人修建设路")


async def test_two_workers_refresh_the_rollups_and_raise_a_burst_exactly_once(start_worker, relay):  # noqa: F811
    first = await start_worker(HOTLINE_ANALYTICS_SECONDS=0.2)
    now = utcnow()
    for n, title in enumerate(LAMPS):
        await _ticket(first[SESSIONS], now - timedelta(hours=n + 1), region="weidong", title=title)
    second = await start_worker(HOTLINE_ANALYTICS_SECONDS=0.2)
    mails = await eventually(lambda: _found(relay.to(SUPERVISORS, "卫东区")), timeout=30)
    mail = mails[0]
    assert "热点预警" in mail["Subject"] and "5件" in mail["Subject"] and "数据分析" in mail.get_content()

    async def mailed() -> list[HotspotAlert]:
        async with first[SESSIONS]() as session:
            alerts = list((await session.scalars(select(HotspotAlert))).all())
        return alerts if alerts and all(a.mailed for a in alerts) else []

    async def settled() -> list[HotspotAlert]:
        # Two workers raise alerts period by period: wait until every alert raised so far is mailed and
        # the sink holds one mail per alert (a second mail of one alert never settles and fails below).
        alerts = await mailed()
        both = {"burst", "rising"} <= {a.kind for a in alerts}
        return alerts if both and len(relay.to(SUPERVISORS, "热点预警")) == len(alerts) else []

    alerts = await eventually(settled)
    # One burst; the same five tickets are also a topic rising over 24 hours (none the day before).
    assert [a.kind for a in alerts].count("burst") == 1
    rising = {a.keyword for a in alerts if a.kind == "rising"}
    assert rising and all(a.detail["window"] == "24h" for a in alerts if a.kind == "rising")
    sent = len(relay.to(SUPERVISORS, "热点预警"))
    assert sent == len(alerts)
    # Many periods of both workers later: still the same alerts, one mail each.
    for app in (first, second):
        await app[ANALYTICS_JOB].run_once()
    assert len(relay.to(SUPERVISORS, "热点预警")) == sent
    async with first[SESSIONS]() as session:
        assert len((await session.scalars(select(HotspotAlert))).all()) == len(alerts)
    today = now.astimezone(LOCAL_TZ).date()
    async with first[SESSIONS]() as session:
        types = await figures.request_types(session, Scope(today - timedelta(days=1), today, region="weidong"))
    assert types == {"complaint": 5}


async def test_a_held_lock_keeps_a_worker_from_refreshing(start_worker, stack):  # noqa: F811
    app = await start_worker(HOTLINE_ANALYTICS_SECONDS=3600)
    keys = RedisKeys(stack.prefix)
    await app[REDIS].set(keys.key("analytics", "lock"), b"someone-else", ex=30)
    await _ticket(app[SESSIONS], utcnow() - timedelta(hours=1))
    assert (await app[ANALYTICS_JOB].run_once()).locked_out
    async with app[SESSIONS]() as session:
        assert await figures.request_types(session, Scope(date(2000, 1, 1), date.today() + timedelta(days=1))) == {}
    await app[REDIS].delete(keys.key("analytics", "lock"))
    run = await app[ANALYTICS_JOB].run_once()
    assert not run.locked_out and run.days >= 1


LEADERS = "leaders@12345.pds.gov.cn"  # analytics.leader_emails, with alert_leaders on


async def test_a_refused_mail_is_sent_by_a_restarted_worker_once_and_the_consoles_hear_it_live(
        start_worker, relay):  # noqa: F811
    relay.refuse = True
    first = await start_worker(HOTLINE_ANALYTICS_SECONDS=3600)
    events = first[REPLIES].subscribe(first[REPLIES].console_topic)
    assert await anext(events) is None  # subscribed
    now = utcnow()
    for n, title in enumerate(LAMPS):
        await _ticket(first[SESSIONS], now - timedelta(hours=n + 1), region="weidong", title=title)
    run = await first[ANALYTICS_JOB].run_once()
    burst = next(e for e in run.alerts if e["kind"] == "burst")
    assert burst["text"] == f"卫东区“{burst['keyword']}”48小时内5件，集中反映"
    heard = []
    while len(heard) < len(run.alerts):
        event = await asyncio.wait_for(anext(events), 10)
        if event is not None and event.get("type") == "hotspot":
            heard.append(event)
    assert {e["id"] for e in heard} == {e["id"] for e in run.alerts}
    assert any(e["kind"] == "rising" and "近24小时5件" in e["text"] for e in heard)
    await events.aclose()
    assert relay.mails == []
    async with first[SESSIONS]() as session:
        alerts = list((await session.scalars(select(HotspotAlert))).all())
    assert alerts and not any(a.mailed for a in alerts)
    assert all(a.detail["mail_attempts"] == 1 for a in alerts)
    await start_worker.stop(first)

    relay.refuse = False
    second = await start_worker(HOTLINE_ANALYTICS_SECONDS=3600)
    again = await second[ANALYTICS_JOB].run_once()
    assert again.alerts == ()  # nothing raised twice
    for address in (SUPERVISORS, LEADERS):
        assert len(relay.to(address, "热点预警")) == len(alerts)
    await second[ANALYTICS_JOB].run_once()
    assert len(relay.to(SUPERVISORS, "热点预警")) == len(alerts)
    async with second[SESSIONS]() as session:
        assert all(a.mailed for a in (await session.scalars(select(HotspotAlert))).all())


async def _found(items):
    return items


@pytest.mark.parametrize("value", ["0", "abc", "7200"])
def test_a_bad_analytics_period_stops_start_up_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("HOTLINE_ANALYTICS_SECONDS", value)
    with pytest.raises(SettingsError, match="HOTLINE_ANALYTICS_SECONDS"):
        load_settings()
