"""Monitoring, as every face uses it: log production batches and late labels against a model
version, report drift and performance over a window, series over time, alert rules and alerts.

A batch is stored as its mergeable profile (``stats.profiles``) plus, when given, a small blob of
the rows' ids, predictions, scores, inline labels and low-cardinality categorical columns (for
joining labels that arrive later and for per-segment performance); raw feature rows are kept
only with ``keep_rows=True`` (Parquet). Rules are checked after every batch and every label set;
a rule that holds records an alert (and an audit event) unless it already fired for a window
ending less than one window ago.
"""

from __future__ import annotations

import io
import itertools
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from ..entities import ModelVersionRecord
from ..errors import NotFound, UsageError
from ..registry import Governance, check_model_name, parse_ref, read_profile, resolve
from ..stats import drift as drift_tests
from ..stats import sketch as sk
from ..stats.performance import HIGHER_IS_BETTER, aligned_predictions, by_segment, metrics
from ..stats.profiles import CATEGORICAL, columns_of, from_blob, merge, profile, to_blob
from ..stats.reference import bins_of
from ..store import Store
from ..store.monitoring import AlertRow, BatchRow, RuleRow
from .rules import Rule, parse_rule, window_ms

MAX_SEGMENT_VALUES = 100
_REFERENCES: dict[str, dict[str, Any]] = {}
MAX_BATCH_ROWS = 50_000_000


def to_ms(timestamp: Any) -> int:
    """Milliseconds since the epoch from None (now), a number of ms, a datetime or an ISO text."""
    if timestamp is None:
        return time.time_ns() // 1_000_000
    if isinstance(timestamp, bool):
        raise UsageError("timestamp must be a datetime, an ISO time or milliseconds since the epoch")
    if isinstance(timestamp, (int, float)):
        return int(timestamp)
    if isinstance(timestamp, str):
        try:
            timestamp = datetime.fromisoformat(timestamp)
        except ValueError:
            raise UsageError(f"timestamp {timestamp!r} is not an ISO time (2026-12-01T08:00:00)") from None
    if isinstance(timestamp, datetime):
        return int(timestamp.timestamp() * 1000)
    if hasattr(timestamp, "to_pydatetime"):
        return int(timestamp.to_pydatetime().timestamp() * 1000)
    raise UsageError("timestamp must be a datetime, an ISO time or milliseconds since the epoch")


@dataclass
class LoggedBatch:
    id: str
    model: str
    version: int
    rows: int
    alerts: list[AlertRow] = field(default_factory=list)

    def __repr__(self) -> str:
        fired = f", {len(self.alerts)} alert(s): " + "; ".join(a.expression for a in self.alerts) if self.alerts else ""
        return f"<batch of {self.rows} rows for {self.model}/{self.version}{fired}>"


@dataclass(frozen=True)
class RequestIds:
    """The row ids of answered requests, kept as (request id, row count) pairs instead of a text
    per row: a one-row request's row is the request id, the rows of an ``n``-row request are
    ``ID/0`` … ``ID/n-1`` (what ``jupyter mlm serve`` answers, and what labels join by). Stored
    as the pairs and expanded only when read — per-row texts were most of a served batch's cost."""

    requests: Sequence[str]
    counts: Sequence[int]

    def __post_init__(self) -> None:
        if len(self.requests) != len(self.counts) or any(c < 1 for c in self.counts):
            raise UsageError("RequestIds takes one count of at least 1 per request id")

    def __len__(self) -> int:
        return int(sum(self.counts))

    def expand(self) -> list[str]:
        return [
            row
            for rid, count in zip(self.requests, self.counts, strict=True)
            for row in ([rid] if count == 1 else [f"{rid}/{i}" for i in range(count)])
        ]

    def repeat(self) -> bool:
        """Whether two rows would get the same id, decided on the request ids alone: a request id
        twice, or a one-row request ``P/i`` beside a request ``P`` of more than ``i`` rows."""
        if len(set(self.requests)) != len(self.requests):
            return True
        many = {rid: count for rid, count in zip(self.requests, self.counts, strict=True) if count > 1}
        for rid, count in zip(self.requests, self.counts, strict=True):
            prefix, _, index = rid.rpartition("/")
            written_as_row = index.isdigit() and index == str(int(index))
            if count == 1 and prefix in many and written_as_row and int(index) < many[prefix]:
                return True
        return False


