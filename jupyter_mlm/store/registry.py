"""Registry rows: models, versions, aliases, approval requests and the stage policy.

This module holds no rule. The governance core (``registry.governance``) decides what may
happen; it does so inside one ``RegistryTx``, a write transaction holding the registry lock, so
the rows it checks are the rows it changes (two users promoting at once cannot leave two
production versions), and every change is audited in the same transaction, committing to the
state it produced.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import and_, func, insert, select, text, update
from sqlalchemy.engine import Connection

from ..entities import (
    ApprovalRequest,
    AuditEvent,
    AuditReport,
    ModelRecord,
    ModelVersionRecord,
    StagePolicy,
)
from ..errors import NotFound
from . import audit
from . import tables as t
from .base import StoreBase, new_id, now_ms

_PG_REGISTRY_LOCK = 0x6D6C6D_A0D1  # any constant distinct from the migration lock
MODEL_EVENTS = "model"
POLICY_EVENTS = "policy"
POLICY_ID = "registry"

_VERSION_COLUMNS = [c for c in t.model_versions.c]


def serialise_registry_writes(conn: Connection) -> None:
    """SQLite's BEGIN IMMEDIATE already serialises writers. On PostgreSQL (read committed) two
    registrations could pick the same version number, two promotions could both see no other
    production version, and two audit appends could chain onto the same event: registry writes
    are rare, so they take one transaction-scoped lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_REGISTRY_LOCK})


def _version_query() -> Any:
    return select(*_VERSION_COLUMNS, t.models.c.name.label("model")).join(
        t.models, t.models.c.id == t.model_versions.c.model_id
    )


def _versions(conn: Connection, where: Any) -> list[ModelVersionRecord]:
    rows = conn.execute(_version_query().where(where).order_by(t.model_versions.c.version)).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    aliases: dict[str, list[str]] = {}
    for alias in conn.execute(
        select(t.model_aliases.c.version_id, t.model_aliases.c.alias)
        .where(t.model_aliases.c.version_id.in_(ids))
        .order_by(t.model_aliases.c.alias)
    ):
        aliases.setdefault(alias.version_id, []).append(alias.alias)
    return [ModelVersionRecord(**r._mapping, aliases=tuple(aliases.get(r.id, ()))) for r in rows]


def _model(conn: Connection, name: str) -> ModelRecord | None:
    row = conn.execute(select(t.models).where(t.models.c.name == name)).first()
    return ModelRecord(**row._mapping) if row else None


def _live(model_id: str) -> Any:
    return and_(t.model_versions.c.model_id == model_id, t.model_versions.c.deleted_ms.is_(None))


def _requests(
    conn: Connection,
    *,
    model: str | None = None,
    version_id: str | None = None,
    status: str | None = None,
    request_id: str | None = None,
    id_prefix: str | None = None,
) -> list[ApprovalRequest]:
    r, v = t.approval_requests, t.model_versions
    query = (
        select(*r.c, t.models.c.name.label("model"), v.c.version)
        .join(v, v.c.id == r.c.version_id)
        .join(t.models, t.models.c.id == v.c.model_id)
    )
    if model is not None:
        query = query.where(t.models.c.name == model)
    if version_id is not None:
        query = query.where(r.c.version_id == version_id)
    if status is not None:
        query = query.where(r.c.status == status)
    if request_id is not None:
        query = query.where(r.c.id == request_id)
    if id_prefix is not None:
        query = query.where(r.c.id.startswith(id_prefix, autoescape=True))
    return [ApprovalRequest(**row._mapping) for row in conn.execute(query.order_by(r.c.requested_ms))]


def _policy(conn: Connection) -> StagePolicy | None:
    row = conn.execute(select(t.registry_policy.c.body).where(t.registry_policy.c.id == 1)).first()
    return policy_from_dict(json.loads(row.body)) if row else None


def policy_from_dict(body: dict[str, Any]) -> StagePolicy:
    return StagePolicy(
        stages=tuple(body["stages"]), production=body["production"], archived=body["archived"],
        require_approval_for=tuple(body.get("require_approval_for", ())), approvers=tuple(body.get("approvers", ())),
        named_approvers=bool(body.get("named_approvers", False)),
    )  # fmt: skip


