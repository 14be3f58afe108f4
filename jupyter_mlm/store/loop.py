"""Rows of the level-3 loop: comparisons of two versions, durable jobs, promotion policies.

Jobs are leased: ``claim_job`` takes the oldest queued job (or a running one whose lease ran out,
once: a runner that crashed gets one retry) in one conditional UPDATE, so two runners never hold
the same job; the runner renews its lease while it works. Every step is an audit event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update

from . import tables as t
from .base import new_id, now_ms
from .monitoring import MonitoringMixin

MAX_ATTEMPTS = 2  # the first run and one retry after a crashed runner
LOOP_EVENTS = "loop"


@dataclass(frozen=True)
class ComparisonRow:
    id: str
    model: str
    version_a: int
    version_b: int
    ref_a: str
    ref_b: str
    metric: str
    value_a: float | None
    value_b: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    rows: int
    data_digest: str | None
    source: str
    created_by: str
    created_ms: int


@dataclass(frozen=True)
class JobRow:
    id: str
    kind: str
    model: str | None
    spec: str
    status: str
    attempts: int
    lease_owner: str | None
    lease_until_ms: int | None
    alert_id: str | None
    run_id: str | None
    result: str | None
    log_digest: str | None
    created_by: str
    created_ms: int
    started_ms: int | None
    finished_ms: int | None

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(json.loads(self.spec))


class LoopMixin(MonitoringMixin):
    def _loop_event(self, conn: Any, actor: str, action: str, model: str, after: dict[str, Any]) -> None:
        self._monitor_event(conn, actor, action, model, after, LOOP_EVENTS)

    def record_loop_event(self, actor: str, action: str, model: str, after: dict[str, Any]) -> None:
        with self._write() as conn:
            self._loop_event(conn, actor, action, model, after)

    def loop_events(self, model: str | None = None) -> list[Any]:
        """The loop's audit events (alerts' jobs, comparisons, promotions, rollbacks), oldest first."""
        from . import audit

        with self._read() as conn:
            return audit.audit_events(conn, LOOP_EVENTS, model, None, False)

    def model_story(self, model: str) -> list[Any]:
        """A model's audit events across the registry, monitoring and the loop, in log order."""
        from . import audit
        from .monitoring import MONITOR_EVENTS
        from .registry import MODEL_EVENTS

        with self._read() as conn:
            events = [e for kind in (MODEL_EVENTS, MONITOR_EVENTS, LOOP_EVENTS)
                      for e in audit.audit_events(conn, kind, model, None, False)]  # fmt: skip
        return sorted(events, key=lambda e: e.seq)

    # -- comparisons -----------------------------------------------------------------------------
    def add_comparison(self, row: ComparisonRow) -> ComparisonRow:
        with self._write() as conn:
            conn.execute(t.model_comparisons.insert().values(**row.__dict__))
            self._loop_event(conn, row.created_by, "compare", row.model, {
                "comparison": row.id, "a": row.version_a, "b": row.version_b, "metric": row.metric,
                "value_a": row.value_a, "value_b": row.value_b, "delta": row.delta, "rows": row.rows,
                "source": row.source,
            })  # fmt: skip
        return row

    def comparisons(self, model: str, version: int | None = None) -> list[ComparisonRow]:
        c = t.model_comparisons.c
        query = select(t.model_comparisons).where(c.model == model)
        if version is not None:
            query = query.where(or_(c.version_a == version, c.version_b == version))
        with self._read() as conn:
            return [ComparisonRow(**r._mapping) for r in conn.execute(query.order_by(c.created_ms))]

    # -- jobs --------------------------------------------------------------------------------------
    def enqueue_job(self, kind: str, model: str | None, spec: dict[str, Any], actor: str,
                    alert_id: str | None = None) -> JobRow:  # fmt: skip
        row = JobRow(new_id(), kind, model, json.dumps(spec, sort_keys=True), "queued", 0, None, None, alert_id,
                     None, None, None, actor, now_ms(), None, None)  # fmt: skip
        with self._write() as conn:
            conn.execute(t.jobs.insert().values(**row.__dict__))
            self._loop_event(conn, actor, "job_queued", model or "", {"job": row.id, "kind": kind, "alert": alert_id,
                                                                      "spec": spec})  # fmt: skip
        return row

    def claim_job(self, owner: str, lease_ms: int, job_id: str | None = None) -> JobRow | None:
        """Lease the oldest runnable job (or ``job_id``) to ``owner``; None when there is none."""
        c = t.jobs.c
        now = now_ms()
        runnable = or_(c.status == "queued",
                       and_(c.status == "running", c.lease_until_ms < now, c.attempts < MAX_ATTEMPTS))  # fmt: skip
        with self._write() as conn:
            query = select(t.jobs.c.id).where(runnable)
            if job_id is not None:
                query = query.where(c.id == job_id)
            for (candidate,) in conn.execute(query.order_by(c.created_ms)).all():
                taken = conn.execute(
                    update(t.jobs).where(c.id == candidate, runnable)
                    .values(status="running", lease_owner=owner, lease_until_ms=now + lease_ms,
                            attempts=c.attempts + 1, started_ms=now)
                ).rowcount  # fmt: skip
                if taken:
                    row = JobRow(**conn.execute(select(t.jobs).where(c.id == candidate)).one()._mapping)
                    self._loop_event(conn, owner, "job_started", row.model or "",
                                     {"job": row.id, "attempt": row.attempts, "runner": owner})  # fmt: skip
                    return row
            # Jobs whose runner died twice are failed for good (they are never run a third time).
            conn.execute(
                update(t.jobs).where(c.status == "running", c.lease_until_ms < now, c.attempts >= MAX_ATTEMPTS)
                .values(status="failed", finished_ms=now, result="its runner stopped twice before it finished")
            )  # fmt: skip
        return None

    def renew_lease(self, job_id: str, owner: str, lease_ms: int) -> bool:
        c = t.jobs.c
        with self._write() as conn:
            return bool(conn.execute(
                update(t.jobs).where(c.id == job_id, c.lease_owner == owner, c.status == "running")
                .values(lease_until_ms=now_ms() + lease_ms)
            ).rowcount)  # fmt: skip

    def finish_job(self, job_id: str, owner: str, ok: bool, result: dict[str, Any], run_id: str | None,
                   log_digest: str | None) -> bool:  # fmt: skip
        c = t.jobs.c
        status = "succeeded" if ok else "failed"
        with self._write() as conn:
            done = conn.execute(
                update(t.jobs).where(c.id == job_id, c.lease_owner == owner, c.status == "running")
                .values(status=status, finished_ms=now_ms(), result=json.dumps(result, sort_keys=True),
                        run_id=run_id, log_digest=log_digest, lease_until_ms=None)
            ).rowcount  # fmt: skip
            if done:
                row = conn.execute(select(t.jobs.c.model).where(c.id == job_id)).one()
                self._loop_event(conn, owner, f"job_{status}", row.model or "",
                                 {"job": job_id, "run": run_id, **result})  # fmt: skip
        return bool(done)

    def get_job(self, job_id: str) -> JobRow:
        from ..errors import NotFound

        with self._read() as conn:
            found = conn.execute(select(t.jobs).where(t.jobs.c.id == job_id)).first()
        if found is None:
            raise NotFound(f"no job {job_id!r}")
        return JobRow(**found._mapping)

    def jobs(self, model: str | None = None, status: str | None = None) -> list[JobRow]:
        c = t.jobs.c
        query = select(t.jobs)
        if model is not None:
            query = query.where(c.model == model)
        if status is not None:
            query = query.where(c.status == status)
        with self._read() as conn:
            return [JobRow(**r._mapping) for r in conn.execute(query.order_by(c.created_ms))]

    # -- promotion policies --------------------------------------------------------------------------
    def set_loop_policy(self, model: str, spec: dict[str, Any] | None, actor: str) -> None:
        c = t.loop_policies.c
        with self._write() as conn:
            conn.execute(t.loop_policies.delete().where(c.model == model))
            if spec is not None:
                conn.execute(t.loop_policies.insert().values(model=model, spec=json.dumps(spec, sort_keys=True),
                                                             created_by=actor, updated_ms=now_ms()))  # fmt: skip
            self._loop_event(conn, actor, "set_loop_policy" if spec else "delete_loop_policy", model,
                             {"policy": spec})  # fmt: skip

    def loop_policy(self, model: str) -> dict[str, Any] | None:
        c = t.loop_policies.c
        with self._read() as conn:
            found = conn.execute(select(c.spec).where(c.model == model)).first()
        return None if found is None else dict(json.loads(found.spec))