def _utf8(values: np.ndarray) -> np.ndarray:
    """Values as UTF-8 text bytes (``S``): a quarter of numpy's UCS-4 ``U`` for the ASCII ids
    serving generates, and far less to compress."""
    if values.dtype.kind == "U":
        try:
            return values.astype("S")  # numpy's ASCII encoder: refuses anything else, never garbles it
        except UnicodeEncodeError:
            pass
    return np.asarray([str(v).encode("utf-8", "surrogatepass") for v in values.tolist()], dtype=bytes)


def write_arrays(arrays: Mapping[str, np.ndarray]) -> bytes:
    """An ``.npz`` (what ``np.load`` reads), written at deflate level 1 — numpy's
    ``savez_compressed`` uses zlib's default, ~5× slower for ~15 % less — with byte strings (row
    ids) and floats (scores: random mantissas, ~10 % smaller for most of a served batch's cost to
    write) stored as they are."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, array in arrays.items():
            kind = zipfile.ZIP_STORED if array.dtype.kind in "Sf" else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = kind
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def read_arrays(blob: bytes) -> dict[str, np.ndarray]:
    """The arrays of an outputs or labels blob, texts as ``str`` whichever way they were stored
    (UTF-8 bytes now, numpy ``U`` before)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    for name, array in arrays.items():
        if array.dtype.kind == "S":
            arrays[name] = np.asarray([b.decode("utf-8", "surrogatepass") for b in array.tolist()], dtype=str)
    if "id_requests" in arrays:
        requests, counts = arrays.pop("id_requests").tolist(), arrays.pop("id_counts").tolist()
        arrays["ids"] = np.asarray(RequestIds(requests, counts).expand(), dtype=str)
    return arrays


def _array(value: Any, what: str, n: int) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim == 2 and what == "scores":
        array = array[:, -1]
    if array.ndim != 1 or len(array) != n:
        raise UsageError(f"{what} must be one value per row ({n} rows), not shape {array.shape}")
    return array


