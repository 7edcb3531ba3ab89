"""analytics: daily and monthly rollups of tickets, daily ones of bot answers, their watermark, hot-spot alerts; indexes
the incremental refresh reads (tickets.updated_at, entries.created_at; the index on tickets.created_at
comes with 0009_open311_clusters)

Revision ID: 0008_analytics
Revises: 0006_read_markers
Create Date: 2026-12-02 01:00:00

Hand-written; runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_analytics"
down_revision = "0006_read_markers"
branch_labels = None
depends_on = None

HOURS = [f"h{hour:02d}" for hour in range(24)]


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _counts() -> list[sa.Column]:
    return [sa.Column(name, sa.Integer(), nullable=False)
            for name in ("tickets", "emergencies", "predicted", "corrected", *HOURS)]


def upgrade() -> None:
    for table, period in (("analytics_daily", "day"), ("analytics_monthly", "month")):
        op.create_table(
            table,
            sa.Column(period, sa.Date(), nullable=False),
            sa.Column("channel", sa.String(32), nullable=False),
            sa.Column("department", sa.String(64), nullable=False),
            sa.Column("region", sa.String(64), nullable=False),
            sa.Column("request_type", sa.String(32), nullable=False),
            *_counts(),
            sa.PrimaryKeyConstraint(period, "channel", "department", "region", "request_type"),
        )
    op.create_table(
        "analytics_monthly_place",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("request_type", sa.String(32), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "department", "region", "request_type"),
    )
    op.create_table(
        "analytics_daily_channel",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        *_counts(),
        sa.PrimaryKeyConstraint("day", "channel"),
    )
    op.create_table(
        "analytics_bot_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "channel"),
    )
    op.create_table(
        "analytics_state",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "hotspot_alerts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("region", sa.String(64), nullable=True),
        sa.Column("keyword", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_start", _utc(), nullable=False),
        sa.Column("window_end", _utc(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("mailed", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_hotspot_alerts_key"),
    )
    op.create_index("ix_hotspot_alerts_created", "hotspot_alerts", ["created_at"])
    op.create_index("ix_analytics_daily_department_day", "analytics_daily", ["department", "day", "channel", "tickets"])
    op.create_index("ix_analytics_daily_region_day", "analytics_daily", ["region", "day", "channel", "tickets"])
    op.create_index("ix_analytics_daily_type_day", "analytics_daily", ["request_type", "day", "channel", "tickets"])
    op.create_index("ix_tickets_updated_at", "tickets", ["updated_at"])
    op.create_index("ix_entries_created_at", "entries", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_entries_created_at", table_name="entries")
    op.drop_index("ix_tickets_updated_at", table_name="tickets")
    op.drop_index("ix_hotspot_alerts_created", table_name="hotspot_alerts")
    op.drop_table("hotspot_alerts")
    op.drop_table("analytics_state")
    op.drop_table("analytics_bot_daily")
    op.drop_index("ix_analytics_daily_type_day", table_name="analytics_daily")
    op.drop_index("ix_analytics_daily_region_day", table_name="analytics_daily")
    op.drop_index("ix_analytics_daily_department_day", table_name="analytics_daily")
    op.drop_table("analytics_daily_channel")
    op.drop_table("analytics_monthly_place")
    op.drop_table("analytics_monthly")
    op.drop_table("analytics_daily")
