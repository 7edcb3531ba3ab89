"""operator console: accounts, audit log, classification changes, training suggestions,
canned replies, dispatches; queue indexes

Revision ID: 0002_console
Revises: 0001_initial
Create Date: 2026-11-28 10:00:00

Hand-written; runs on SQLite (batch mode for the index on an existing table) and PostgreSQL.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_console"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", TS, nullable=True),
        sa.Column("on_shift", sa.Boolean(), nullable=False),
        sa.Column("last_assigned_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_login_at", TS, nullable=True),
        sa.Column("password_changed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("ticket_id", BigId, nullable=True),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor", "at"])
    op.create_index("ix_audit_log_ticket_id", "audit_log", ["ticket_id"])

    op.create_table(
        "classification_changes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("field", sa.String(32), nullable=True),
        sa.Column("from_value", sa.String(64), nullable=True),
        sa.Column("to_value", sa.String(64), nullable=True),
        sa.Column("predicted_value", sa.String(64), nullable=True),
        sa.Column("previous_by", sa.String(100), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_classification_changes_ticket_id", "classification_changes", ["ticket_id"])
    op.create_index("ix_classification_changes_previous_by", "classification_changes", ["previous_by", "at"])

    op.create_table(
        "training_suggestions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("entry_id", BigId, nullable=True),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("predicted", sa.String(64), nullable=True),
        sa.Column("chosen", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("model_version", sa.String(100), nullable=True),
        sa.Column("operator", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("reviewed_by", sa.String(100), nullable=True),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_training_suggestions_ticket_id", "training_suggestions", ["ticket_id"])
    op.create_index("ix_training_suggestions_status", "training_suggestions", ["status", "id"])

    op.create_table(
        "canned_replies",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(100), nullable=True),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_canned_replies_owner", "canned_replies", ["owner"])

    op.create_table(
        "dispatches",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ticket_id", BigId, nullable=False),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("deadline", TS, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dispatches_ticket_id", "dispatches", ["ticket_id"])

    # The queue reads "pending_review, urgent first (newest), then oldest first" as two range
    # scans of this index; the supervisor figures read events by action and time.
    with op.batch_alter_table("tickets") as batch:
        batch.create_index("ix_tickets_status_urgent_created", ["status", "urgent", "created_at"])
        batch.create_index("ix_tickets_status_assignee", ["status", "assignee"])
    with op.batch_alter_table("ticket_events") as batch:
        batch.create_index("ix_ticket_events_action_at", ["action", "at"])


def downgrade() -> None:
    with op.batch_alter_table("ticket_events") as batch:
        batch.drop_index("ix_ticket_events_action_at")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_status_assignee")
        batch.drop_index("ix_tickets_status_urgent_created")
    op.drop_index("ix_dispatches_ticket_id", table_name="dispatches")
    op.drop_table("dispatches")
    op.drop_index("ix_canned_replies_owner", table_name="canned_replies")
    op.drop_table("canned_replies")
    op.drop_index("ix_training_suggestions_status", table_name="training_suggestions")
    op.drop_index("ix_training_suggestions_ticket_id", table_name="training_suggestions")
    op.drop_table("training_suggestions")
    op.drop_index("ix_classification_changes_previous_by", table_name="classification_changes")
    op.drop_index("ix_classification_changes_ticket_id", table_name="classification_changes")
    op.drop_table("classification_changes")
    op.drop_index("ix_audit_log_ticket_id", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_at", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("users")
