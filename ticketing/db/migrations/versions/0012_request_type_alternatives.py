"""``predictions.request_type_alternatives``: the request-type classifier's ranking (best first, with its
confidence), so that the console can show an operator how sure the bot was of the type and offer the
runner-up (issue 16: the second type is right on most of the classifier's errors)

Revision ID: 0012_request_type_alternatives
Revises: 0011_drop_status_index
Create Date: 2026-12-04 18:30:00

Hand-written; runs on SQLite and PostgreSQL. Earlier predictions keep NULL (shown as before).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_request_type_alternatives"
down_revision = "0011_drop_status_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("request_type_alternatives", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("request_type_alternatives")
