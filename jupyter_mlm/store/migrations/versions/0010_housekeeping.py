"""Housekeeping: runs are deleted softly (restorable until purged) and carry a markdown note;
experiments can be archived (hidden from lists, their runs kept).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("deleted_ms", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(sa.Column("archived_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("archived_ms")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("note")
        batch.drop_column("deleted_ms")
