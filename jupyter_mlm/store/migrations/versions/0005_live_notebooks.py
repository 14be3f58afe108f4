"""Notebooks as the user saw them: the latest live notebook per kernel, stable notebook ids,
and checkpoints that belong to one server root.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_notebooks",
        sa.Column("kernel_id", sa.String(length=64), nullable=False),
        sa.Column("server", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("notebook_id", sa.String(length=64), nullable=True),
        sa.Column("manifest_digest", sa.String(length=64), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kernel_id"),
    )
    op.create_table(
        "notebooks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("server", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notebook_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_runs_notebook", ["notebook_id", "start_ms"], unique=False)
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        # NULL: written before 0005; the first server to open the file's checkpoints adopts them.
        batch_op.add_column(sa.Column("server", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("notebook_id", sa.String(length=64), nullable=True))
        batch_op.drop_index("ix_checkpoints_path")
        batch_op.create_index("ix_checkpoints_path", ["server", "path", "created_ms"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.drop_index("ix_checkpoints_path")
        batch_op.create_index("ix_checkpoints_path", ["path", "created_ms"], unique=False)
        batch_op.drop_column("notebook_id")
        batch_op.drop_column("server")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_notebook")
        batch_op.drop_column("notebook_id")
    op.drop_table("notebooks")
    op.drop_table("live_notebooks")
