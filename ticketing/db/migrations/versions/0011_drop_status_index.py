"""Drop ``ix_tickets_status``: three indexes lead with ``status`` (status + created_at, + urgent +
created_at, + assignee) and serve every lookup by status alone, so the single-column index only
cost a B-tree insert for each new ticket and one more for each status change

Revision ID: 0011_drop_status_index
Revises: 0010_gathering
Create Date: 2026-12-03 17:00:00

Hand-written; runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

from alembic import op

revision = "0011_drop_status_index"
down_revision = "0010_gathering"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_tickets_status", table_name="tickets")


def downgrade() -> None:
    op.create_index("ix_tickets_status", "tickets", ["status"])
