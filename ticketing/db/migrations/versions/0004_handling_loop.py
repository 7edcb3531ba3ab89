"""the handling loop after the hand-off: dispatch rounds and units' states, units' reports,
extension requests, supervision notes, surveys; handler accounts' unit; the ticket's lead unit

Revision ID: 0004_handling_loop
Revises: 0003_nlu_admin
Create Date: 2026-12-01 21:00:00

Hand-written; runs on SQLite (batch mode for existing tables) and PostgreSQL.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_handling_loop"
down_revision = "0003_nlu_admin"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("dispatches") as batch:
        batch.add_column(sa.Column("role", sa.String(8), nullable=False, server_default="lead"))
        batch.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("state", sa.String(16), nullable=False, server_default="pending_sign"))
        batch.add_column(sa.Column("sign_deadline", TS, nullable=True))
        batch.add_column(sa.Column("signed_at", TS, nullable=True))
        batch.add_column(sa.Column("signed_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("answered_at", TS, nullable=True))
        batch.add_column(sa.Column("ended_at", TS, nullable=True))
        batch.add_column(sa.Column("returned_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("return_reason", sa.String(32), nullable=True))
        batch.add_column(sa.Column("return_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("extended", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("reminded_at", TS, nullable=True))
        batch.add_column(sa.Column("sign_flagged_at", TS, nullable=True))
        batch.add_column(sa.Column("overdue_flagged_at", TS, nullable=True))
        batch.create_index("ix_dispatches_target_active_state", ["target", "active", "state"])
    # Dispatches made before the loop existed: whoever had them never signed; an inactive one ended.
    op.execute("UPDATE dispatches SET state = 'withdrawn' WHERE active = false")

    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("unit", sa.String(64), nullable=True))
        batch.create_index("ix_tickets_unit_status", ["unit", "status"])
    op.execute("UPDATE tickets SET unit = (SELECT d.target FROM dispatches d WHERE d.ticket_id = tickets.id "
               "AND d.active = true ORDER BY d.id DESC LIMIT 1)")

    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("unit", sa.String(64), nullable=True))
        batch.create_index("ix_users_unit", ["unit"])

    op.create_table(
        "unit_reports",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ticket_id", BigId, sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("dispatch_id", BigId, sa.ForeignKey("dispatches.id"), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("author_name", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("review_state", sa.String(16), nullable=True),
        sa.Column("reviewed_by", sa.String(100), nullable=True),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("entry_id", BigId, sa.ForeignKey("entries.id"), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_unit_reports_ticket_id", "unit_reports", ["ticket_id"])
    op.create_index("ix_unit_reports_dispatch_id", "unit_reports", ["dispatch_id"])
    op.create_index("ix_unit_reports_kind_review", "unit_reports", ["kind", "review_state"])

    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("report_id", BigId, nullable=True))
        batch.create_foreign_key("fk_attachments_report_id", "unit_reports", ["report_id"], ["id"])
        batch.create_index("ix_attachments_report_id", ["report_id"])

    op.create_table(
        "extension_requests",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ticket_id", BigId, sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("dispatch_id", BigId, sa.ForeignKey("dispatches.id"), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("previous_deadline", TS, nullable=True),
        sa.Column("requested_deadline", TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_extension_requests_ticket_id", "extension_requests", ["ticket_id"])
    op.create_index("ix_extension_requests_dispatch_id", "extension_requests", ["dispatch_id"])
    op.create_index("ix_extension_requests_state", "extension_requests", ["state", "requested_at"])

    op.create_table(
        "supervision_notes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ticket_id", BigId, sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("dispatch_id", BigId, sa.ForeignKey("dispatches.id"), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("issued_by", sa.String(100), nullable=False),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("new_deadline", TS, nullable=True),
        sa.Column("acknowledged_by", sa.String(100), nullable=True),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("escalated_to", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_supervision_notes_ticket_id", "supervision_notes", ["ticket_id"])
    op.create_index("ix_supervision_notes_dispatch_id", "supervision_notes", ["dispatch_id"])
    op.create_index("ix_supervision_notes_unit", "supervision_notes", ["unit"])

    op.create_table(
        "surveys",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ticket_id", BigId, sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("dispatch_id", BigId, sa.ForeignKey("dispatches.id"), nullable=True),
        sa.Column("report_id", BigId, sa.ForeignKey("unit_reports.id"), nullable=True),
        sa.Column("unit", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("responded_at", TS, nullable=True),
        sa.Column("source", sa.String(16), nullable=True),
        sa.Column("solved", sa.Boolean(), nullable=True),
        sa.Column("satisfaction", sa.String(16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(100), nullable=True),
        sa.Column("callback_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_callback_at", TS, nullable=True),
        sa.Column("callback_note", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("ruled_by", sa.String(100), nullable=True),
        sa.Column("ruled_at", TS, nullable=True),
        sa.Column("ruling_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_surveys_ticket_id", "surveys", ["ticket_id"])
    op.create_index("ix_surveys_dispatch_id", "surveys", ["dispatch_id"])
    op.create_index("ix_surveys_unit", "surveys", ["unit"])
    op.create_index("ix_surveys_open", "surveys", ["responded_at", "created_at"])


def downgrade() -> None:
    op.drop_table("surveys")
    op.drop_table("supervision_notes")
    op.drop_table("extension_requests")
    with op.batch_alter_table("attachments") as batch:
        batch.drop_index("ix_attachments_report_id")
        batch.drop_constraint("fk_attachments_report_id", type_="foreignkey")
        batch.drop_column("report_id")
    op.drop_table("unit_reports")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_unit")
        batch.drop_column("unit")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_unit_status")
        batch.drop_column("unit")
    with op.batch_alter_table("dispatches") as batch:
        batch.drop_index("ix_dispatches_target_active_state")
        for column in ("overdue_flagged_at", "sign_flagged_at", "reminded_at", "extended", "return_text",
                       "return_reason", "returned_by", "ended_at", "answered_at", "signed_by", "signed_at",
                       "sign_deadline", "state", "round", "role"):
            batch.drop_column(column)
