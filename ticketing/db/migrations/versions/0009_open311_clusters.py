"""Open311: the API keys of the third-party city apps (only their SHA-256 is stored), and an index
on tickets.created_at for its request list (the newest tickets of a window, any status)

Revision ID: 0009_open311_clusters
Revises: 0005_evaluation_indexes
Create Date: 2026-12-02 01:00:00

Hand-written; runs on SQLite and PostgreSQL.  Duplicate clustering (并单) needs no table: its
index is built in memory from the open tickets (ticketing/duplicates/finder.py says why).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_open311_clusters"
down_revision = "0005_evaluation_indexes"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "open311_keys",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("last_used_at", TS, nullable=True),
        sa.UniqueConstraint("name", name="uq_open311_keys_name"),
        sa.UniqueConstraint("key_hash", name="uq_open311_keys_key_hash"),
    )
    op.create_index("ix_tickets_created_at", "tickets", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_created_at", table_name="tickets")
    op.drop_table("open311_keys")
