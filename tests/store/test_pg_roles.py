"""Two people, two PostgreSQL roles: identity comes from the database, not from what a client says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from jupyter_mlm.entities import ApprovalRequest
from jupyter_mlm.errors import PermissionDenied
from jupyter_mlm.registry import Governance
from jupyter_mlm.store import Store, open_store

GRANTS = Path(__file__).parents[2] / "docs" / "postgres" / "team-roles.sql"
PASSWORD = "mlm-test-only"


def tcp_url(url: str, role: str) -> str:
    database = url.split("///", 1)[1].split("?", 1)[0]
    return f"postgresql+psycopg://{role}:{PASSWORD}@127.0.0.1/{database}"


@pytest.fixture
def people(postgres_url: str, tmp_path: Path) -> Iterator[dict[str, Store]]:
    owner = open_store(postgres_url, str(tmp_path / "objects"))  # creates the tables as the owner
    owner.close()
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text(GRANTS.read_text()))
        for role in ("ana", "bo"):
            exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(text(f"{verb} ROLE {role} LOGIN NOSUPERUSER PASSWORD '{PASSWORD}'"))
            conn.execute(text(f"GRANT mlm_member TO {role}"))
    engine.dispose()
    stores = {role: open_store(tcp_url(postgres_url, role), str(tmp_path / "objects")) for role in ("ana", "bo")}
    yield stores
    for store in stores.values():
        store.close()


@pytest.mark.postgres
def test_the_requester_cannot_approve_whatever_name_it_claims(people: dict[str, Store]) -> None:
    ana, bo = people["ana"], people["bo"]
    assert ana.db_identity() is not None and not ana.db_identity().vouches  # type: ignore[union-attr]
    as_ana = Governance(ana, "bo")  # ana's client claims to be bo
    assert as_ana.actor == "ana"
    as_ana.set_policy(require_approval_for=["production"])
    digest = ana.objects.put_bytes(b"model")
    record = as_ana.add_version("churn", digest=digest, size=5, flavor="file", serializer="file", filename="m",
                                run_id=None, signature=None, profile_digest=None, description="")  # fmt: skip
    assert record.created_by == "ana"
    request = as_ana.transition("churn", 1, "production")
    assert isinstance(request, ApprovalRequest) and request.requested_by == "ana"
    with pytest.raises(PermissionDenied, match="ana requested this transition"):
        as_ana.decide("churn", 1, approve=True)
    with pytest.raises(PermissionDenied, match="needs named approvers"):
        as_ana.decide("churn", 1, approve=True, as_user="lead")
    decided = Governance(bo, "ana").decide("churn", 1, approve=True, comment="reviewed")  # bo claims to be ana
    assert decided.decided_by == "bo" and bo.get_version("churn", 1).stage == "production"
    events = bo.audit_events("churn", newest_first=False)
    assert [(e.action, e.actor, e.db_user) for e in events] == [
        ("register", "ana", "ana"), ("request", "ana", "ana"), ("approve", "bo", "bo"), ("transition", "bo", "bo"),
    ]  # fmt: skip
    assert bo.verify_audit().ok


@pytest.mark.postgres
def test_members_can_only_append_to_the_audit_log(people: dict[str, Store]) -> None:
    ana = people["ana"]
    Governance(ana, "ana").set_policy(approvers=["bo"])
    with ana.engine.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(text("UPDATE audit_events SET actor = 'bo'"))
    with ana.engine.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(text("DELETE FROM audit_events"))
    with ana.engine.begin() as conn:  # a hand-written row in bo's name is recorded as ana's
        conn.execute(text(
            "INSERT INTO audit_events (seq, ts_ms, actor, action, entity_type, entity_id, prev_hash, hash, db_user) "
            "VALUES (99, 1, 'bo', 'approve', 'model', 'x', :z, :z, 'bo')"
        ), {"z": "0" * 64})  # fmt: skip
        assert conn.execute(text("SELECT db_user FROM audit_events WHERE seq = 99")).scalar_one() == "ana"
    report = ana.verify_audit()
    assert not report.ok
