"""Gathering (issue #19): the details the bot asked for, as structured ticket fields, and the time a
ticket in the ``gathering`` status is released to the operators' queue at the latest

Revision ID: 0010_gathering
Revises: 0008_analytics
Create Date: 2026-12-02 04:00:00

Hand-written; runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_gathering"
down_revision = "0008_analytics"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("location_detail", sa.String(200), nullable=True))
        batch.add_column(sa.Column("event_time", sa.String(100), nullable=True))
        batch.add_column(sa.Column("gathering_until", TS, nullable=True))
        batch.add_column(sa.Column("gathering_gaps", sa.JSON(), nullable=True))
    # The release job reads only the few tickets still gathering.
    op.create_index("ix_tickets_gathering_until", "tickets", ["gathering_until"])


def downgrade() -> None:
    op.drop_index("ix_tickets_gathering_until", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("gathering_gaps")
        batch.drop_column("gathering_until")
        batch.drop_column("event_time")
        batch.drop_column("location_detail")
