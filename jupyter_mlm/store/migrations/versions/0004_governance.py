"""Governance: audit events commit to the registry state and the database user; the stage
policy lives in the store.

Every model registered before this revision gets one ``checkpoint`` event committing to its
current state, so that ``audit verify`` can compare every model with the log from here on.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Whatever a client sends, the database records who it is: a member cannot write an audit row
# in another member's name.
_PG_TRIGGER = """
CREATE OR REPLACE FUNCTION mlm_audit_db_user() RETURNS trigger AS $$
BEGIN
    NEW.db_user := session_user;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS mlm_audit_db_user ON audit_events;
CREATE TRIGGER mlm_audit_db_user BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION mlm_audit_db_user();
"""


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("db_user", sa.String(length=250), nullable=True))
    op.create_table(
        "registry_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    conn = op.get_bind()
    db_user = None
    if conn.dialect.name == "postgresql":
        op.execute(_PG_TRIGGER)
        db_user = conn.execute(sa.text("SELECT session_user")).scalar_one()

    from jupyter_mlm.store import audit
    from jupyter_mlm.store import tables as t
    from jupyter_mlm.store.registry import MODEL_EVENTS, model_state

    for model in conn.execute(sa.select(t.models.c.id, t.models.c.name).order_by(t.models.c.name)).all():
        audit.append_event(
            conn, actor="jupyter_mlm", action="checkpoint", entity_type=MODEL_EVENTS, entity_id=model.name,
            before=None, after=None, comment="state at migration 0004", state=model_state(conn, model.id),
            db_user=db_user,
        )  # fmt: skip


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS mlm_audit_db_user ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS mlm_audit_db_user()")
    op.drop_table("registry_policy")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("db_user")
        batch_op.drop_column("state")