def _policy_state(policy: StagePolicy) -> dict[str, Any]:
    state = policy.to_dict()
    state.pop("initial")
    return state


def model_state(conn: Connection, model_id: str) -> dict[str, Any]:
    """What an audit event of this model commits to: each version's bytes and place, the aliases."""
    versions = {
        str(r.version): {"digest": r.digest, "stage": r.stage, "deleted": r.deleted_ms is not None}
        for r in conn.execute(
            select(t.model_versions.c.version, t.model_versions.c.digest, t.model_versions.c.stage,
                   t.model_versions.c.deleted_ms).where(t.model_versions.c.model_id == model_id)
        )
    }  # fmt: skip
    aliases = {
        r.alias: r.version
        for r in conn.execute(
            select(t.model_aliases.c.alias, t.model_versions.c.version)
            .join(t.model_versions, t.model_versions.c.id == t.model_aliases.c.version_id)
            .where(t.model_aliases.c.model_id == model_id)
        )
    }
    return {"versions": versions, "aliases": aliases}


def replay_production(conn: Connection, name: str, policy: StagePolicy) -> list[int]:
    """The versions a rollback would walk back through, oldest first, newest is current."""
    rows = conn.execute(
        select(t.audit_events.c.action, t.audit_events.c.before, t.audit_events.c.after)
        .where(t.audit_events.c.entity_type == MODEL_EVENTS, t.audit_events.c.entity_id == name)
        .order_by(t.audit_events.c.seq)
    )
    stack: list[int] = []
    for action, before_s, after_s in rows:
        before, after = audit.load(before_s) or {}, audit.load(after_s) or {}
        if action in ("transition", "restore") and after.get("stage") == policy.production:
            if action == "transition":
                stack.append(after["version"])
        elif before.get("stage") == policy.production and after.get("stage") not in (None, policy.production):
            if "replaced_by" in after:
                continue  # archived by a newer promotion: it stays the version to roll back to
            if before["version"] in stack:
                # A rollback drops the version it replaces; any other move out of production too.
                stack.remove(before["version"])
    return stack


