"""Monitoring rows: batches, label sets, alert rules and alerts. Their content (profiles, ids
and predictions, labels) lives in the object store; rule changes and alerts are audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from . import audit
from . import tables as t
from .base import StoreBase, new_id, now_ms
from .registry import serialise_registry_writes

MONITOR_EVENTS = "monitor"


@dataclass(frozen=True)
class BatchRow:
    id: str
    model: str
    version: int
    ts_ms: int
    rows: int
    profile_digest: str
    outputs_digest: str | None
    rows_digest: str | None
    source: str
    created_ms: int


@dataclass(frozen=True)
class LabelSetRow:
    id: str
    model: str
    rows: int
    digest: str
    created_ms: int


@dataclass(frozen=True)
class RuleRow:
    id: str
    model: str
    expression: str
    created_by: str
    created_ms: int
    deleted_ms: int | None
    action: str | None = None  # JSON: what to do when the rule fires (``{"retrain": {...}}``)


@dataclass(frozen=True)
class AlertRow:
    id: str
    model: str
    version: int | None
    rule_id: str
    expression: str
    value: float | None
    window_start_ms: int
    window_end_ms: int
    ts_ms: int


class MonitoringMixin(StoreBase):
    def add_batch(
        self,
        model: str,
        version: int,
        ts_ms: int,
        rows: int,
        profile_digest: str,
        outputs_digest: str | None,
        rows_digest: str | None,
        source: str = "api",
    ) -> BatchRow:
        row = BatchRow(
            new_id(), model, version, ts_ms, rows, profile_digest, outputs_digest, rows_digest, source, now_ms()
        )
        with self._write() as conn:
            conn.execute(t.monitor_batches.insert().values(**row.__dict__))
        return row

    def batches(
        self, model: str, start_ms: int | None = None, end_ms: int | None = None, version: int | None = None
    ) -> list[BatchRow]:
        b = t.monitor_batches.c
        query = select(t.monitor_batches).where(b.model == model)
        if start_ms is not None:
            query = query.where(b.ts_ms >= start_ms)
        if end_ms is not None:
            query = query.where(b.ts_ms <= end_ms)
        if version is not None:
            query = query.where(b.version == version)
        with self._read() as conn:
            return [BatchRow(**r._mapping) for r in conn.execute(query.order_by(b.ts_ms, b.created_ms))]

    def latest_batch(self, model: str) -> BatchRow | None:
        """The newest batch of ``model`` (one indexed row: what is checked on every log)."""
        b = t.monitor_batches.c
        query = select(t.monitor_batches).where(b.model == model).order_by(b.ts_ms.desc(), b.created_ms.desc())
        with self._read() as conn:
            found = conn.execute(query.limit(1)).first()
        return None if found is None else BatchRow(**found._mapping)

    def monitored_models(self) -> list[str]:
        with self._read() as conn:
            return [r[0] for r in conn.execute(select(t.monitor_batches.c.model).distinct().order_by("model"))]

    def add_label_set(self, model: str, rows: int, digest: str) -> LabelSetRow:
        row = LabelSetRow(new_id(), model, rows, digest, now_ms())
        with self._write() as conn:
            conn.execute(t.monitor_labels.insert().values(**row.__dict__))
        return row

    def label_sets(self, model: str) -> list[LabelSetRow]:
        c = t.monitor_labels.c
        with self._read() as conn:
            rows = conn.execute(select(t.monitor_labels).where(c.model == model).order_by(c.created_ms))
            return [LabelSetRow(**r._mapping) for r in rows]

    def _monitor_event(self, conn: Any, actor: str, action: str, model: str, after: dict[str, Any],
                       entity_type: str = MONITOR_EVENTS) -> None:  # fmt: skip
        serialise_registry_writes(conn)
        audit.append_event(conn, actor=actor, action=action, entity_type=entity_type, entity_id=model, before=None,
                           after=after, comment=None, state=None, db_user=self.db_identity_name())  # fmt: skip

    def db_identity_name(self) -> str | None:
        identity = self.db_identity()
        return identity.user if identity else None

    def add_rule(self, model: str, expression: str, actor: str, action: str | None = None) -> RuleRow:
        row = RuleRow(new_id(), model, expression, actor, now_ms(), None, action)
        with self._write() as conn:
            conn.execute(t.monitor_rules.insert().values(**row.__dict__))
            after: dict[str, Any] = {"rule": row.id, "expression": expression}
            if action:
                after["action"] = action
            self._monitor_event(conn, actor, "add_rule", model, after)
        return row

    def delete_rule(self, model: str, rule_id: str, actor: str) -> bool:
        c = t.monitor_rules.c
        with self._write() as conn:
            done = conn.execute(
                update(t.monitor_rules)
                .where(c.model == model, c.id == rule_id, c.deleted_ms.is_(None))
                .values(deleted_ms=now_ms())
            ).rowcount
            if done:
                self._monitor_event(conn, actor, "delete_rule", model, {"rule": rule_id})
        return bool(done)

    def rules(self, model: str | None = None) -> list[RuleRow]:
        c = t.monitor_rules.c
        query = select(t.monitor_rules).where(c.deleted_ms.is_(None))
        if model is not None:
            query = query.where(c.model == model)
        with self._read() as conn:
            return [RuleRow(**r._mapping) for r in conn.execute(query.order_by(c.created_ms))]

    def add_alert(
        self,
        model: str,
        version: int | None,
        rule: RuleRow,
        value: float | None,
        window: tuple[int, int],
        actor: str,
        unless_fired_after_ms: int | None = None,
    ) -> AlertRow | None:
        """Record an alert; with ``unless_fired_after_ms``, only if the rule has no alert whose
        window ends after it — decided inside the write, so two processes checking the same data
        at once (a server's writer after a batch, a labeller after labels) fire it once."""
        row = AlertRow(new_id(), model, version, rule.id, rule.expression, value, window[0], window[1], now_ms())
        alerts = t.monitor_alerts.c
        with self._write() as conn:
            if unless_fired_after_ms is not None:
                # PostgreSQL: the rule's row lock orders concurrent checks (SQLite's writes already queue).
                locked = select(t.monitor_rules.c.id).where(t.monitor_rules.c.id == rule.id)
                conn.execute(locked.with_for_update() if conn.dialect.name == "postgresql" else locked)
                fired = conn.execute(
                    select(alerts.id).where(alerts.rule_id == rule.id, alerts.window_end_ms > unless_fired_after_ms)
                    .limit(1)
                ).first()  # fmt: skip
                if fired is not None:
                    return None
            conn.execute(t.monitor_alerts.insert().values(**row.__dict__))
            self._monitor_event(
                conn,
                actor,
                "alert",
                model,
                {
                    "alert": row.id,
                    "rule": rule.id,
                    "expression": rule.expression,
                    "value": value,
                    "version": version,
                    "window": list(window),
                },
            )
        return row

    def alerts(self, model: str | None = None, rule_ids: Sequence[str] | None = None) -> list[AlertRow]:
        c = t.monitor_alerts.c
        query = select(t.monitor_alerts)
        if model is not None:
            query = query.where(c.model == model)
        if rule_ids is not None:
            query = query.where(c.rule_id.in_(list(rule_ids)))
        with self._read() as conn:
            return [AlertRow(**r._mapping) for r in conn.execute(query.order_by(c.ts_ms.desc()))]
