"""Monitoring: production batches (as profiles), labels that arrive later, alert rules, alerts.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_batches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("profile_digest", sa.String(length=64), nullable=False),
        sa.Column("outputs_digest", sa.String(length=64), nullable=True),
        sa.Column("rows_digest", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_monitor_batches_model", "monitor_batches", ["model", "ts_ms"])
    op.create_table(
        "monitor_labels",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_monitor_labels_model", "monitor_labels", ["model", "created_ms"])
    op.create_table(
        "monitor_rules",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("deleted_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "monitor_alerts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("rule_id", sa.String(length=32), nullable=False),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("window_start_ms", sa.BigInteger(), nullable=False),
        sa.Column("window_end_ms", sa.BigInteger(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_monitor_alerts_model", "monitor_alerts", ["model", "ts_ms"])


def downgrade() -> None:
    op.drop_table("monitor_alerts")
    op.drop_table("monitor_rules")
    op.drop_index("ix_monitor_labels_model", "monitor_labels")
    op.drop_table("monitor_labels")
    op.drop_index("ix_monitor_batches_model", "monitor_batches")
    op.drop_table("monitor_batches")
