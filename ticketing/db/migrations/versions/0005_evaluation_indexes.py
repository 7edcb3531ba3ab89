"""the evaluation (考评) reads a period's lead dispatches: an index on (role, at); a unit's desk
lists the work it finished or returned, newest first: an index on (target, state, ended_at)

Revision ID: 0005_evaluation_indexes
Revises: 0004_handling_loop
Create Date: 2026-12-02 21:00:00

Hand-written; runs on SQLite and PostgreSQL.  Without it a month's report scans every dispatch
(bench/evaluation.py: 200,000 tickets).
"""
from __future__ import annotations

from alembic import op

revision = "0005_evaluation_indexes"
down_revision = "0004_handling_loop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_dispatches_role_at", "dispatches", ["role", "at"])
    op.create_index("ix_dispatches_target_state_ended", "dispatches", ["target", "state", "ended_at"])


def downgrade() -> None:
    op.drop_index("ix_dispatches_target_state_ended", table_name="dispatches")
    op.drop_index("ix_dispatches_role_at", table_name="dispatches")
