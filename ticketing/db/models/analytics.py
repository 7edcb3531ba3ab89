"""Analytics rollups (daily counts the dashboard reads instead of scanning tickets), their
refresh watermark, and the hot-spot alerts already raised (so each burst is announced once)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Index, Integer, PrimaryKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.models.base import Base, BigId, utcnow
from ticketing.db.models.tickets import Entry, Ticket

# A missing classification is stored as "" so it can take part in the primary key.
NONE = ""
HOURS = tuple(f"h{hour:02d}" for hour in range(24))


class _Counts(Base):
    """The counts of a rollup row.  ``h00``…``h23`` split ``tickets`` by the local hour of creation,
    so the hour-of-day chart honours the same filters without a second table."""

    __abstract__ = True

    tickets: Mapped[int] = mapped_column(Integer, default=0)
    emergencies: Mapped[int] = mapped_column(Integer, default=0)
    predicted: Mapped[int] = mapped_column(Integer, default=0)  # pre-classified by the bot
    corrected: Mapped[int] = mapped_column(Integer, default=0)  # … and an operator changed a field of it
    h00: Mapped[int] = mapped_column(Integer, default=0)
    h01: Mapped[int] = mapped_column(Integer, default=0)
    h02: Mapped[int] = mapped_column(Integer, default=0)
    h03: Mapped[int] = mapped_column(Integer, default=0)
    h04: Mapped[int] = mapped_column(Integer, default=0)
    h05: Mapped[int] = mapped_column(Integer, default=0)
    h06: Mapped[int] = mapped_column(Integer, default=0)
    h07: Mapped[int] = mapped_column(Integer, default=0)
    h08: Mapped[int] = mapped_column(Integer, default=0)
    h09: Mapped[int] = mapped_column(Integer, default=0)
    h10: Mapped[int] = mapped_column(Integer, default=0)
    h11: Mapped[int] = mapped_column(Integer, default=0)
    h12: Mapped[int] = mapped_column(Integer, default=0)
    h13: Mapped[int] = mapped_column(Integer, default=0)
    h14: Mapped[int] = mapped_column(Integer, default=0)
    h15: Mapped[int] = mapped_column(Integer, default=0)
    h16: Mapped[int] = mapped_column(Integer, default=0)
    h17: Mapped[int] = mapped_column(Integer, default=0)
    h18: Mapped[int] = mapped_column(Integer, default=0)
    h19: Mapped[int] = mapped_column(Integer, default=0)
    h20: Mapped[int] = mapped_column(Integer, default=0)
    h21: Mapped[int] = mapped_column(Integer, default=0)
    h22: Mapped[int] = mapped_column(Integer, default=0)
    h23: Mapped[int] = mapped_column(Integer, default=0)


class _Cube(_Counts):
    """Tickets per channel × department × region × request type over one period (a day, a month)."""

    __abstract__ = True

    channel: Mapped[str] = mapped_column(String(32))
    department: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(64))
    request_type: Mapped[str] = mapped_column(String(32))


class DailyVolume(_Cube):
    """The cube of one local day."""

    __tablename__ = "analytics_daily"
    __table_args__ = (PrimaryKeyConstraint("day", "channel", "department", "region", "request_type"),)

    day: Mapped[date] = mapped_column(Date)


class MonthlyVolume(_Cube):
    """The cube of one local calendar month (``month``: its first day), summed from its days: a year's
    query reads twelve months' rows instead of 365 days' (:mod:`ticketing.analytics.figures`)."""

    __tablename__ = "analytics_monthly"
    __table_args__ = (PrimaryKeyConstraint("month", "channel", "department", "region", "request_type"),)

    month: Mapped[date] = mapped_column(Date)


class MonthlyPlaceVolume(Base):
    """Tickets per local calendar month × department × region × request type, all channels together
    (a fifth of the monthly cube's rows): the heat map and the type split of a long period."""

    __tablename__ = "analytics_monthly_place"
    __table_args__ = (PrimaryKeyConstraint("month", "department", "region", "request_type"),)

    month: Mapped[date] = mapped_column(Date)
    department: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(64))
    request_type: Mapped[str] = mapped_column(String(32))
    tickets: Mapped[int] = mapped_column(Integer, default=0)


class DailyChannelVolume(_Counts):
    """The counts per local day and channel only (a few rows a day): every chart that neither groups
    nor filters by department, region or type reads this instead of the cube."""

    __tablename__ = "analytics_daily_channel"
    __table_args__ = (PrimaryKeyConstraint("day", "channel"),)

    day: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(32))


class DailyBotAnswers(Base):
    """Messages the bot answered on one local day without making a ticket (FAQ), per channel."""

    __tablename__ = "analytics_bot_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    answers: Mapped[int] = mapped_column(Integer, default=0)


class RollupState(Base):
    """How far the rollups have read: the newest ``tickets.updated_at`` / ``entries.created_at`` seen."""

    __tablename__ = "analytics_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[datetime] = mapped_column()


class HotspotAlert(Base):
    """A burst of similar tickets in one region (or a rising topic), raised once."""

    __tablename__ = "hotspot_alerts"
    __table_args__ = (UniqueConstraint("key", name="uq_hotspot_alerts_key"),
                      Index("ix_hotspot_alerts_created", "created_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # "burst:<region>:<keyword>:<n>": n counts the bursts of that pair, so a later one is new.
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # burst | rising
    region: Mapped[str | None] = mapped_column(String(64))
    keyword: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime] = mapped_column()
    window_end: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    mailed: Mapped[bool] = mapped_column(default=False)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# What the rollup refresh reads: tickets changed since the watermark and entries created since it
# (migration 0008).  A run of days' tickets is found by ix_tickets_created_at, which the Open311 list
# needs too (migration 0009, ``ticketing.db.models.open311``).
Index("ix_tickets_updated_at", Ticket.updated_at)
Index("ix_entries_created_at", Entry.created_at)
# A volume-per-day chart filtered by department, region or type reads that one's days from the index
# alone (day, channel and count are in it), not every cell of the year.
Index("ix_analytics_daily_department_day", DailyVolume.department, DailyVolume.day, DailyVolume.channel,
      DailyVolume.tickets)
Index("ix_analytics_daily_region_day", DailyVolume.region, DailyVolume.day, DailyVolume.channel, DailyVolume.tickets)
Index("ix_analytics_daily_type_day", DailyVolume.request_type, DailyVolume.day, DailyVolume.channel,
      DailyVolume.tickets)