class RegistryTx:
    """One registry write transaction, the registry lock held. The governance core reads and
    changes rows through it; ``audit`` records each change with the state it produced."""

    def __init__(self, conn: Connection, db_user: str | None) -> None:
        self.conn = conn
        self.db_user = db_user

    # -- reads inside the transaction ---------------------------------------------------------
    def policy(self) -> StagePolicy | None:
        return _policy(self.conn)

    def model(self, name: str) -> ModelRecord | None:
        return _model(self.conn, name)

    def versions(self, model: ModelRecord, stage: str | None = None) -> list[ModelVersionRecord]:
        where = _live(model.id)
        if stage is not None:
            where = and_(where, t.model_versions.c.stage == stage)
        return _versions(self.conn, where)

    def version(self, model: ModelRecord, number: int) -> ModelVersionRecord | None:
        found = _versions(self.conn, and_(_live(model.id), t.model_versions.c.version == number))
        return found[0] if found else None

    def version_by_id(self, version_id: str) -> ModelVersionRecord:
        return _versions(self.conn, t.model_versions.c.id == version_id)[0]

    def model_of(self, version: ModelVersionRecord) -> ModelRecord:
        row = self.conn.execute(select(t.models).where(t.models.c.id == version.model_id)).one()
        return ModelRecord(**row._mapping)

    def next_number(self, model: ModelRecord) -> int:
        highest = self.conn.execute(
            select(func.max(t.model_versions.c.version)).where(t.model_versions.c.model_id == model.id)
        ).scalar_one_or_none()
        return (highest or 0) + 1

    def alias_target(self, model: ModelRecord, alias: str) -> ModelVersionRecord | None:
        a = t.model_aliases
        row = self.conn.execute(select(a.c.version_id).where(a.c.model_id == model.id, a.c.alias == alias)).first()
        return None if row is None else self.version_by_id(row.version_id)

    def stages_in_use(self) -> set[str]:
        rows = self.conn.execute(
            select(t.model_versions.c.stage).where(t.model_versions.c.deleted_ms.is_(None)).distinct()
        )
        return {r.stage for r in rows}

    def requests(self, **where: Any) -> list[ApprovalRequest]:
        return _requests(self.conn, **where)

    def production_history(self, model: ModelRecord, policy: StagePolicy) -> list[int]:
        return replay_production(self.conn, model.name, policy)

    # -- changes ------------------------------------------------------------------------------
    def create_model(self, name: str, description: str) -> ModelRecord:
        model = ModelRecord(id=new_id(), name=name, description=description, created_ms=now_ms())
        self.conn.execute(insert(t.models).values(**model.__dict__))
        return model

    def insert_version(self, model: ModelRecord, **values: Any) -> ModelVersionRecord:
        row = {"id": new_id(), "model_id": model.id, "created_ms": now_ms(), "deleted_ms": None, **values}
        self.conn.execute(insert(t.model_versions).values(**row))
        return self.version_by_id(row["id"])

    def set_stage(self, version: ModelVersionRecord, stage: str) -> None:
        self.conn.execute(update(t.model_versions).where(t.model_versions.c.id == version.id).values(stage=stage))

    def point_alias(self, model: ModelRecord, alias: str, version: ModelVersionRecord) -> None:
        a = t.model_aliases
        if self.alias_target(model, alias) is not None:
            self.conn.execute(
                update(a).where(a.c.model_id == model.id, a.c.alias == alias).values(version_id=version.id)
            )
        else:
            self.conn.execute(insert(a).values(model_id=model.id, alias=alias, version_id=version.id))

    def remove_alias(self, model: ModelRecord, alias: str) -> None:
        a = t.model_aliases
        self.conn.execute(a.delete().where(a.c.model_id == model.id, a.c.alias == alias))

    def retire(self, version: ModelVersionRecord, actor: str) -> None:
        """Mark a version deleted: its aliases go, its pending requests are cancelled."""
        self.conn.execute(
            update(t.model_versions).where(t.model_versions.c.id == version.id).values(deleted_ms=now_ms())
        )
        self.conn.execute(t.model_aliases.delete().where(t.model_aliases.c.version_id == version.id))
        self.conn.execute(
            update(t.approval_requests)
            .where(t.approval_requests.c.version_id == version.id, t.approval_requests.c.status == "pending")
            .values(status="cancelled", decided_by=actor, decided_ms=now_ms())
        )

    def insert_request(self, model: ModelRecord, version: ModelVersionRecord, **values: Any) -> ApprovalRequest:
        row = {"id": new_id(), "version_id": version.id, "status": "pending", "requested_ms": now_ms(),
               "decided_by": None, "decided_ms": None, "decision_comment": None, **values}  # fmt: skip
        self.conn.execute(insert(t.approval_requests).values(**row))
        return ApprovalRequest(**row, model=model.name, version=version.version)

    def decide_request(self, request: ApprovalRequest, status: str, actor: str, comment: str | None) -> ApprovalRequest:
        decided = {"status": status, "decided_by": actor, "decided_ms": now_ms(), "decision_comment": comment}
        self.conn.execute(update(t.approval_requests).where(t.approval_requests.c.id == request.id).values(**decided))
        return ApprovalRequest(**(request.__dict__ | decided))

    def store_policy(self, policy: StagePolicy) -> None:
        body = json.dumps(_policy_state(policy), sort_keys=True)
        p = t.registry_policy
        if self.conn.execute(select(p.c.id).where(p.c.id == 1)).first() is None:
            self.conn.execute(insert(p).values(id=1, body=body, updated_ms=now_ms()))
        else:
            self.conn.execute(update(p).where(p.c.id == 1).values(body=body, updated_ms=now_ms()))

    def audit(
        self,
        actor: str,
        action: str,
        model: ModelRecord,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        comment: str | None = None,
    ) -> AuditEvent:
        """Record a change to ``model``, committing to the model's state after it."""
        return audit.append_event(
            self.conn, actor=actor, action=action, entity_type=MODEL_EVENTS, entity_id=model.name,
            before=before, after=after, comment=comment, state=model_state(self.conn, model.id),
            db_user=self.db_user,
        )  # fmt: skip

    def audit_policy(
        self, actor: str, before: StagePolicy | None, after: StagePolicy, comment: str | None
    ) -> AuditEvent:
        return audit.append_event(
            self.conn, actor=actor, action="policy", entity_type=POLICY_EVENTS, entity_id=POLICY_ID,
            before=None if before is None else _policy_state(before), after=_policy_state(after),
            comment=comment, state=_policy_state(after), db_user=self.db_user,
        )  # fmt: skip


