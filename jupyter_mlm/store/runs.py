"""Runs and what is logged to them: lifecycle, params, tags, artifacts, and search."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import and_, exists, func, insert, literal, not_, or_, select, union_all, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from ..entities import Artifact, Metric, MetricSummary, RunData, RunGroup, RunRecord
from ..errors import Conflict, NotFound, UsageError
from ..validation import check_key, check_name, check_status, param_value
from . import tables as t
from .base import StoreBase, new_id, now_ms
from .filter import AllOf, AnyOf, Condition, Node, Not, parse_filter

ORDERABLE = ("start", "end", "name", "status", "experiment", "duration")
MAX_PAGE = 10_000
MAX_GROUPS = 1000
GROUP_FIELDS = ("experiment", "status", "user")
_EXPERIMENT_JOIN = t.runs.c.experiment_id == t.experiments.c.id

# Liveness bookkeeping (0008) is the store's, not part of what a run is.
_LIVENESS = ("pid_namespace", "heartbeat_ms")
MAX_NOTE_CHARS = 100_000
_RUN_COLUMNS = [c for c in t.runs.c if c.name not in _LIVENESS] + [t.experiments.c.name.label("experiment")]
# A run judged by its heartbeat (another host or PID namespace) has crashed when its writer has
# been silent this long: ten missed beats, so a busy or briefly suspended process is not buried.
HEARTBEAT_SECONDS = 30
STALE_AFTER_MS = 10 * HEARTBEAT_SECONDS * 1000


def _record(row: Any) -> RunRecord:
    return RunRecord(**row._mapping)


class RunsMixin(StoreBase):
    # -- lifecycle -------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        name: str,
        *,
        user: str = "",
        host: str = "",
        pid: int = 0,
        notebook_path: str | None = None,
        kernel_id: str | None = None,
        parent_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        notebook_id: str | None = None,
        pid_namespace: str | None = None,
    ) -> RunRecord:
        """Start a run (status ``running``) in an existing experiment, with optional tags."""
        name = check_name(name)
        tag_rows = self._tag_rows(tags or {})
        run_id = new_id()
        with self._write() as conn:
            if parent_id is not None:
                self._run_row(conn, parent_id)
            conn.execute(
                insert(t.runs).values(
                    id=run_id, experiment_id=experiment_id, name=name, status="running", start_ms=now_ms(),
                    end_ms=None, user=user, host=host, pid=pid, notebook_path=notebook_path,
                    kernel_id=kernel_id, parent_id=parent_id, notebook_id=notebook_id,
                    pid_namespace=pid_namespace, heartbeat_ms=now_ms(),
                )
            )  # fmt: skip
            if tag_rows:
                conn.execute(insert(t.tags), [{"run_id": run_id, **row} for row in tag_rows])
            return _record(self._run_row(conn, run_id))

    # -- housekeeping --------------------------------------------------------------------------
    def delete_run(self, run_id: str) -> RunRecord:
        """Hide a run from lists and searches; ``restore_run`` brings it back until
        ``purge_runs`` removes it for good (its blobs then go with the next ``gc``)."""
        with self._write() as conn:
            row = self._run_row(conn, run_id)
            if row.status == "running":
                raise Conflict(f"run {row.name!r} ({run_id[:8]}) is still running: end it before deleting it")
            if row.deleted_ms is None:
                conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(deleted_ms=now_ms()))
            return _record(self._run_row(conn, run_id))

    def restore_run(self, run_id: str) -> RunRecord:
        """Undo ``delete_run``."""
        with self._write() as conn:
            self._run_row(conn, run_id)
            conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(deleted_ms=None))
            return _record(self._run_row(conn, run_id))

    def rename_run(self, run_id: str, name: str) -> RunRecord:
        return self.edit_run(run_id, name=name)

    def set_note(self, run_id: str, text: str) -> RunRecord:
        """The run's note (markdown); an empty text clears it."""
        if not isinstance(text, str):
            raise UsageError("a note is a text (markdown)")
        return self.edit_run(run_id, note=text)

    def edit_run(
        self,
        run_id: str,
        *,
        name: str | None = None,
        note: str | None = None,
        tags: Mapping[str, Any] | None = None,
        delete_tags: Iterable[str] = (),
    ) -> RunRecord:
        """Rename, set the note, set and remove tags — every part checked first, all written in
        one transaction (a bad tag leaves the name as it was)."""
        new_name = None if name is None else check_name(name)
        if note is not None and not isinstance(note, str):
            raise UsageError("a note is a text (markdown)")
        if note is not None and len(note) > MAX_NOTE_CHARS:
            raise UsageError(f"a note holds at most {MAX_NOTE_CHARS:,} characters, not {len(note):,}")
        rows = self._tag_rows(tags or {})
        removed = [check_key(k, "tag name") for k in delete_tags]
        with self._write() as conn:
            self._run_row(conn, run_id)
            values: dict[str, Any] = {}
            if new_name is not None:
                values["name"] = new_name
            if note is not None:
                values["note"] = note or None
            if values:
                conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(**values))
            if rows:
                self._upsert(conn, t.tags, [{"run_id": run_id, **row} for row in rows], ["run_id", "key"], ["value"])
            if removed:
                conn.execute(t.tags.delete().where(t.tags.c.run_id == run_id, t.tags.c.key.in_(removed)))
            return _record(self._run_row(conn, run_id))

    def purge_runs(self, deleted_before_ms: int, apply: bool = True) -> list[RunRecord]:
        """Remove for good the runs deleted before ``deleted_before_ms``, with their params,
        metrics, tags, artifacts and snapshots (unreferenced blobs then go with ``gc``). A run a
        registered model version came from is kept: the version's lineage needs it."""
        with self._write() as conn:
            rows = conn.execute(
                select(*_RUN_COLUMNS)
                .join(t.experiments, t.runs.c.experiment_id == t.experiments.c.id)
                .where(t.runs.c.deleted_ms.is_not(None), t.runs.c.deleted_ms < deleted_before_ms)
                .where(~exists().where(t.model_versions.c.run_id == t.runs.c.id))
                .order_by(t.runs.c.deleted_ms)
            ).all()
            records = [_record(row) for row in rows]
            if apply and records:
                ids = [r.id for r in records]
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    conn.execute(update(t.runs).where(t.runs.c.parent_id.in_(chunk)).values(parent_id=None))
                    # Params, metrics, tags, artifacts and snapshots go with their run (ON DELETE CASCADE).
                    conn.execute(t.runs.delete().where(t.runs.c.id.in_(chunk)))
            return records

    def end_run(self, run_id: str, status: str = "finished") -> RunRecord:
        """Finish a running run. Ending an already-ended run is refused."""
        check_status(status)
        with self._write() as conn:
            row = self._run_row(conn, run_id)
            if row.status != "running":
                raise Conflict(f"run {row.name!r} ({run_id[:8]}) already ended as {row.status}")
            conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(status=status, end_ms=now_ms()))
            return _record(self._run_row(conn, run_id))

    def end_imported_run(self, run_id: str, status: str, start_ms: int, end_ms: int | None) -> RunRecord:
        """End a run copied from another tracker with that tracker's times (``import-mlflow``)."""
        check_status(status)
        if not isinstance(start_ms, int) or (end_ms is not None and (not isinstance(end_ms, int) or end_ms < start_ms)):
            raise UsageError(f"an imported run needs whole-millisecond times, end after start: {start_ms}, {end_ms}")
        with self._write() as conn:
            row = self._run_row(conn, run_id)
            if row.status != "running":
                raise Conflict(f"run {row.name!r} ({run_id[:8]}) already ended as {row.status}")
            ended = end_ms if end_ms is not None else start_ms
            conn.execute(
                update(t.runs).where(t.runs.c.id == run_id).values(status=status, start_ms=start_ms, end_ms=ended)
            )
            return _record(self._run_row(conn, run_id))

    def heartbeat(self, run_ids: Iterable[str]) -> None:
        """The writing process is alive: refresh its runs' heartbeat. A run another process had
        taken for crashed (it could not see this one) is running again — its writer proves it."""
        ids = list(run_ids)
        if not ids:
            return
        with self._write() as conn:
            conn.execute(
                update(t.runs).where(t.runs.c.id.in_(ids), t.runs.c.status.in_(("running", "crashed")))
                .values(status="running", end_ms=None, heartbeat_ms=now_ms())
            )  # fmt: skip

    def mark_crashed(self, host: str, is_alive: Callable[[int], bool], pid_namespace: str | None = None,
                     stale_after_ms: int = STALE_AFTER_MS) -> list[str]:  # fmt: skip
        """Mark as ``crashed`` the running runs whose writer is gone; returns their ids.

        A run of this host *and* PID namespace is judged by its PID (``is_alive``). Any other
        run — another machine, or another container with the same hostname, whose PIDs this
        process cannot see — by its heartbeat: crashed once silent for ``stale_after_ms``."""
        runs = t.runs.c
        with self._read() as conn:
            liveness = select(runs.id, runs.pid, runs.host, runs.pid_namespace, runs.heartbeat_ms)
            rows = conn.execute(liveness.where(runs.status == "running")).all()
        stale = now_ms() - stale_after_ms
        dead = []
        for row in rows:
            # Runs from before 0008 carry no namespace: judged by PID on their host, as then.
            mine = row.host == host and (row.pid_namespace is None or row.pid_namespace == (pid_namespace or None))
            if mine:
                if row.pid and row.pid != os.getpid() and not is_alive(row.pid):
                    dead.append(row.id)
            elif row.heartbeat_ms is not None and row.heartbeat_ms < stale:
                dead.append(row.id)
        if dead:
            with self._write() as conn:
                conn.execute(
                    update(t.runs)
                    .where(t.runs.c.id.in_(dead), t.runs.c.status == "running")
                    .values(status="crashed", end_ms=now_ms())
                )
        return dead

    # -- lookup ----------------------------------------------------------------------------
    def _run_row(self, conn: Connection, run_id: str) -> Any:
        row = conn.execute(
            select(*_RUN_COLUMNS)
            .join(t.experiments, t.runs.c.experiment_id == t.experiments.c.id)
            .where(t.runs.c.id == run_id)
        ).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}")
        return row

    def _running(self, conn: Connection, run_id: str) -> Any:
        row = self._run_row(conn, run_id)
        if row.status != "running":
            raise Conflict(f"run {row.name!r} ({run_id[:8]}) has ended ({row.status}); start a new run to log more")
        return row

    def get_run_record(self, run_id: str) -> RunRecord:
        with self._read() as conn:
            return _record(self._run_row(conn, run_id))

    def resolve_run(self, ref: str) -> RunRecord:
        """A run by full id, unique id prefix (4+ characters), or name (the newest run of that name).

        Raises:
            NotFound: nothing matches. UsageError: an id prefix matches several runs.
        """
        if not isinstance(ref, str) or not ref.strip():
            raise UsageError("a run reference must be a run id, a unique id prefix, or a run name")
        ref = ref.strip()
        base = select(*_RUN_COLUMNS).join(t.experiments, t.runs.c.experiment_id == t.experiments.c.id)
        with self._read() as conn:
            row = conn.execute(base.where(t.runs.c.id == ref)).first()
            if row is None and len(ref) >= 4 and all(c in "0123456789abcdef" for c in ref):
                rows = conn.execute(base.where(t.runs.c.id.startswith(ref, autoescape=True)).limit(3)).all()
                if len(rows) > 1:
                    raise UsageError(f"run id prefix {ref!r} matches several runs; give more characters")
                row = rows[0] if rows else None
            if row is None:
                # By name, a deleted run is found only when no live run has that name.
                deleted_last = t.runs.c.deleted_ms.is_not(None)
                row = conn.execute(
                    base.where(t.runs.c.name == ref)
                    .order_by(deleted_last, t.runs.c.start_ms.desc(), t.runs.c.id.desc())
                    .limit(1)
                ).first()
        if row is None:
            raise NotFound(f"no run with id, id prefix or name {ref!r}")
        return _record(row)

    def get_run(self, run_id: str) -> RunData:
        """The run with its params, last metric values, tags and artifacts."""
        with self._read() as conn:
            record = _record(self._run_row(conn, run_id))
            return self._with_data(conn, [record])[0]

    def _with_data(self, conn: Connection, records: list[RunRecord]) -> list[RunData]:
        ids = [r.id for r in records]
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        metrics: dict[str, dict[str, Metric]] = {i: {} for i in ids}
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        artifacts: dict[str, list[Artifact]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for row in conn.execute(select(t.params).where(t.params.c.run_id.in_(chunk))):
                params[row.run_id][row.key] = row.value
            for row in conn.execute(select(t.tags).where(t.tags.c.run_id.in_(chunk))):
                tags[row.run_id][row.key] = row.value
            for row in conn.execute(select(t.metric_latest).where(t.metric_latest.c.run_id.in_(chunk))):
                metrics[row.run_id][row.key] = Metric(
                    row.key, math.nan if row.value is None else row.value, row.step, row.timestamp_ms
                )
            for row in conn.execute(
                select(t.artifacts).where(t.artifacts.c.run_id.in_(chunk)).order_by(t.artifacts.c.path)
            ):
                artifacts[row.run_id].append(Artifact(row.path, row.digest, row.size, row.created_ms))
        return [
            RunData(r, dict(sorted(params[r.id].items())), dict(sorted(metrics[r.id].items())),
                    dict(sorted(tags[r.id].items())), tuple(artifacts[r.id]))
            for r in records
        ]  # fmt: skip

    # -- params, tags, artifacts -----------------------------------------------------------
    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Record params; a param keeps its first value (the same value again is accepted).

        Raises:
            Conflict: a param already has a different value; nothing of this call is written.
        """
        if not isinstance(params, Mapping):
            raise UsageError("params must be a dict of name → value")
        rows = {check_key(k, "param name"): param_value(k, v) for k, v in params.items()}
        if not rows:
            return
        with self._write() as conn:
            self._running(conn, run_id)
            existing = dict(
                conn.execute(
                    select(t.params.c.key, t.params.c.value).where(
                        t.params.c.run_id == run_id, t.params.c.key.in_(list(rows))
                    )
                ).all()
            )
            for key, (text, _) in rows.items():
                if key in existing and existing[key] != text:
                    raise Conflict(
                        f"param {key!r} is already {existing[key]!r} in this run and params cannot change; "
                        "log it under another name or start a new run"
                    )
            new = [
                {"run_id": run_id, "key": k, "value": v, "num_value": n}
                for k, (v, n) in rows.items()
                if k not in existing
            ]
            if new:
                conn.execute(insert(t.params), new)

    def _tag_rows(self, tags: Mapping[str, Any]) -> list[dict[str, str]]:
        if not isinstance(tags, Mapping):
            raise UsageError("tags must be a dict of name → value")
        return [{"key": check_key(k, "tag name"), "value": param_value(k, v)[0]} for k, v in tags.items()]

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set tags (unlike params, tags may change). Allowed on ended runs too, e.g. for review notes."""
        rows = self._tag_rows(tags)
        with self._write() as conn:
            self._run_row(conn, run_id)
            self._upsert(conn, t.tags, [{"run_id": run_id, **row} for row in rows], ["run_id", "key"], ["value"])

    def add_artifact(self, run_id: str, path: str, digest: str, size: int) -> Artifact:
        """Record that blob ``digest`` is the run's artifact at ``path`` (replacing an older one there)."""
        artifact = Artifact(check_artifact_path(path), digest, size, now_ms())
        with self._write() as conn:
            self._running(conn, run_id)
            self._upsert(
                conn, t.artifacts, [{"run_id": run_id, **artifact.__dict__}], ["run_id", "path"],
                ["digest", "size", "created_ms"],
            )  # fmt: skip
        return artifact

    def get_artifact(self, run_id: str, path: str) -> Artifact:
        path = check_artifact_path(path)
        with self._read() as conn:
            self._run_row(conn, run_id)
            row = conn.execute(
                select(t.artifacts).where(t.artifacts.c.run_id == run_id, t.artifacts.c.path == path)
            ).first()
        if row is None:
            raise NotFound(f"run {run_id[:8]} has no artifact {path!r}")
        return Artifact(row.path, row.digest, row.size, row.created_ms)

    # -- search ----------------------------------------------------------------------------
    def search_runs(
        self,
        experiments: Iterable[str] | None = None,
        filter: str | None = None,
        order_by: str | Iterable[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        deleted: bool = False,
        roots: bool = False,
    ) -> tuple[list[RunData], int]:
        """Runs matching a filter (see ``store.filter``), sorted and paged; with ``deleted``,
        the deleted ones instead of the others.

        Args:
            experiments: experiment names to search in; all experiments when None.
            filter: filter expression, e.g. ``metrics.auc > 0.8 and params.model = 'xgb'``.
            order_by: ``FIELD [ASC|DESC]`` items; FIELD is one of start, end, name, status,
                experiment, duration, params.X, metrics.X, tags.X. Default ``start DESC``.
            limit: page size (at most 10,000); offset: rows to skip.
            roots: only the tops of the result's trees: matching runs whose parent does not
                match (or that have none). Their matching children: ``child_counts`` and
                ``parent_id = '…'`` in the filter.

        Returns:
            (the page of runs with their data, the total number of matches)
        """
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_PAGE):
            raise UsageError(f"limit must be an integer from 1 to {MAX_PAGE}")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise UsageError("offset must be a non-negative integer")
        where = _matching(experiments, filter, deleted)
        if roots:
            # The inner query has its own FROM runs: without correlate(None) SQLAlchemy would tie
            # it to the outer runs row and every run would count as its own parent.
            matching_ids = select(t.runs.c.id).join(t.experiments, _EXPERIMENT_JOIN).where(where).correlate(None)
            where = and_(where, or_(t.runs.c.parent_id.is_(None), t.runs.c.parent_id.not_in(matching_ids)))
        base = select(*_RUN_COLUMNS).join(t.experiments, _EXPERIMENT_JOIN).where(where)
        ordered = base.order_by(*_order_sql(order_by), t.runs.c.id)
        if limit is not None:
            ordered = ordered.limit(limit)
        if offset:
            ordered = ordered.offset(offset)
        with self._read() as conn:
            total = conn.execute(select(func.count()).select_from(base.subquery())).scalar_one()
            records = [_record(row) for row in conn.execute(ordered)]
            return self._with_data(conn, records), total

    def child_counts(
        self,
        parent_ids: Iterable[str],
        experiments: Iterable[str] | None = None,
        filter: str | None = None,
        deleted: bool = False,
    ) -> dict[str, int]:
        """How many runs matching ``experiments`` and ``filter`` each of ``parent_ids`` has as
        direct children (parents without any are left out)."""
        ids = list(parent_ids)
        if not ids:
            return {}
        if len(ids) > MAX_PAGE:
            raise UsageError(f"child_counts takes at most {MAX_PAGE} parent ids")
        children = func.count().label("children")
        query = (
            select(t.runs.c.parent_id, children)
            .join(t.experiments, _EXPERIMENT_JOIN)
            .where(_matching(experiments, filter, deleted), t.runs.c.parent_id.in_(ids))
            .group_by(t.runs.c.parent_id)
        )
        with self._read() as conn:
            return {row.parent_id: int(row.children) for row in conn.execute(query)}

    def group_runs(
        self,
        by: str,
        experiments: Iterable[str] | None = None,
        filter: str | None = None,
        deleted: bool = False,
        metrics: Iterable[str] | None = None,
        limit: int = MAX_GROUPS,
    ) -> tuple[list[RunGroup], int]:
        """The matching runs grouped by one field, each group with its run count and, per metric,
        the count, mean, min and max of the runs' last values.

        Args:
            by: ``experiment``, ``status``, ``user``, ``params.X`` or ``tags.X``.
            metrics: the metric keys to summarise; every key when None.
            limit: at most this many groups (the largest first, then by value).

        Returns:
            (the groups ordered by value, numerically where all read as numbers; runs without
            the field form the group of value None, last), the number of groups in all.
        """
        value = _group_value(by)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_GROUPS:
            raise UsageError(f"limit must be an integer from 1 to {MAX_GROUPS}")
        keys = None if metrics is None else [check_key(k, "metric") for k in metrics]
        grouped = (
            select(t.runs.c.id.label("run_id"), value.label("value"))
            .join(t.experiments, _EXPERIMENT_JOIN)
            .where(_matching(experiments, filter, deleted))
            .subquery()
        )
        runs = func.count().label("runs")
        counted = (
            select(grouped.c.value, runs)
            .group_by(grouped.c.value)
            .order_by(runs.desc(), grouped.c.value.asc().nulls_last())
        )
        with self._read() as conn:
            counts = [(row.value, int(row.runs)) for row in conn.execute(counted)]
            kept = counts[:limit]
            summaries: dict[str | None, dict[str, MetricSummary]] = {v: {} for v, _ in kept}
            if keys is None or keys:
                latest = t.metric_latest
                query = (
                    select(
                        grouped.c.value, latest.c.key, func.count(latest.c.value).label("n"),
                        func.avg(latest.c.value).label("mean"), func.min(latest.c.value).label("low"),
                        func.max(latest.c.value).label("high"),
                    )
                    .join(latest, latest.c.run_id == grouped.c.run_id)
                    .group_by(grouped.c.value, latest.c.key)
                )  # fmt: skip
                if keys is not None:
                    query = query.where(latest.c.key.in_(keys))
                for row in conn.execute(query):
                    if row.value in summaries:
                        summaries[row.value][row.key] = MetricSummary(
                            int(row.n), _float(row.mean), _float(row.low), _float(row.high)
                        )
        groups = [RunGroup(v, n, dict(sorted(summaries[v].items()))) for v, n in kept]
        return sorted(groups, key=_group_order(groups)), len(counts)

    def run_keys(
        self, experiments: Iterable[str] | None = None, filter: str | None = None, deleted: bool = False
    ) -> dict[str, list[tuple[str, int]]]:
        """The param, metric and tag names of every run matching ``experiments`` and ``filter``, each
        with how many runs have it, most common first: the columns a runs table offers, decided
        on the whole result rather than on the rows loaded so far."""
        # One statement: the matching runs are a CTE read three times, which SQLite (3.35+) and
        # PostgreSQL (12+) evaluate once — the filter is most of the cost on a large store.
        matching = (
            select(t.runs.c.id)
            .join(t.experiments, _EXPERIMENT_JOIN)
            .where(_matching(experiments, filter, deleted))
            .cte("matching")
        )
        kinds = (("params", t.params), ("metrics", t.metric_latest), ("tags", t.tags))
        query = union_all(*(
            select(literal(kind).label("kind"), table.c.key.label("key"), func.count().label("runs"))
            .where(table.c.run_id.in_(select(matching.c.id)))
            .group_by(table.c.key)
            for kind, table in kinds
        ))  # fmt: skip
        out: dict[str, list[tuple[str, int]]] = {kind: [] for kind, _ in kinds}
        with self._read() as conn:
            for row in conn.execute(query):
                out[row.kind].append((row.key, int(row.runs)))
        for found in out.values():
            found.sort(key=lambda pair: (-pair[1], pair[0]))
        return out


def _matching(experiments: Iterable[str] | None, filter: str | None, deleted: bool) -> ColumnElement[bool]:
    """The WHERE of every runs query: the filter, deleted or not, the experiments (for a select
    from runs joined to experiments)."""
    where: list[ColumnElement[bool]] = [_node_sql(c) for c in parse_filter(filter)]
    where.append(t.runs.c.deleted_ms.is_not(None) if deleted else t.runs.c.deleted_ms.is_(None))
    if experiments is not None:
        names = [experiments] if isinstance(experiments, str) else list(experiments)
        where.append(t.experiments.c.name.in_(names))
    return and_(True, *where)


def _group_value(by: Any) -> Any:
    if not isinstance(by, str) or not by:
        raise UsageError(f"group by one of {', '.join(GROUP_FIELDS)}, params.X or tags.X")
    if by in GROUP_FIELDS:
        return {"experiment": t.experiments.c.name, "status": t.runs.c.status, "user": t.runs.c.user}[by]
    kind, _, key = by.partition(".")
    if kind not in ("params", "tags") or not key:
        raise UsageError(
            f"cannot group by {by!r}: use {', '.join(GROUP_FIELDS)}, params.X or tags.X "
            "(a metric varies run to run: filter or sort by it instead)"
        )
    key = key[1:-1] if key.startswith("`") and key.endswith("`") else key
    table = t.params if kind == "params" else t.tags
    return select(table.c.value).where(table.c.run_id == t.runs.c.id, table.c.key == key).scalar_subquery()


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _group_order(groups: list[RunGroup]) -> Callable[[RunGroup], tuple[Any, ...]]:
    """Values in numeric order when every one reads as a number (0.01 before 0.1 before 1), else
    as text; the group without a value last."""

    def as_number(text: str) -> float | None:
        try:
            return float(text)
        except ValueError:
            return None

    numeric = all(as_number(g.value) is not None for g in groups if g.value is not None)

    def order(group: RunGroup) -> tuple[Any, ...]:
        if group.value is None:
            return (1, 0.0, "")
        return (0, as_number(group.value) if numeric else 0.0, group.value)

    return order


def check_artifact_path(path: Any) -> str:
    """A relative POSIX path inside the run: no '..', no absolute path, no backslashes or NULs."""
    if not isinstance(path, str) or not path or len(path) > 1024:
        raise UsageError("artifact path must be a non-empty relative path of at most 1024 characters")
    parts = path.split("/")
    if (
        path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or any(part in ("", ".", "..") for part in parts)
        or (len(parts[0]) >= 2 and parts[0][1] == ":")
    ):
        raise UsageError(f"invalid artifact path {path!r}: use a relative path like 'plots/roc.png' without '..'")
    return path


_SQL_OPS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _node_sql(node: Node) -> ColumnElement[bool]:
    if isinstance(node, AllOf):
        return and_(*(_node_sql(term) for term in node.terms))
    if isinstance(node, AnyOf):
        return or_(*(_node_sql(term) for term in node.terms))
    if isinstance(node, Not):
        return not_(_node_sql(node.term))
    return _condition_sql(node)


def _compare(column: ColumnElement[Any], c: Condition) -> ColumnElement[bool]:
    if c.op in ("in", "not in"):
        assert isinstance(c.value, tuple)
        values = list(c.value)
        return column.in_(values) if c.op == "in" else column.not_in(values)
    if c.op in ("like", "not like"):
        matched = column.ilike(str(c.value))
        return matched if c.op == "like" else not_(matched)
    return _SQL_OPS[c.op](column, c.value)


def _condition_sql(c: Condition) -> ColumnElement[bool]:
    plain = {
        "status": t.runs.c.status, "name": t.runs.c.name, "user": t.runs.c.user,
        "notebook_id": t.runs.c.notebook_id, "parent_id": t.runs.c.parent_id,
        "experiment": t.experiments.c.name,  # every runs query joins experiments (_matching)
    }  # fmt: skip
    if c.kind in plain:
        column = plain[c.kind]
        if c.op in ("is null", "is not null"):
            return column.is_(None) if c.op == "is null" else column.is_not(None)
        return _compare(column, c)
    table = {"metrics": t.metric_latest, "params": t.params, "tags": t.tags}[c.kind]
    has_key = exists().where(table.c.run_id == t.runs.c.id, table.c.key == c.key)
    if c.op == "is null":
        return ~has_key
    if c.op == "is not null":
        return has_key
    numeric = isinstance(c.value, float) or (isinstance(c.value, tuple) and isinstance(c.value[0], float))
    if c.kind == "metrics":
        column = table.c.value
    elif c.kind == "params":
        column = t.params.c.num_value if numeric and not c.op.endswith("like") else t.params.c.value
    else:
        column = t.tags.c.value
        if numeric:  # tags are texts: 3 matches the tag "3"
            value = c.value
            texts = tuple(_number_text(v) for v in value) if isinstance(value, tuple) else _number_text(value)  # type: ignore[arg-type]
            c = Condition(c.kind, c.key, c.op, texts)
    return has_key.where(_compare(column, c))


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _order_sql(order_by: str | Iterable[str] | None) -> list[Any]:
    items = [order_by] if isinstance(order_by, str) else list(order_by or ["start DESC"])
    clauses: list[Any] = []
    for item in items:
        words = str(item).split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise UsageError(f"invalid order_by {item!r}: use 'FIELD' or 'FIELD DESC', e.g. 'metrics.auc DESC'")
        field, descending = words[0], len(words) == 2 and words[1].upper() == "DESC"
        column: Any
        if field in ORDERABLE:
            column = {
                "start": t.runs.c.start_ms, "end": t.runs.c.end_ms, "name": t.runs.c.name,
                "status": t.runs.c.status, "experiment": t.experiments.c.name,
                "duration": t.runs.c.end_ms - t.runs.c.start_ms,
            }[field]  # fmt: skip
        elif "." in field and field.split(".", 1)[0] in ("params", "metrics", "tags"):
            kind, key = field.split(".", 1)
            table = {"params": t.params, "metrics": t.metric_latest, "tags": t.tags}[kind]
            value_column = table.c.num_value if kind == "params" else table.c.value
            sub = select(value_column).where(table.c.run_id == t.runs.c.id, table.c.key == key).scalar_subquery()
            if kind == "params":
                # Numeric params sort as numbers, the rest as text after them.
                text_sub = (
                    select(table.c.value).where(table.c.run_id == t.runs.c.id, table.c.key == key).scalar_subquery()
                )
                clauses.append(_nulls_last(sub, descending))
                column = text_sub
            else:
                column = sub
        else:
            raise UsageError(f"cannot order by {field!r}: use {', '.join(ORDERABLE)}, params.X, metrics.X or tags.X")
        clauses.append(_nulls_last(column, descending))
    return clauses


def _nulls_last(column: Any, descending: bool) -> Any:
    # Runs without the field go last either way, on SQLite and PostgreSQL alike.
    return (column.desc() if descending else column.asc()).nulls_last()
