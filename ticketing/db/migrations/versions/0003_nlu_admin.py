"""admins' NLU working copy: intents, examples, answers, resources, model registry, training jobs

Revision ID: 0003_nlu_admin
Revises: 0002_console
Create Date: 2026-11-28 21:00:00

Hand-written; runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_nlu_admin"
down_revision = "0002_console"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "nlu_intents",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "nlu_examples",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("intent_id", BigId, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(["intent_id"], ["nlu_intents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_nlu_examples_intent_id", "nlu_examples", ["intent_id"])
    op.create_table(
        "nlu_answers",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "nlu_resources",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("examples", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "nlu_models",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("data_hash", sa.String(64), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("epochs", sa.Integer(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trained_by", sa.String(100), nullable=False),
        sa.Column("trained_at", TS, nullable=False),
        sa.Column("train_seconds", sa.Float(), nullable=True),
        sa.Column("activated_at", TS, nullable=True),
        sa.Column("activated_by", sa.String(100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version"),
    )
    op.create_table(
        "nlu_training_jobs",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("data_hash", sa.String(64), nullable=True),
        sa.Column("epochs", sa.Integer(), nullable=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("model_id", BigId, nullable=True),
        sa.ForeignKeyConstraint(["model_id"], ["nlu_models.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_nlu_training_jobs_status", "nlu_training_jobs", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_nlu_training_jobs_status", table_name="nlu_training_jobs")
    op.drop_table("nlu_training_jobs")
    op.drop_table("nlu_models")
    op.drop_table("nlu_resources")
    op.drop_table("nlu_answers")
    op.drop_index("ix_nlu_examples_intent_id", table_name="nlu_examples")
    op.drop_table("nlu_examples")
    op.drop_table("nlu_intents")