class RegistryMixin(StoreBase):
    @contextmanager
    def registry_tx(self) -> Iterator[RegistryTx]:
        identity = self.db_identity()
        with self._write() as conn:
            serialise_registry_writes(conn)
            yield RegistryTx(conn, identity.user if identity else None)

    # -- reads ---------------------------------------------------------------------------------
    def stored_policy(self) -> StagePolicy | None:
        with self._read() as conn:
            return _policy(conn)

    def find_model(self, name: str) -> ModelRecord | None:
        with self._read() as conn:
            return _model(conn, name)

    def get_model(self, name: str) -> ModelRecord:
        model = self.find_model(name)
        if model is None:
            raise NotFound(f"no registered model {name!r}; `jupyter mlm models` lists them")
        return model

    def list_models(self) -> list[ModelRecord]:
        with self._read() as conn:
            return [ModelRecord(**r._mapping) for r in conn.execute(select(t.models).order_by(t.models.c.name))]

    def list_versions(self, name: str, include_deleted: bool = False) -> list[ModelVersionRecord]:
        model = self.get_model(name)
        where = t.model_versions.c.model_id == model.id if include_deleted else _live(model.id)
        with self._read() as conn:
            return _versions(conn, where)

    def list_all_versions(self) -> list[ModelVersionRecord]:
        with self._read() as conn:
            return _versions(conn, t.model_versions.c.deleted_ms.is_(None))

    def get_version(self, name: str, version: int) -> ModelVersionRecord:
        model = self.get_model(name)
        with self._read() as conn:
            found = _versions(conn, and_(_live(model.id), t.model_versions.c.version == version))
            if not found:
                known = [v.version for v in _versions(conn, _live(model.id))]
                raise NotFound(f"model {model.name!r} has no version {version} (versions: {known or 'none'})")
        return found[0]

    def version_by_id(self, version_id: str) -> ModelVersionRecord:
        with self._read() as conn:
            found = _versions(conn, t.model_versions.c.id == version_id)
        if not found:
            raise NotFound(f"no model version with id {version_id!r}")
        return found[0]

    def versions_in_stage(self, name: str, stage: str) -> list[ModelVersionRecord]:
        model = self.get_model(name)
        with self._read() as conn:
            return _versions(conn, and_(_live(model.id), t.model_versions.c.stage == stage))

    def newest_in_stage(self, name: str, stage: str) -> ModelVersionRecord | None:
        """The newest live version of ``name`` in ``stage``, in one query (without its aliases):
        what monitoring resolves on every batch."""
        with self._read() as conn:
            row = conn.execute(
                _version_query()
                .where(t.models.c.name == name, t.model_versions.c.stage == stage,
                       t.model_versions.c.deleted_ms.is_(None))
                .order_by(t.model_versions.c.version.desc())
                .limit(1)
            ).first()  # fmt: skip
        return ModelVersionRecord(**row._mapping) if row else None

    def version_by_alias(self, name: str, alias: str) -> ModelVersionRecord | None:
        model = self.get_model(name)
        with self._read() as conn:
            row = conn.execute(
                select(t.model_aliases.c.version_id).where(
                    t.model_aliases.c.model_id == model.id, t.model_aliases.c.alias == alias
                )
            ).first()
            return None if row is None else _versions(conn, t.model_versions.c.id == row.version_id)[0]

    def versions_of_run(self, run_id: str) -> list[ModelVersionRecord]:
        with self._read() as conn:
            return _versions(conn, and_(t.model_versions.c.run_id == run_id, t.model_versions.c.deleted_ms.is_(None)))

    def approval_requests(
        self, name: str | None = None, status: str | None = None, request_id: str | None = None
    ) -> list[ApprovalRequest]:
        with self._read() as conn:
            return _requests(conn, model=name, status=status, request_id=request_id)

    def production_history(self, name: str, policy: StagePolicy) -> list[int]:
        with self._read() as conn:
            return replay_production(conn, name, policy)

    # -- the audit log -------------------------------------------------------------------------
    def audit_events(
        self, model: str | None = None, limit: int | None = None, newest_first: bool = True
    ) -> list[AuditEvent]:
        with self._read() as conn:
            return audit.audit_events(conn, MODEL_EVENTS if model is not None else None, model, limit, newest_first)

    def verify_audit(self, anchors: Sequence[tuple[int | None, str]] = ()) -> AuditReport:
        """Recompute the chain, compare the state it last committed to with the rows, and check
        that it still extends every anchor; the report names the first problem."""
        with self._read() as conn:
            chain = audit.walk_chain(conn, keep_hashes=bool(anchors))
            if chain.problem is not None:
                return AuditReport(chain.events, False, chain.bad_seq, chain.problem)
            bad_seq, problem = _state_mismatch(conn, chain.states or {})
        if problem is None:
            for anchor in anchors:
                problem = audit.check_anchor(chain.hashes or {}, anchor)
                if problem is not None:
                    bad_seq = anchor[0]
                    break
        head_hash = chain.head_hash if chain.head_seq else None
        if problem is not None:
            return AuditReport(chain.events, False, bad_seq, problem, chain.head_seq, head_hash)
        return AuditReport(chain.events, True, None, None, chain.head_seq, head_hash, len(anchors))

    def committed_state(self, name: str) -> dict[str, Any] | None:
        """The state of ``name`` the audit log last committed to (None before migration 0004's
        checkpoint, or for a model no event names): a reader's cheap check, without walking the chain."""
        e = t.audit_events
        with self._read() as conn:
            row = conn.execute(
                select(e.c.state)
                .where(e.c.entity_type == MODEL_EVENTS, e.c.entity_id == name, e.c.state.is_not(None))
                .order_by(e.c.seq.desc())
                .limit(1)
            ).first()
        return None if row is None else dict(json.loads(row.state))

    def audit_head(self) -> tuple[int, str]:
        with self._read() as conn:
            head = conn.execute(select(t.audit_head.c.seq, t.audit_head.c.hash)).first()
        return (head.seq, head.hash) if head else (0, audit.GENESIS)


