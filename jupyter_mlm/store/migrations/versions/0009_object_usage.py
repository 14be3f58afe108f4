"""How many blobs an objects store holds and their bytes, kept as blobs are written and
collected, so status need not list a bucket (minutes on a large one).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "object_usage",
        sa.Column("objects_uri", sa.String(length=1024), nullable=False),
        sa.Column("objects", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("counted_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("objects_uri"),
    )


def downgrade() -> None:
    op.drop_table("object_usage")
