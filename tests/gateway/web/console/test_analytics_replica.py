"""DATABASE_READ_URL: the analytics pages read the replica, everything else the primary.  The
"replica" is a second PostgreSQL database on the test server holding figures the primary has not:
what the dashboard shows proves which one it read."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import date

import pytest

from gateway.infra.resources import READ_SESSIONS, SESSIONS
from tests.conftest import PG_ADMIN_URL, in_thread
from ticketing.db.engine import create_engine, session_factory
from ticketing.db.models.analytics import DailyChannelVolume, DailyVolume, MonthlyPlaceVolume, MonthlyVolume


@pytest.fixture
def backend() -> str:
    return "server"


@pytest.fixture(scope="module")
def replica_url() -> Iterator[str]:
    import asyncpg

    from tests.conftest import servers_available
    from ticketing.db.migrate import upgrade

    if not servers_available():
        pytest.skip("PostgreSQL/Redis servers are not reachable on 127.0.0.1")
    name = f"hotline_replica_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    in_thread(asyncio.run, admin(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    in_thread(upgrade, url)
    yield url
    in_thread(asyncio.run, admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def console_settings(replica_url) -> dict:
    return {"DATABASE_READ_URL": replica_url}


async def _seed_replica(url: str, tickets: int) -> None:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            for table in (DailyVolume, DailyChannelVolume, MonthlyVolume, MonthlyPlaceVolume):
                await session.execute(table.__table__.delete())
            day, month = date(2025, 3, 3), date(2025, 3, 1)
            cell = {"department": "transport", "region": "xinhua", "request_type": "consult", "tickets": tickets}
            session.add(DailyVolume(day=day, channel="web", **cell, h10=tickets))
            session.add(MonthlyVolume(month=month, channel="web", **cell, h10=tickets))
            session.add(MonthlyPlaceVolume(month=month, **cell))
            session.add(DailyChannelVolume(day=day, channel="web", tickets=tickets, h10=tickets))
    finally:
        await engine.dispose()


async def test_the_dashboard_reads_the_replica_when_one_is_configured(console, replica_url):
    client, agent, _ = console
    app = client.app
    assert app[READ_SESSIONS] is not app[SESSIONS]
    await _seed_replica(replica_url, 7)
    sup = await agent("chen", role="supervisor")  # the account lives on the primary only
    body = await (await sup.get("/api/v1/console/analytics?month=2025-03")).json()
    assert body["total"] == 7
    assert [(t["code"], t["count"]) for t in body["request_types"]] == [("consult", 7)]
    series = {s["code"]: s["data"] for s in body["volume_by_day"]["series"]}
    assert series["web"][2] == 7
    # The primary has none of it: a dashboard on the primary would show nothing.
    async with app[SESSIONS]() as session:
        assert (await session.get(DailyVolume, (date(2025, 3, 3), "web", "transport", "xinhua", "consult"))) is None
    report = await sup.get("/console/analytics/report?month=2025-03")
    assert report.status == 200 and "7" in await report.text()


async def test_without_a_replica_the_analytics_share_the_primary_sessions(make_client):
    client = await make_client()
    assert client.app[READ_SESSIONS] is client.app[SESSIONS]