def _state_mismatch(conn: Connection, states: dict[tuple[str, str], tuple[int, str]]) -> tuple[int | None, str | None]:
    """The first model (or the policy) whose rows differ from the state the log last committed to."""
    for model in conn.execute(select(t.models.c.id, t.models.c.name).order_by(t.models.c.name)):
        committed = states.get((MODEL_EVENTS, model.name))
        if committed is None:
            return None, f"model {model.name!r} has rows that no audit event accounts for"
        seq, body = committed
        current = model_state(conn, model.id)
        if json.loads(body) != current:
            return seq, _state_problem(model.name, json.loads(body), current, seq)
    policy = _policy(conn)
    committed_policy = states.get((POLICY_EVENTS, POLICY_ID))
    if policy is not None and (committed_policy is None or json.loads(committed_policy[1]) != _policy_state(policy)):
        return (committed_policy[0] if committed_policy else None), "the stage policy was changed outside the audit log"
    return None, None


def _state_problem(name: str, committed: dict[str, Any], current: dict[str, Any], seq: int) -> str:
    for number, row in sorted(current["versions"].items(), key=lambda kv: int(kv[0])):
        was = committed["versions"].get(number)
        if was is None:
            return f"{name} version {number} is not in the audit log (last event for {name}: {seq})"
        for field in ("digest", "stage", "deleted"):
            if was[field] != row[field]:
                return (f"{name} version {number}: {field} is {row[field]!r} in the registry but the audit log "
                        f"(event {seq}) says {was[field]!r}")  # fmt: skip
    for number in committed["versions"]:
        if number not in current["versions"]:
            return f"{name} version {number} was removed from the registry behind the audit log"
    if committed["aliases"] != current["aliases"]:
        return f"{name}'s aliases are {current['aliases']} but the audit log (event {seq}) says {committed['aliases']}"
    return f"{name} differs from the audit log (event {seq})"
