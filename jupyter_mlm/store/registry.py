"""Registry rows and the hash-chained audit log.

Every registry change and its audit event are written in one transaction, and the rules that
depend on the current state (one production version, who may approve, what a rollback goes back
to) are checked inside that transaction: two users promoting at the same moment cannot leave two
production versions or a forked chain. Audit rows are only ever inserted here.
"""

from __future__ import annotations

import json
from typing import Any

from blake3 import blake3
from sqlalchemy import and_, func, insert, select, text, update
from sqlalchemy.engine import Connection, Row

from ..entities import (
    ApprovalRequest,
    AuditEvent,
    AuditReport,
    ModelRecord,
    ModelVersionRecord,
    StagePolicy,
)
from ..errors import Conflict, NotFound, PermissionDenied, UsageError
from . import tables as t
from .base import StoreBase, new_id, now_ms

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x6D6C6D_A0D1  # any constant distinct from the migration lock

MODEL_EVENTS = "model"


def event_hash(
    seq: int, ts_ms: int, actor: str, action: str, entity_type: str, entity_id: str,
    before: str | None, after: str | None, comment: str | None, prev_hash: str,
) -> str:  # fmt: skip
    canonical = json.dumps(
        [seq, ts_ms, actor, action, entity_type, entity_id, before, after, comment, prev_hash],
        ensure_ascii=False, separators=(",", ":"),
    )  # fmt: skip
    return blake3(canonical.encode()).hexdigest()


