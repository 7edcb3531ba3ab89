"""the console's unread marker: when each console user last opened each ticket

Revision ID: 0006_read_markers
Revises: 0009_open311_clusters
Create Date: 2026-12-03 01:00:00

Hand-written; runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_read_markers"
down_revision = "0009_open311_clusters"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "read_markers",
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("ticket_id", BigId, sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", "ticket_id"),
    )


def downgrade() -> None:
    op.drop_table("read_markers")