class Monitor:
    """Monitoring of one store, acting as ``actor`` (for rule changes and alerts)."""

    def __init__(self, store: Store, actor: str) -> None:
        self.store = store
        self.actor = actor

    # -- versions and references ---------------------------------------------------------------
    def version(self, model: str, version: Any = None) -> ModelVersionRecord:
        """``"churn"`` (production), ``"churn@champion"``, ``"churn/3"``, or ``model`` with ``version``."""
        policy = Governance(self.store, self.actor).policy()
        if version is not None:
            from ..registry import check_version

            return self.store.get_version(check_model_name(model), check_version(version))
        if isinstance(model, str) and ("@" in model or "/" in model):
            parse_ref(model)
            return resolve(self.store, model, policy)
        name = check_model_name(model)
        found = self.store.newest_in_stage(name, policy.production)
        if found is None:
            self.store.get_model(name)  # an unknown model says so
            raise NotFound(
                f"{name!r} has no {policy.production} version; say which version: {name}/3 or {name}@champion"
            )
        return found

    def reference(self, record: ModelVersionRecord) -> dict[str, Any] | None:
        if record.profile_digest is None:
            return None
        cached = _REFERENCES.get(record.profile_digest)
        if cached is None:
            profile = read_profile(self.store, record) or {}
            cached = _REFERENCES[record.profile_digest] = profile.get("monitoring") or {}
            while len(_REFERENCES) > 32:  # blobs never change: remembering them is always right
                _REFERENCES.pop(next(iter(_REFERENCES)))
        return cached or None

    def _check_signature(self, record: ModelVersionRecord, columns: Mapping[str, np.ndarray]) -> None:
        import json

        if not record.signature:
            return
        inputs = json.loads(record.signature).get("inputs") or []
        for spec in inputs:
            name, kind = spec.get("name"), spec.get("type")
            if name not in columns:
                raise UsageError(
                    f"column {name!r} of {record.model}/{record.version}'s signature is missing from the batch "
                    f"(got {', '.join(list(columns)[:10]) or 'no columns'})"
                )
            numeric = columns[name].dtype.kind in "iuf"
            if kind in ("integer", "float") and not numeric:
                raise UsageError(f"column {name!r} must be numeric ({kind}) but holds {columns[name].dtype}")

    # -- logging ----------------------------------------------------------------------------------
    def log(
        self,
        model: str,
        data: Any,
        predictions: Any = None,
        labels: Any = None,
        ids: Any = None,
        scores: Any = None,
        latency_ms: Any = None,
        version: Any = None,
        timestamp: Any = None,
        keep_rows: bool = False,
        source: str = "api",
    ) -> LoggedBatch:
        """Record a batch of production rows against a model version (production by default)."""
        record = self.version(model, version)
        names = None
        if isinstance(data, np.ndarray) and record.signature:
            import json

            names = [s["name"] for s in json.loads(record.signature).get("inputs") or []] or None
        columns = columns_of(data, names)
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise UsageError(f"columns have different lengths: {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
        if n == 0:
            raise UsageError("the batch has no rows")
        if n > MAX_BATCH_ROWS:
            raise UsageError(
                f"a batch holds at most {MAX_BATCH_ROWS:,} rows; profile larger data with "
                "mlm.monitor.profile per partition and log_profile the merge"
            )
        self._check_signature(record, columns)
        ref = self.reference(record)
        preds = None if predictions is None else _array(predictions, "predictions", n)
        score = None if scores is None else _array(scores, "scores", n)
        latency = None if latency_ms is None else _array(latency_ms, "latency_ms", n)
        row_ids: np.ndarray | RequestIds | None
        if isinstance(ids, RequestIds):
            if len(ids) != n:
                raise UsageError(f"ids must be one value per row ({n} rows), not {len(ids)}")
            row_ids = ids
        else:
            row_ids = None if ids is None else _array(ids, "ids", n)
        label = None if labels is None else _array(labels, "labels", n)
        if (isinstance(row_ids, RequestIds) and row_ids.repeat()) or (
            isinstance(row_ids, np.ndarray) and len(set(row_ids.tolist())) != n
        ):
            raise UsageError("ids must be unique within a batch: labels join their rows by id")
        prof = profile(
            columns, predictions=preds, scores=score, latency_ms=latency, reference=bins_of(ref) if ref else None
        )
        outputs = None
        if preds is not None or label is not None or row_ids is not None:
            outputs = self._outputs_blob(columns, row_ids, preds, score, label, n)
        rows_digest = self._rows_blob(columns) if keep_rows else None
        return self._record(record, prof, to_ms(timestamp), outputs, rows_digest, source)

    def log_profile(
        self, model: str, prof: Mapping[str, Any], version: Any = None, timestamp: Any = None
    ) -> LoggedBatch:
        """Record a profile made elsewhere (``profile`` in a Dask/Spark task, merged)."""
        if not isinstance(prof, Mapping) or prof.get("version") != 1 or "columns" not in prof:
            raise UsageError("log_profile takes a profile from mlm.monitor.profile (or a merge of them)")
        record = self.version(model, version)
        self._check_signature(
            record,
            {k: np.zeros(0, dtype=float if v["type"] != CATEGORICAL else object) for k, v in prof["columns"].items()},
        )
        return self._record(record, dict(prof), to_ms(timestamp), None, None, "profile")

    def _record(
        self,
        record: ModelVersionRecord,
        prof: dict[str, Any],
        ts: int,
        outputs: str | None,
        rows: str | None,
        source: str,
    ) -> LoggedBatch:
        digest = self.store.objects.put_bytes(to_blob(prof))
        batch = self.store.add_batch(record.model, record.version, ts, prof["rows"], digest, outputs, rows, source)
        alerts = self.check_rules(record.model)
        return LoggedBatch(batch.id, record.model, record.version, prof["rows"], alerts)

    def _outputs_blob(
        self,
        columns: Mapping[str, np.ndarray],
        ids: np.ndarray | RequestIds | None,
        preds: np.ndarray | None,
        scores: np.ndarray | None,
        labels: np.ndarray | None,
        n: int,
    ) -> str:
        arrays: dict[str, np.ndarray] = {}
        if isinstance(ids, RequestIds):
            arrays["id_requests"] = _utf8(np.asarray(ids.requests, dtype=str))
            arrays["id_counts"] = np.asarray(ids.counts, dtype=np.int64)
        elif ids is not None:
            arrays["ids"] = _utf8(ids)
        for key, value in (("predictions", preds), ("scores", scores), ("labels", labels)):
            if value is not None:
                arrays[key] = value if value.dtype.kind != "O" else np.asarray([str(v) for v in value.tolist()])
        for name, values in columns.items():
            if values.dtype.kind not in "iuf" and len(set(values.tolist())) <= MAX_SEGMENT_VALUES:
                arrays[f"segment:{name}"] = np.asarray([str(v) for v in values.tolist()])
        return self.store.objects.put_bytes(write_arrays(arrays))

    def _rows_blob(self, columns: Mapping[str, np.ndarray]) -> str:
        try:
            import pandas as pd

            frame = pd.DataFrame(dict(columns))
            buffer = io.BytesIO()
            frame.to_parquet(buffer)
        except ImportError:
            raise UsageError("keep_rows=True stores Parquet: pip install pyarrow") from None
        return self.store.objects.put_bytes(buffer.getvalue())

    def log_labels(self, model: str, ids: Any, labels: Any) -> list[AlertRow]:
        """Labels that arrived later, joined to their rows by id; returns any alerts they fired."""
        name = check_model_name(model.partition("@")[0].partition("/")[0])
        id_array, label_array = np.asarray(ids), np.asarray(labels)
        if id_array.ndim != 1 or label_array.shape != id_array.shape or id_array.size == 0:
            raise UsageError("log_labels takes ids and labels of the same non-zero length")
        buffer = io.BytesIO()
        np.savez_compressed(buffer, ids=np.asarray([str(i) for i in id_array.tolist()]), labels=label_array)
        self.store.add_label_set(name, int(id_array.size), self.store.objects.put_bytes(buffer.getvalue()))
        return self.check_rules(name)

    # -- windows ----------------------------------------------------------------------------------
    def _window(
        self, name: str, window: str | None, end_ms: int | None, version: int | None
    ) -> tuple[int, int, list[BatchRow]]:
        end = end_ms if end_ms is not None else to_ms(None)
        start = end - window_ms(window) if window not in (None, "all") else 0
        return start, end, self.store.batches(name, start, end, version)

    def _profile_of(self, batches: Sequence[BatchRow]) -> dict[str, Any] | None:
        return merge(from_blob(self.store.objects.get(b.profile_digest)) for b in batches)

    def _joined(self, name: str, batches: Sequence[BatchRow]) -> dict[str, np.ndarray] | None:
        """Rows of ``batches`` that have a prediction and a label (inline or arrived later)."""
        late: dict[str, Any] = {}
        for label_set in self.store.label_sets(name):
            data = read_arrays(self.store.objects.get(label_set.digest))
            late.update(zip(data["ids"].tolist(), data["labels"].tolist(), strict=True))
        parts: dict[str, list[np.ndarray]] = {}
        for batch in batches:
            if batch.outputs_digest is None:
                continue
            arrays = read_arrays(self.store.objects.get(batch.outputs_digest))
            if "predictions" not in arrays:
                continue
            n = len(arrays["predictions"])
            if "labels" in arrays:
                labels = arrays["labels"].astype(object)
                known = np.ones(n, dtype=bool)
            else:
                labels = np.empty(n, dtype=object)
                known = np.zeros(n, dtype=bool)
            if "ids" in arrays and late:
                for i, row_id in enumerate(arrays["ids"].tolist()):
                    if row_id in late:
                        labels[i], known[i] = late[row_id], True
            if not known.any():
                continue
            for key, value in arrays.items():
                if key != "labels":
                    parts.setdefault(key, []).append(value[known])
            if "ids" not in arrays:
                parts.setdefault("ids", []).append(np.asarray([""] * int(known.sum())))
            parts.setdefault("labels", []).append(labels[known])
        if not parts:
            return None
        joined = {k: np.concatenate(v) for k, v in parts.items()}
        sample = joined["labels"]
        kinds = {type(v) for v in sample.tolist()}
        if kinds <= {int, bool} or kinds <= {int, float, bool}:
            joined["labels"] = sample.astype(float if float in kinds else int)
        return joined

    def labeled(
        self, model: str, window: str | None = "7d", version: Any = None, source: str | None = None
    ) -> dict[str, np.ndarray] | None:
        """Predictions (and scores, ids) of rows whose labels are known, of one version over a
        window, optionally of one ``source`` ("serve", "shadow", "serve:ARM")."""
        name = check_model_name(model.partition("@")[0].partition("/")[0])
        number = None if version is None else self.version(model, version).version
        _, _, batches = self._window(name, window, None, number)
        if source is not None:
            batches = [b for b in batches if b.source == source]
        return self._joined(name, batches)

    def arms(self, model: str, window: str | None = "7d") -> list[dict[str, Any]]:
        """Rows and metrics per serving arm: each (source, version) of the window's batches —
        ``serve`` (the one answering), ``serve:ARM`` (an A/B arm), ``shadow`` — with their labeled
        rows' metrics, so champion, challenger and arms read side by side."""
        name = check_model_name(model.partition("@")[0].partition("/")[0])
        _, _, batches = self._window(name, window, None, None)
        groups: dict[tuple[str, int], list[BatchRow]] = {}
        for batch in batches:
            groups.setdefault((batch.source, batch.version), []).append(batch)
        out = []
        for (source, version), group in sorted(groups.items()):
            performance = self.performance(name, group)
            out.append({
                "source": source, "arm": source.partition(":")[2] or None, "version": version,
                "rows": sum(b.rows for b in group), "batches": len(group),
                "labeled_rows": performance["rows"] if performance else 0,
                "metrics": performance["metrics"] if performance else {},
            })  # fmt: skip
        return out

    def labeled_rows(self, model: str, window: str | None = "7d", version: Any = None) -> Any:
        """Recent production rows with their labels, as a DataFrame (inputs, ``prediction``,
        ``label``, ``id``): what a retraining notebook adds to its training data. Only batches
        logged with their rows (``keep_rows=True``, ``jupyter mlm serve --keep-rows``) have inputs."""
        import pandas as pd

        name = check_model_name(model.partition("@")[0].partition("/")[0])
        number = None if version is None else self.version(model, version).version
        _, _, batches = self._window(name, window, None, number)
        frames = []
        for batch in batches:
            if batch.rows_digest is None or batch.outputs_digest is None:
                continue
            joined = self._joined(name, [batch])
            if joined is None:
                continue
            outputs = read_arrays(self.store.objects.get(batch.outputs_digest))
            all_ids = outputs["ids"].tolist() if "ids" in outputs else []
            rows = pd.read_parquet(io.BytesIO(self.store.objects.get(batch.rows_digest)))
            position = {row_id: i for i, row_id in enumerate(all_ids)}
            take = [position[i] for i in joined["ids"].tolist() if i in position]
            if len(take) != len(joined["ids"]):
                continue  # a batch logged without ids: its labels cannot be placed
            frame = rows.iloc[take].reset_index(drop=True)
            frame["prediction"] = joined["predictions"]
            frame["label"] = joined["labels"]
            frame["id"] = joined["ids"]
            frames.append(frame)
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)

    def performance(
        self, name: str, batches: Sequence[BatchRow], segment_by: Sequence[str] = (), task: str | None = None
    ) -> dict[str, Any] | None:
        joined = self._joined(name, batches)
        if joined is None:
            return None
        labels, preds = joined["labels"], joined["predictions"]
        preds = aligned_predictions(labels, preds)
        scores = joined.get("scores")
        out: dict[str, Any] = {"rows": len(labels), "metrics": metrics(labels, preds, scores, task)}
        if segment_by:
            segments = {}
            for column in segment_by:
                key = f"segment:{column}"
                if key not in joined:
                    raise UsageError(
                        f"no segment column {column!r}: segments are categorical inputs with at "
                        f"most {MAX_SEGMENT_VALUES} values logged with predictions"
                    )
                segments[column] = joined[key]
            out["segments"] = by_segment(labels, preds, scores, segments, task)
        return out

    # -- reports and series ----------------------------------------------------------------------
    def report(
        self,
        model: str,
        window: str | None = "1d",
        version: Any = None,
        segment_by: Sequence[str] = (),
        methods: Mapping[str, str] | None = None,
        thresholds: Mapping[str, float] | None = None,
        share: float = drift_tests.DATASET_DRIFT_SHARE,
        end: Any = None,
    ) -> MonitorReport:
        """Drift and performance of a model version over the window ending ``end`` (now)."""
        record = self.version(model, version)
        start, stop, batches = self._window(record.model, window, None if end is None else to_ms(end), record.version)
        current = self._profile_of(batches)
        ref = self.reference(record)
        drift = None
        if current is not None and ref is not None:
            drift = drift_tests.dataset_drift(ref, current, methods, thresholds, share)
        performance = self.performance(record.model, batches, segment_by)
        latency = _latency(current)
        return MonitorReport(
            model=record.model,
            version=record.version,
            window=window or "all",
            start_ms=start,
            end_ms=stop,
            batches=len(batches),
            rows=current["rows"] if current else 0,
            drift=drift,
            performance=performance,
            latency=latency,
            has_reference=ref is not None,
            reference=ref,
            current=current,
            alerts=[a for a in self.store.alerts(record.model) if a.ts_ms >= start],
        )

    def value(self, rule: Rule, name: str, end_ms: int) -> tuple[float | None, int | None]:
        """A rule's metric over its window ending at ``end_ms``, and the version it concerns."""
        start = end_ms - rule.window_ms
        batches = self.store.batches(name, start, end_ms)
        if rule.metric == "rows":
            return float(sum(b.rows for b in batches)), (batches[-1].version if batches else None)
        if not batches:
            return None, None
        version = batches[-1].version
        batches = [b for b in batches if b.version == version]
        metric = rule.metric
        if metric in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "mae", "rmse", "r2"):
            performance = self.performance(name, batches)
            return (None if performance is None else performance["metrics"].get(metric)), version
        current = self._profile_of(batches)
        assert current is not None
        if metric.endswith("_latency_ms"):
            return _latency(current).get(metric.removesuffix("_latency_ms")), version
        if metric in ("missing_share", "mean"):
            column = current["columns"].get(rule.column or "")
            if column is None:
                return None, version
            total = column["count"] + column["missing"]
            if metric == "missing_share":
                return (column["missing"] / total if total else None), version
            return (
                column["sum"] / column["count"] if column["type"] != CATEGORICAL and column["count"] else None
            ), version
        record = self.store.get_version(name, version)
        ref = self.reference(record)
        if ref is None:
            return None, version
        report = drift_tests.dataset_drift(ref, current)
        if metric == "drift_share":
            return report["share"], version
        if metric == "prediction_psi":
            return (report["prediction"] or {}).get("psi"), version
        found = [c for c in report["columns"] if c["column"] == rule.column]
        if not found:
            raise UsageError(f"no column {rule.column!r} in {name}/{version}'s reference")
        return found[0]["psi" if metric == "psi" else "score"], version

    def series(self, model: str, metric: str, every: str = "1h", window: str | None = None) -> Any:
        """One row per ``every`` bucket: start time, the metric's value, rows. A DataFrame."""
        import pandas as pd

        name = self.version(model).model if "@" in model or "/" in model else check_model_name(model)
        rule = parse_rule(f"{metric} > 0 per {every}")
        step = window_ms(every)
        batches = self.store.batches(name)
        if window not in (None, "all"):
            cutoff = to_ms(None) - window_ms(window)
            batches = [b for b in batches if b.ts_ms >= cutoff]
        rows = []
        if batches:
            first = batches[0].ts_ms - batches[0].ts_ms % step
            last = batches[-1].ts_ms
            bucket = first
            while bucket <= last:
                end = bucket + step - 1
                count = sum(b.rows for b in batches if bucket <= b.ts_ms <= end)
                value, version = self.value(rule, name, end) if count else (None, None)
                rows.append(
                    {
                        "time": pd.Timestamp(bucket, unit="ms", tz="UTC"),
                        "value": value,
                        "rows": count,
                        "version": version,
                    }
                )
                bucket += step
        return pd.DataFrame(rows, columns=["time", "value", "rows", "version"])

    # -- rules and alerts --------------------------------------------------------------------------
    def add_rule(self, model: str, expression: str, action: Mapping[str, Any] | None = None) -> RuleRow:
        """An alert rule; ``action`` (``retrain(...)``) is a job queued each time the rule fires."""
        import json

        rule = parse_rule(expression)
        name = check_model_name(model.partition("@")[0].partition("/")[0])
        self.store.get_model(name)
        text = None
        if action is not None:
            if (
                not isinstance(action, Mapping)
                or set(action) != {"retrain"}
                or not isinstance(action["retrain"], Mapping)
            ):
                raise UsageError("a rule's action is mlm.monitor.retrain('train.ipynb', parameters={...})")
            text = json.dumps(dict(action), sort_keys=True)
        return self.store.add_rule(name, rule.text, self.actor, text)

    def delete_rule(self, model: str, rule_id: str) -> None:
        name = check_model_name(model.partition("@")[0].partition("/")[0])
        matches = [r for r in self.store.rules(name) if r.id.startswith(str(rule_id))]
        if len(matches) != 1:
            raise NotFound(f"{name!r} has no rule {rule_id!r}" if not matches else f"rule id {rule_id!r} is ambiguous")
        self.store.delete_rule(name, matches[0].id, self.actor)

    def check_rules(self, name: str, end_ms: int | None = None) -> list[AlertRow]:
        """Check every rule of ``name`` on its window ending at the newest data; record alerts."""
        rules = self.store.rules(name)
        if not rules:
            return []
        # Only the newest batch is read here: each rule's value reads its own window, so the cost of
        # a log stays flat however long the model has been monitored.
        latest = self.store.latest_batch(name)
        if latest is None:
            return []
        end = end_ms if end_ms is not None else max(latest.ts_ms, 0)
        fired = []
        recent = {a.rule_id: a for a in reversed(self.store.alerts(name, [r.id for r in rules]))}
        for row in rules:
            rule = parse_rule(row.expression)
            value, version = self.value(rule, name, end)
            if not rule.holds(value):
                continue
            previous = recent.get(row.id)
            if previous is not None and previous.window_end_ms > end - rule.window_ms:
                continue  # already fired for this stretch of data
            alert = self.store.add_alert(name, version, row, value, (end - rule.window_ms, end), self.actor,
                                         unless_fired_after_ms=end - rule.window_ms)  # fmt: skip
            if alert is None:
                continue  # another process fired it for this data a moment ago
            fired.append(alert)
            if row.action:
                import json

                spec = dict(json.loads(row.action)["retrain"])
                spec.update({"model": name, "alert": alert.id, "rule": row.expression, "value": value})
                self.store.enqueue_job("retrain", name, spec, self.actor, alert_id=alert.id)
        return fired

    def promotions(self, name: str) -> list[dict[str, Any]]:
        """When a version entered production (promotion, approval, rollback): chart markers."""
        policy = Governance(self.store, self.actor).policy()
        out = []
        for event in self.store.audit_events(name, newest_first=False):
            after = event.after or {}
            if event.action in ("transition", "restore") and after.get("stage") == policy.production:
                out.append({"ts_ms": event.ts_ms, "version": after.get("version"), "action": event.action})
        return out

    def status(self, model: str) -> dict[str, Any]:
        """ok / drift / alert, for lists and badges."""
        name = check_model_name(model)
        batches = self.store.batches(name)
        alerts = self.store.alerts(name)
        last = batches[-1] if batches else None
        state = "no data" if last is None else "ok"
        if last is not None:
            day = self.store.batches(name, last.ts_ms - 86_400_000, last.ts_ms, last.version)
            record = self.store.get_version(name, last.version)
            ref = self.reference(record)
            current = self._profile_of(day)
            if ref is not None and current is not None and drift_tests.dataset_drift(ref, current)["dataset_drift"]:
                state = "drift"
            if alerts and alerts[0].ts_ms >= last.ts_ms - 86_400_000:
                state = "alert"
        return {
            "model": name,
            "status": state,
            "version": last.version if last else None,
            "last_batch_ms": last.ts_ms if last else None,
            "batches": len(batches),
            "rows": sum(b.rows for b in batches),
            "alerts": len(alerts),
            "rules": [r.expression for r in self.store.rules(name)],
        }


