"""The daily rollups: exact counts after a first refresh, an operator's correction moving a ticket
between cells on the next refresh, bot answers counted per channel, and a rebuild that changes
nothing when run twice; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select, update

from config.local_time import LOCAL_TZ
from tests.ticketing.factories import DIRECTORY
from ticketing.accounts.roles import Actor
from ticketing.analytics import figures, rollup
from ticketing.analytics.figures import Scope
from ticketing.db.models.analytics import DailyVolume
from ticketing.db.models.tickets import Ticket
from ticketing.tickets import store
from ticketing.tickets.classification import set_classification

# 2025-03-10 local (Asia/Shanghai): 09:xx, 14:xx and 23:30; the last one is 15:30 UTC the same day.
MON_09 = datetime(2025, 3, 10, 1, 15, tzinfo=timezone.utc)
MON_14 = datetime(2025, 3, 10, 6, 40, tzinfo=timezone.utc)
MON_2330 = datetime(2025, 3, 10, 15, 30, tzinfo=timezone.utc)
# 2025-03-11 00:30 local is still 03-10 in UTC: it belongs to the 11th.
TUE_0030 = datetime(2025, 3, 10, 16, 30, tzinfo=timezone.utc)
MARCH = Scope(date(2025, 3, 1), date(2025, 3, 31))


async def _ticket(sessions, at, *, channel="web", department="urban_management", region="weidong",
                  request_type="complaint", urgent=False, predicted=True, title="建设路路灯坏了") -> int:
    async with sessions() as session, session.begin():
        conv = await store.lock_conversation(session, channel, "s" + uuid.uuid4().hex, at)
        ticket = await store.create_ticket(
            session, conversation=conv, channel=channel, actor="bot", title=title,
            department=department if predicted else None, region=region if predicted else None,
            request_type=request_type if predicted else None, urgent=urgent,
            classification="predicted" if predicted else "unclassified", at=at)
        entry = await store.add_entry(session, conversation=conv, ticket=ticket, author="citizen", channel=channel,
                                      text=title, at=at)
        if predicted:
            await store.add_prediction(session, ticket, entry=entry, department=department, region=region,
                                       request_type=request_type, intent="x", confidence=0.9, alternatives=[],
                                       model_version="m")
        return ticket.id


async def _faq(sessions, at, channel="wechat") -> None:
    async with sessions() as session, session.begin():
        conv = await store.lock_conversation(session, channel, "s" + uuid.uuid4().hex, at)
        await store.add_entry(session, conversation=conv, ticket=None, author="citizen", channel=channel,
                              text="公积金怎么提取", at=at)
        await store.add_entry(session, conversation=conv, ticket=None, author="bot", channel=channel,
                              text="您可以……")


async def _seed(sessions) -> dict[str, int]:
    ids = {
        "a": await _ticket(sessions, MON_09),
        "b": await _ticket(sessions, MON_14, channel="wechat", department="transport", region="xinhua",
                           request_type="consult"),
        "c": await _ticket(sessions, MON_2330, urgent=True),
        "d": await _ticket(sessions, TUE_0030, channel="email", predicted=False),
    }
    return ids


async def _refresh(sessions) -> rollup.Refresh:
    async with sessions() as session, session.begin():
        return await rollup.refresh(session)


async def test_a_first_refresh_counts_every_ticket_by_local_day_hour_and_dimension(sessions):
    await _seed(sessions)
    done = await _refresh(sessions)
    assert done.days == (date(2025, 3, 10), date(2025, 3, 11))
    async with sessions() as session:
        by_day = await figures.volume_by_day(session, MARCH)
        assert by_day["channels"]["web"][9] == 2 and by_day["channels"]["wechat"][9] == 1
        assert by_day["channels"]["email"][10] == 1 and sum(by_day["channels"]["email"]) == 1
        by_hour = await figures.volume_by_hour(session, MARCH)
        assert by_hour["web"][9] == 1 and by_hour["web"][23] == 1 and by_hour["wechat"][14] == 1
        assert by_hour["email"][0] == 1
        assert await figures.heat_map(session, MARCH) == [("", "", 1), ("transport", "xinhua", 1),
                                                         ("urban_management", "weidong", 2)]
        assert await figures.request_types(session, MARCH) == {"": 1, "complaint": 2, "consult": 1}
        bot = await figures.bot_share(session, MARCH)
        counts = (bot["tickets"], bot["emergencies"], bot["handoffs"], bot["predicted"], bot["corrected"])
        assert counts == (4, 1, 3, 3, 0)
        filtered = await figures.request_types(session, Scope(date(2025, 3, 1), date(2025, 3, 31), region="weidong"))
        assert filtered == {"complaint": 2}
        one_day = await figures.heat_map(session, Scope(date(2025, 3, 11), date(2025, 3, 11)))
        assert one_day == [("", "", 1)]


async def test_a_correction_moves_the_ticket_on_the_next_refresh_and_counts_as_corrected(sessions):
    ids = await _seed(sessions)
    async with sessions() as session, session.begin():
        # Seeded long ago: a refresh without a late-commit margin no longer sees them as changed.
        await session.execute(update(Ticket).values(updated_at=datetime(2025, 3, 12, tzinfo=timezone.utc)))
    async with sessions() as session, session.begin():
        await rollup.refresh(session, margin=timedelta(0))
    async with sessions() as session, session.begin():
        ticket = await session.get(Ticket, ids["a"])
        await set_classification(session, ticket, Actor("li", "李", "operator"), DIRECTORY,
                                 values={"department": "housing_construction"})
    async with sessions() as session, session.begin():
        done = await rollup.refresh(session, margin=timedelta(0))
    assert done.days == (date(2025, 3, 10),)  # only the changed ticket's day is rebuilt
    async with sessions() as session:
        heat = await figures.heat_map(session, MARCH)
        assert ("housing_construction", "weidong", 1) in heat and ("urban_management", "weidong", 1) in heat
        bot = await figures.bot_share(session, MARCH)
        assert (bot["predicted"], bot["corrected"], bot["correction_rate_pct"]) == (3, 1, 33.33)
    # Nothing changed since: nothing to rebuild.
    async with sessions() as session, session.begin():
        assert (await rollup.refresh(session, margin=timedelta(0))).days == ()


async def test_bot_answers_without_a_ticket_are_counted_per_channel(sessions):
    await _seed(sessions)
    await _faq(sessions, MON_09)
    await _faq(sessions, MON_09)
    await _faq(sessions, MON_09, channel="web")
    await _refresh(sessions)
    async with sessions() as session:
        bot = await figures.bot_share(session, MARCH)
        # The bot's answers are stored with the current time: count over every day up to today, the
        # city's today (between 00:00 and 08:00 Beijing time the machine's UTC date is still yesterday).
        today = datetime.now(LOCAL_TZ).date()
        everything = await figures.bot_share(session, Scope(date(2025, 1, 1), today))
        wechat = await figures.bot_share(session, Scope(date(2025, 1, 1), today, channel="wechat"))
        by_type = await figures.bot_share(session, Scope(date(2025, 1, 1), today, request_type="consult"))
    assert everything["faq_answers"] == 3 and wechat["faq_answers"] == 2
    assert everything["bot_share_pct"] == round(100 * (3 + 1) / (3 + 4), 2)
    assert by_type["faq_answers"] is None and by_type["bot_share_pct"] is None
    assert bot["tickets"] == 4


async def test_rebuilding_a_day_twice_or_from_scratch_gives_the_same_rows(sessions):
    await _seed(sessions)
    await _refresh(sessions)

    async def rows():
        async with sessions() as session:
            return sorted(tuple(r) for r in (await session.execute(
                select(DailyVolume.day, DailyVolume.channel, DailyVolume.department, DailyVolume.tickets,
                       DailyVolume.h09, DailyVolume.h23))).all())

    first = await rows()
    async with sessions() as session, session.begin():
        await rollup.rebuild_day(session, date(2025, 3, 10))
        await rollup.rebuild_day(session, date(2025, 3, 10))
    assert await rows() == first
    async with sessions() as session, session.begin():
        await rollup.rebuild_all(session)
    assert await rows() == first
    async with sessions() as session:
        # a and c share a cell (web, urban_management, weidong, complaint on the 10th).
        assert await session.scalar(select(func.count()).select_from(DailyVolume)) == 3


async def test_the_backlog_counts_open_tickets_their_deadline_and_age(sessions):
    ids = await _seed(sessions)
    now = datetime(2025, 3, 20, 4, 0, tzinfo=timezone.utc)
    async with sessions() as session, session.begin():
        late = await session.get(Ticket, ids["b"])
        late.deadline = datetime(2025, 3, 15, tzinfo=timezone.utc)
        done = await session.get(Ticket, ids["d"])
        done.status = "closed"
    async with sessions() as session:
        backlog = await figures.backlog(session, MARCH, now=now)
        weidong = await figures.backlog(session, Scope(MARCH.first, MARCH.last, region="weidong"), now=now)
    assert backlog["open"] == 3 and backlog["overdue"] == 1
    assert {a["label"]: a["count"] for a in backlog["ages"]}["7-15天"] == 3
    assert weidong["open"] == 2 and weidong["overdue"] == 0


async def test_a_period_of_whole_months_and_loose_days_counts_each_ticket_once(sessions):
    feb28 = datetime(2025, 2, 28, 4, 0, tzinfo=timezone.utc)
    apr1 = datetime(2025, 4, 1, 4, 0, tzinfo=timezone.utc)
    await _seed(sessions)  # four in March (10th and 11th)
    await _ticket(sessions, feb28, region="xinhua")
    await _ticket(sessions, apr1, region="xinhua", request_type="help")
    await _refresh(sessions)
    async with sessions() as session:
        for first, last, total in ((date(2025, 2, 20), date(2025, 4, 1), 6),  # days + March + a day
                                   (date(2025, 2, 1), date(2025, 3, 31), 5),  # two whole months
                                   (date(2025, 2, 28), date(2025, 3, 10), 4),  # days only
                                   (date(2025, 3, 11), date(2025, 4, 30), 2),  # March minus 10 days + April
                                   (date(2025, 3, 11), date(2025, 3, 31), 1),  # March minus its first 10 days
                                   (date(2025, 3, 2), date(2025, 4, 1), 5),  # March minus the 1st + a day
                                   (date(2025, 2, 20), date(2025, 3, 10), 4)):  # days only
            scope = Scope(first, last)
            types = await figures.request_types(session, scope)
            hours = await figures.volume_by_hour(session, scope)
            heat = await figures.heat_map(session, scope)
            bot = await figures.bot_share(session, scope)
            by_day = await figures.volume_by_day(session, scope)
            assert sum(types.values()) == total, (first, last)
            assert sum(sum(v) for v in hours.values()) == total
            assert sum(n for _, _, n in heat) == total and bot["tickets"] == total
            assert sum(sum(v) for v in by_day["channels"].values()) == total
        xinhua = Scope(date(2025, 2, 20), date(2025, 4, 1), region="xinhua")
        assert await figures.request_types(session, xinhua) == {"complaint": 1, "consult": 1, "help": 1}
        assert sum(sum(v) for v in (await figures.volume_by_day(session, xinhua))["channels"].values()) == 3
        # The cube (region filter) and the per-channel table (none) agree on the hours and the bot's share.
        assert sum(sum(v) for v in (await figures.volume_by_hour(session, xinhua)).values()) == 3
        assert (await figures.bot_share(session, xinhua))["tickets"] == 3
        web = Scope(date(2025, 2, 20), date(2025, 4, 1), channel="web")
        assert (await figures.volume_by_hour(session, web))["web"][9] == 1
        assert (await figures.bot_share(session, web))["emergencies"] == 1


def test_changed_days_are_rebuilt_in_runs_of_consecutive_days():
    days = [date(2025, 1, 30), date(2025, 1, 31), date(2025, 2, 1), date(2025, 2, 5)]
    assert list(rollup._runs(days)) == [(date(2025, 1, 30), date(2025, 2, 1)), (date(2025, 2, 5), date(2025, 2, 5))]
    year = [date(2025, 1, 1) + timedelta(days=n) for n in range(70)]
    assert [(b - a).days + 1 for a, b in rollup._runs(year)] == [31, 31, 8]


def test_a_period_is_read_as_whole_months_months_less_a_few_days_and_loose_days():
    def shape(first, last):
        return [(cube.__tablename__, sign) for cube, _, sign in figures._pieces(Scope(first, last))]

    assert shape(date(2025, 1, 1), date(2025, 12, 31)) == [("analytics_monthly", 1)]
    assert shape(date(2025, 3, 5), date(2025, 3, 9)) == [("analytics_daily", 1)]
    # The last 365 days on 2026-12-02: December 2025 less its first two days, eleven months, two days.
    assert shape(date(2025, 12, 3), date(2026, 12, 2)) == [
        ("analytics_monthly", 1), ("analytics_daily", -1), ("analytics_monthly", 1), ("analytics_daily", 1)]