def _dump(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _load(value: str | None) -> dict[str, Any] | None:
    return None if value is None else json.loads(value)


def _event(row: Row[Any]) -> AuditEvent:
    m = row._mapping
    return AuditEvent(
        seq=m["seq"], ts_ms=m["ts_ms"], actor=m["actor"], action=m["action"], entity_type=m["entity_type"],
        entity_id=m["entity_id"], before=_load(m["before"]), after=_load(m["after"]), comment=m["comment"],
        prev_hash=m["prev_hash"], hash=m["hash"],
    )  # fmt: skip


_VERSION_COLUMNS = [c for c in t.model_versions.c]


class RegistryMixin(StoreBase):
    # -- audit ---------------------------------------------------------------------------------
    def _append_audit(
        self,
        conn: Connection,
        actor: str,
        action: str,
        entity_id: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        comment: str | None = None,
        entity_type: str = MODEL_EVENTS,
    ) -> AuditEvent:
        _serialise_registry_writes(conn)
        head = conn.execute(select(t.audit_head.c.seq, t.audit_head.c.hash).where(t.audit_head.c.id == 1)).first()
        seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
        ts = now_ms()
        before_s, after_s = _dump(before), _dump(after)
        digest = event_hash(seq, ts, actor, action, entity_type, entity_id, before_s, after_s, comment, prev)
        conn.execute(
            insert(t.audit_events).values(
                seq=seq, ts_ms=ts, actor=actor, action=action, entity_type=entity_type, entity_id=entity_id,
                before=before_s, after=after_s, comment=comment, prev_hash=prev, hash=digest,
            )
        )  # fmt: skip
        if head:
            conn.execute(update(t.audit_head).where(t.audit_head.c.id == 1).values(seq=seq, hash=digest))
        else:
            conn.execute(insert(t.audit_head).values(id=1, seq=seq, hash=digest))
        return AuditEvent(seq, ts, actor, action, entity_type, entity_id, before, after, comment, prev, digest)

    def audit_events(
        self, model: str | None = None, limit: int | None = None, newest_first: bool = True
    ) -> list[AuditEvent]:
        query = select(t.audit_events)
        if model is not None:
            query = query.where(t.audit_events.c.entity_type == MODEL_EVENTS, t.audit_events.c.entity_id == model)
        query = query.order_by(t.audit_events.c.seq.desc() if newest_first else t.audit_events.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [_event(row) for row in conn.execute(query)]

    def verify_audit(self) -> AuditReport:
        """Recompute the chain; the report names the first event that was altered, removed or inserted."""
        with self._read() as conn:
            head = conn.execute(select(t.audit_head.c.seq, t.audit_head.c.hash)).first()
            rows = conn.execute(select(t.audit_events).order_by(t.audit_events.c.seq))
            expected_seq, prev, count = 1, GENESIS, 0
            for row in rows:
                m = row._mapping
                count += 1
                if m["seq"] != expected_seq:
                    return AuditReport(count, False, expected_seq, f"event {expected_seq} is missing")
                if m["prev_hash"] != prev:
                    return AuditReport(
                        count, False, m["seq"], f"event {m['seq']} does not chain to event {m['seq'] - 1}"
                    )
                recomputed = event_hash(
                    m["seq"], m["ts_ms"], m["actor"], m["action"], m["entity_type"], m["entity_id"],
                    m["before"], m["after"], m["comment"], m["prev_hash"],
                )  # fmt: skip
                if recomputed != m["hash"]:
                    return AuditReport(count, False, m["seq"], f"event {m['seq']} was altered")
                prev, expected_seq = m["hash"], expected_seq + 1
        last = expected_seq - 1
        if head is None and last:
            return AuditReport(count, False, 1, "the chain's head record is missing")
        if head is not None and (head.seq != last or head.hash != prev):
            if head.seq > last:
                return AuditReport(count, False, last + 1, f"event {last + 1} is missing (the chain ends at {last})")
            return AuditReport(count, False, head.seq, f"event {head.seq} was altered")
        return AuditReport(count, True)

    # -- reads ---------------------------------------------------------------------------------
    def _version_query(self) -> Any:
        return select(*_VERSION_COLUMNS, t.models.c.name.label("model")).join(
            t.models, t.models.c.id == t.model_versions.c.model_id
        )

    def _versions(self, conn: Connection, where: Any) -> list[ModelVersionRecord]:
        rows = conn.execute(self._version_query().where(where).order_by(t.model_versions.c.version)).all()
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

    def find_model(self, name: str) -> ModelRecord | None:
        with self._read() as conn:
            row = conn.execute(select(t.models).where(t.models.c.name == name)).first()
        return ModelRecord(**row._mapping) if row else None

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
        where = t.model_versions.c.model_id == model.id
        if not include_deleted:
            where = and_(where, t.model_versions.c.deleted_ms.is_(None))
        with self._read() as conn:
            return self._versions(conn, where)

    def list_all_versions(self) -> list[ModelVersionRecord]:
        with self._read() as conn:
            return self._versions(conn, t.model_versions.c.deleted_ms.is_(None))

    def get_version(self, name: str, version: int) -> ModelVersionRecord:
        model = self.get_model(name)
        with self._read() as conn:
            return self._get_version(conn, model, version)

    def _get_version(self, conn: Connection, model: ModelRecord, version: int) -> ModelVersionRecord:
        found = self._versions(
            conn, and_(t.model_versions.c.model_id == model.id, t.model_versions.c.version == version)
        )
        if not found or found[0].deleted_ms is not None:
            known = [v.version for v in self._versions(conn, and_(
                t.model_versions.c.model_id == model.id, t.model_versions.c.deleted_ms.is_(None)))]  # fmt: skip
            raise NotFound(f"model {model.name!r} has no version {version} (versions: {known or 'none'})")
        return found[0]

    def version_by_id(self, version_id: str) -> ModelVersionRecord:
        with self._read() as conn:
            found = self._versions(conn, t.model_versions.c.id == version_id)
        if not found:
            raise NotFound(f"no model version with id {version_id!r}")
        return found[0]

    def versions_in_stage(self, name: str, stage: str) -> list[ModelVersionRecord]:
        model = self.get_model(name)
        with self._read() as conn:
            return self._versions(conn, and_(
                t.model_versions.c.model_id == model.id, t.model_versions.c.stage == stage,
                t.model_versions.c.deleted_ms.is_(None)))  # fmt: skip

    def version_by_alias(self, name: str, alias: str) -> ModelVersionRecord | None:
        model = self.get_model(name)
        with self._read() as conn:
            row = conn.execute(
                select(t.model_aliases.c.version_id).where(
                    t.model_aliases.c.model_id == model.id, t.model_aliases.c.alias == alias
                )
            ).first()
            if row is None:
                return None
            return self._versions(conn, t.model_versions.c.id == row.version_id)[0]

    def versions_of_run(self, run_id: str) -> list[ModelVersionRecord]:
        with self._read() as conn:
            return self._versions(
                conn, and_(t.model_versions.c.run_id == run_id, t.model_versions.c.deleted_ms.is_(None))
            )

    def approval_requests(
        self, name: str | None = None, status: str | None = None, request_id: str | None = None
    ) -> list[ApprovalRequest]:
        r, v = t.approval_requests, t.model_versions
        query = (
            select(*r.c, t.models.c.name.label("model"), v.c.version)
            .join(v, v.c.id == r.c.version_id)
            .join(t.models, t.models.c.id == v.c.model_id)
        )
        if name is not None:
            query = query.where(t.models.c.name == name)
        if status is not None:
            query = query.where(r.c.status == status)
        if request_id is not None:
            query = query.where(r.c.id == request_id)
        with self._read() as conn:
            return [ApprovalRequest(**row._mapping) for row in conn.execute(query.order_by(r.c.requested_ms))]

    # -- writes --------------------------------------------------------------------------------
    def add_model_version(
        self,
        name: str,
        *,
        digest: str,
        size: int,
        flavor: str,
        serializer: str,
        filename: str,
        run_id: str | None,
        signature: str | None,
        profile_digest: str | None,
        description: str,
        actor: str,
        policy: StagePolicy,
    ) -> ModelVersionRecord:
        """Register a new version of ``name`` (the model is created on first use); numbers are never reused."""
        with self._write() as conn:
            _serialise_registry_writes(conn)
            model_row = conn.execute(select(t.models).where(t.models.c.name == name)).first()
            if model_row is None:
                model = ModelRecord(id=new_id(), name=name, description=description, created_ms=now_ms())
                conn.execute(insert(t.models).values(**model.__dict__))
            else:
                model = ModelRecord(**model_row._mapping)
            number = (
                conn.execute(
                    select(func.max(t.model_versions.c.version)).where(t.model_versions.c.model_id == model.id)
                ).scalar_one_or_none()
                or 0
            ) + 1
            row = {
                "id": new_id(), "model_id": model.id, "version": number, "run_id": run_id, "digest": digest,
                "size": size, "flavor": flavor, "serializer": serializer, "filename": filename,
                "signature": signature, "profile_digest": profile_digest, "description": description,
                "stage": policy.initial, "created_ms": now_ms(), "created_by": actor, "deleted_ms": None,
            }  # fmt: skip
            conn.execute(insert(t.model_versions).values(**row))
            self._append_audit(
                conn, actor, "register", name, None,
                {"version": number, "digest": digest, "flavor": flavor, "run_id": run_id, "stage": policy.initial},
                description or None,
            )  # fmt: skip
            return self._versions(conn, t.model_versions.c.id == row["id"])[0]

    def transition(
        self,
        name: str,
        version: int,
        stage: str,
        *,
        actor: str,
        policy: StagePolicy,
        comment: str | None = None,
    ) -> ModelVersionRecord | ApprovalRequest:
        """Move a version to ``stage``; when the policy wants an approval for that stage, record a
        request instead and return it."""
        with self._write() as conn:
            _serialise_registry_writes(conn)
            model, current = self._lock_version(conn, name, version)
            _check_transition(policy, current, stage)
            if stage in policy.require_approval_for:
                return self._request(conn, model, current, stage, actor, comment)
            self._move(conn, model, current, stage, actor, comment, policy)
            return self._get_version(conn, model, version)

    def _lock_version(self, conn: Connection, name: str, version: int) -> tuple[ModelRecord, ModelVersionRecord]:
        row = conn.execute(select(t.models).where(t.models.c.name == name)).first()
        if row is None:
            raise NotFound(f"no registered model {name!r}; `jupyter mlm models` lists them")
        model = ModelRecord(**row._mapping)
        return model, self._get_version(conn, model, version)

    def _request(
        self, conn: Connection, model: ModelRecord, current: ModelVersionRecord, stage: str, actor: str,
        comment: str | None,
    ) -> ApprovalRequest:  # fmt: skip
        r = t.approval_requests
        pending = conn.execute(
            select(r.c.id).where(r.c.version_id == current.id, r.c.to_stage == stage, r.c.status == "pending")
        ).first()
        if pending is not None:
            raise Conflict(
                f"version {current.version} of {model.name!r} already has a pending request for {stage} "
                f"({pending.id[:8]}); approve or reject it"
            )
        values: dict[str, Any] = {
            "id": new_id(), "version_id": current.id, "from_stage": current.stage, "to_stage": stage,
            "status": "pending", "requested_by": actor, "requested_ms": now_ms(), "comment": comment,
            "decided_by": None, "decided_ms": None, "decision_comment": None,
        }  # fmt: skip
        conn.execute(insert(r).values(**values))
        self._append_audit(
            conn, actor, "request", model.name,
            {"version": current.version, "stage": current.stage},
            {"version": current.version, "stage": stage, "request": values["id"]},
            comment,
        )  # fmt: skip
        return ApprovalRequest(**values, model=model.name, version=current.version)

    def _move(
        self, conn: Connection, model: ModelRecord, current: ModelVersionRecord, stage: str, actor: str,
        comment: str | None, policy: StagePolicy, action: str = "transition", extra: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        if stage == policy.production:
            for previous in self._versions(conn, and_(
                t.model_versions.c.model_id == model.id, t.model_versions.c.stage == policy.production,
                t.model_versions.c.id != current.id)):  # fmt: skip
                conn.execute(
                    update(t.model_versions).where(t.model_versions.c.id == previous.id).values(stage=policy.archived)
                )
                self._append_audit(
                    conn, actor, "transition", model.name,
                    {"version": previous.version, "stage": policy.production},
                    {"version": previous.version, "stage": policy.archived, "replaced_by": current.version},
                    f"archived: version {current.version} went to {policy.production}",
                )  # fmt: skip
        conn.execute(update(t.model_versions).where(t.model_versions.c.id == current.id).values(stage=stage))
        self._append_audit(
            conn, actor, action, model.name,
            {"version": current.version, "stage": current.stage},
            {"version": current.version, "stage": stage, **(extra or {})},
            comment,
        )  # fmt: skip

    def decide(
        self,
        request_id: str,
        *,
        approve: bool,
        actor: str,
        policy: StagePolicy,
        comment: str | None = None,
    ) -> ApprovalRequest:
        """Approve (and carry out) or reject a pending request; the requester cannot decide their own."""
        if not isinstance(request_id, str) or not request_id.isalnum():
            raise UsageError(
                f"request id must be an id or a unique prefix of one (letters and digits), not {request_id!r}"
            )
        r = t.approval_requests
        with self._write() as conn:
            _serialise_registry_writes(conn)
            row = conn.execute(select(r).where(r.c.id.startswith(request_id, autoescape=True))).all()
            if not row:
                raise NotFound(f"no approval request {request_id!r}")
            if len(row) > 1:
                raise UsageError(f"request id prefix {request_id!r} is ambiguous; give more characters")
            request = row[0]._mapping
            version = self._versions(conn, t.model_versions.c.id == request["version_id"])[0]
            model = ModelRecord(
                **conn.execute(select(t.models).where(t.models.c.id == version.model_id)).one()._mapping
            )
            if request["status"] != "pending":
                raise Conflict(
                    f"request {request['id'][:8]} was already {request['status']} by {request['decided_by']}"
                )
            if actor == request["requested_by"]:
                raise PermissionDenied(
                    f"{actor} requested this transition and cannot also approve or reject it; another user must"
                )
            if policy.approvers and actor not in policy.approvers:
                raise PermissionDenied(f"{actor} is not an approver (approvers: {', '.join(policy.approvers)})")
            if approve:
                _check_transition(policy, version, request["to_stage"])
            decided = {"decided_by": actor, "decided_ms": now_ms(), "decision_comment": comment}
            status = "approved" if approve else "rejected"
            conn.execute(update(r).where(r.c.id == request["id"]).values(status=status, **decided))
            self._append_audit(
                conn, actor, "approve" if approve else "reject", model.name,
                {"version": version.version, "stage": version.stage, "request": request["id"]},
                {"version": version.version, "stage": request["to_stage"] if approve else version.stage,
                 "request": request["id"], "requested_by": request["requested_by"]},
                comment,
            )  # fmt: skip
            if approve:
                self._move(
                    conn, model, version, request["to_stage"], actor, request["comment"], policy,
                    extra={"request": request["id"], "requested_by": request["requested_by"], "approved_by": actor},
                )  # fmt: skip
            out = dict(request) | {"status": status} | decided
            return ApprovalRequest(**out, model=model.name, version=version.version)

    def production_history(self, name: str, policy: StagePolicy) -> list[int]:
        """The versions a rollback would walk back through, oldest first, newest is current."""
        with self._read() as conn:
            return _replay_production(conn, name, policy)

    def rollback(self, name: str, *, actor: str, policy: StagePolicy, comment: str | None = None) -> ModelVersionRecord:
        """Put back the version that was in production before the current one; the current one is archived."""
        with self._write() as conn:
            _serialise_registry_writes(conn)
            row = conn.execute(select(t.models).where(t.models.c.name == name)).first()
            if row is None:
                raise NotFound(f"no registered model {name!r}; `jupyter mlm models` lists them")
            model = ModelRecord(**row._mapping)
            stack = _replay_production(conn, name, policy)
            current = self._versions(conn, and_(
                t.model_versions.c.model_id == model.id, t.model_versions.c.stage == policy.production))  # fmt: skip
            live = {v.version for v in self._versions(conn, and_(
                t.model_versions.c.model_id == model.id, t.model_versions.c.deleted_ms.is_(None)))}  # fmt: skip
            candidates = [v for v in stack if v in live and (not current or v != current[0].version)]
            if not candidates:
                raise Conflict(f"{name!r} has no earlier {policy.production} version to roll back to")
            target = self._get_version(conn, model, candidates[-1])
            if current:
                conn.execute(
                    update(t.model_versions).where(t.model_versions.c.id == current[0].id).values(stage=policy.archived)
                )
                self._append_audit(
                    conn, actor, "rollback", name,
                    {"version": current[0].version, "stage": policy.production},
                    {"version": current[0].version, "stage": policy.archived, "rolled_back_to": target.version},
                    comment,
                )  # fmt: skip
            conn.execute(
                update(t.model_versions).where(t.model_versions.c.id == target.id).values(stage=policy.production)
            )
            self._append_audit(
                conn, actor, "restore", name,
                {"version": target.version, "stage": target.stage},
                {"version": target.version, "stage": policy.production,
                 "rolled_back_from": current[0].version if current else None},
                comment,
            )  # fmt: skip
            return self._get_version(conn, model, target.version)

    def set_alias(self, name: str, alias: str, version: int, *, actor: str, policy: StagePolicy) -> ModelVersionRecord:
        if alias in policy.stages:
            raise UsageError(f"alias {alias!r} is a stage name; pick another (stages: {', '.join(policy.stages)})")
        with self._write() as conn:
            _serialise_registry_writes(conn)
            model, target = self._lock_version(conn, name, version)
            a = t.model_aliases
            existing = conn.execute(select(a.c.version_id).where(a.c.model_id == model.id, a.c.alias == alias)).first()
            before = None
            if existing is not None:
                if existing.version_id == target.id:
                    return target
                before = {
                    "alias": alias,
                    "version": self._versions(conn, t.model_versions.c.id == existing.version_id)[0].version,
                }
                conn.execute(update(a).where(a.c.model_id == model.id, a.c.alias == alias).values(version_id=target.id))
            else:
                conn.execute(insert(a).values(model_id=model.id, alias=alias, version_id=target.id))
            self._append_audit(conn, actor, "alias", name, before, {"alias": alias, "version": version})
            return self._get_version(conn, model, version)

    def delete_alias(self, name: str, alias: str, *, actor: str) -> None:
        with self._write() as conn:
            _serialise_registry_writes(conn)
            row = conn.execute(select(t.models).where(t.models.c.name == name)).first()
            if row is None:
                raise NotFound(f"no registered model {name!r}")
            a = t.model_aliases
            existing = conn.execute(select(a.c.version_id).where(a.c.model_id == row.id, a.c.alias == alias)).first()
            if existing is None:
                raise NotFound(f"model {name!r} has no alias {alias!r}")
            version = self._versions(conn, t.model_versions.c.id == existing.version_id)[0].version
            conn.execute(a.delete().where(a.c.model_id == row.id, a.c.alias == alias))
            self._append_audit(conn, actor, "delete_alias", name, {"alias": alias, "version": version}, None)

    def delete_version(
        self, name: str, version: int, *, actor: str, policy: StagePolicy, comment: str | None = None
    ) -> None:
        """Retire a version for good: it can no longer be loaded or staged; its number stays taken."""
        with self._write() as conn:
            _serialise_registry_writes(conn)
            _, current = self._lock_version(conn, name, version)
            if current.stage == policy.production:
                raise Conflict(
                    f"version {version} of {name!r} is in {policy.production}; promote another or roll back first"
                )
            conn.execute(
                update(t.model_versions).where(t.model_versions.c.id == current.id).values(deleted_ms=now_ms())
            )
            conn.execute(t.model_aliases.delete().where(t.model_aliases.c.version_id == current.id))
            conn.execute(
                update(t.approval_requests)
                .where(t.approval_requests.c.version_id == current.id, t.approval_requests.c.status == "pending")
                .values(status="cancelled", decided_by=actor, decided_ms=now_ms())
            )
            self._append_audit(
                conn, actor, "delete", name,
                {"version": version, "stage": current.stage, "aliases": list(current.aliases)},
                {"version": version, "deleted": True}, comment,
            )  # fmt: skip


def _serialise_registry_writes(conn: Connection) -> None:
    """SQLite's BEGIN IMMEDIATE already serialises writers. On PostgreSQL (read committed) two
    registrations could pick the same version number, two promotions could both see no other
    production version, and two audit appends could chain onto the same event: registry writes
    are rare, so they take one transaction-scoped lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})


def _replay_production(conn: Connection, name: str, policy: StagePolicy) -> list[int]:
    rows = conn.execute(
        select(t.audit_events.c.action, t.audit_events.c.before, t.audit_events.c.after)
        .where(t.audit_events.c.entity_type == MODEL_EVENTS, t.audit_events.c.entity_id == name)
        .order_by(t.audit_events.c.seq)
    )
    stack: list[int] = []
    for action, before_s, after_s in rows:
        before, after = _load(before_s) or {}, _load(after_s) or {}
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


def _check_transition(policy: StagePolicy, version: ModelVersionRecord, stage: str) -> None:
    if stage not in policy.stages:
        raise UsageError(f"unknown stage {stage!r}; stages are {', '.join(policy.stages)}")
    if version.stage == stage:
        raise Conflict(f"version {version.version} of {version.model!r} is already in {stage}")
    if version.stage == policy.archived and stage == policy.production:
        raise Conflict(
            f"version {version.version} of {version.model!r} is {policy.archived}; move it to another stage first "
            f"(a new review) or use `rollback` to restore the previous {policy.production} version"
        )