def _latency(current: Mapping[str, Any] | None) -> dict[str, float | None]:
    column = (current or {}).get("outputs", {}).get("latency_ms")
    if not column or not column.get("count"):
        return {}
    s = column["sketch"]
    return {
        "p50": sk.quantile(s, 0.5),
        "p95": sk.quantile(s, 0.95),
        "p99": sk.quantile(s, 0.99),
        "mean": column["sum"] / column["count"],
    }


@dataclass
class MonitorReport:
    """Drift and performance of a version over a window; ``to_dict()`` for JSON, HTML in notebooks."""

    model: str
    version: int
    window: str
    start_ms: int
    end_ms: int
    batches: int
    rows: int
    drift: dict[str, Any] | None
    performance: dict[str, Any] | None
    latency: dict[str, float | None]
    has_reference: bool
    reference: dict[str, Any] | None = field(default=None, repr=False)
    current: dict[str, Any] | None = field(default=None, repr=False)
    alerts: list[AlertRow] = field(default_factory=list)

    def distributions(self) -> dict[str, dict[str, Any]]:
        """Per column, reference and current counts on the same bins (deciles, or the reference's
        most frequent categories): what distribution overlays draw."""
        out: dict[str, dict[str, Any]] = {}
        reference, current = self.reference or {}, self.current or {}
        for name, ref in reference.get("columns", {}).items():
            cur = current.get("columns", {}).get(name)
            if not cur:
                continue
            if ref["type"] == "numeric" and cur.get("deciles") and ref.get("deciles"):
                edges = ref["deciles"]
                labels = [f"< {edges[0]:.3g}"] + [f"{a:.3g}–{b:.3g}" for a, b in itertools.pairwise(edges)]
                labels.append(f"≥ {edges[-1]:.3g}")
                out[name] = {"labels": labels, "reference": ref["decile_counts"], "current": cur["deciles"]}
            elif ref["type"] == "categorical" and cur["type"] == "categorical":
                keys = sorted(ref["counts"], key=lambda k: -ref["counts"][k])[:12]
                out[name] = {
                    "labels": keys,
                    "reference": [ref["counts"][k] for k in keys],
                    "current": [cur["counts"].get(k, 0) for k in keys],
                }
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "distributions": self.distributions(),
            "model": self.model,
            "version": self.version,
            "window": self.window,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "batches": self.batches,
            "rows": self.rows,
            "drift": self.drift,
            "performance": self.performance,
            "latency": self.latency,
            "has_reference": self.has_reference,
            "alerts": [a.__dict__ for a in self.alerts],
        }

    def lines(self) -> list[str]:
        out = [f"{self.model}/{self.version}: {self.rows:,} rows in {self.batches} batch(es), window {self.window}"]
        if self.drift is not None:
            d = self.drift
            verdict = "DATASET DRIFT" if d["dataset_drift"] else "no dataset drift"
            out.append(f"drift: {d['drifted']}/{len(d['columns'])} columns ({d['share']:.0%}) — {verdict}")
            for c in d["columns"]:
                score = "—" if c["score"] is None else f"{c['score']:.4g}"
                psi = "—" if c["psi"] is None else f"{c['psi']:.3f}"
                flag = "drift" if c["drifted"] else "ok"
                out.append(
                    f"  {c['column']:<24} {c['method']:<14} {score:>10} (threshold {c['threshold']:g})  "
                    f"psi {psi:>6}  {flag}"
                )
        elif not self.has_reference:
            out.append("drift: no reference (register the version with reference_data=… to compare with it)")
        if self.performance is not None:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in self.performance["metrics"].items() if v is not None)
            out.append(f"performance on {self.performance['rows']:,} labelled rows: {shown}")
        if self.latency:
            out.append("latency ms: " + ", ".join(f"{k} {v:.1f}" for k, v in self.latency.items() if v is not None))
        out.extend(f"alert: {a.expression} (value {a.value})" for a in self.alerts)
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        from .report_html import report_html

        return report_html(self)


__all__ = ["HIGHER_IS_BETTER", "LoggedBatch", "Monitor", "MonitorReport", "to_ms"]
