"""Run liveness that holds across containers: the writer's PID namespace and a heartbeat.

A process judges a running run by its PID only when it shares the run's host *and* PID namespace
(containers with host networking share the hostname but not the PIDs); otherwise by the run's
heartbeat, which the writing process refreshes while the run is active.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (nullable, no default): no table rebuild of ``runs``.
    op.add_column("runs", sa.Column("pid_namespace", sa.String(length=64), nullable=True))
    op.add_column("runs", sa.Column("heartbeat_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("heartbeat_ms")
        batch.drop_column("pid_namespace")
