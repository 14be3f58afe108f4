"""The monitoring half of ``import jupyter_mlm as mlm`` (``mlm.monitor.*``): thin calls into
``monitoring.Monitor`` over this process's store, acting as its identity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .context import current_user
from .session import SESSION

if TYPE_CHECKING:
    from ..monitoring.service import LoggedBatch, Monitor, MonitorReport
    from ..store.monitoring import AlertRow, RuleRow


def _monitor() -> Monitor:
    from ..monitoring.service import Monitor

    SESSION.flush()
    return Monitor(SESSION.store, current_user())


def log(
    model: str,
    X: Any,
    predictions: Any = None,
    labels: Any = None,
    ids: Any = None,
    scores: Any = None,
    latency_ms: Any = None,
    version: Any = None,
    timestamp: Any = None,
    keep_rows: bool = False,
) -> LoggedBatch:
    """Record a batch of production rows against a model version (production by default;
    ``"churn@champion"`` and ``"churn/3"`` work too). ``X`` is a pandas or polars DataFrame, a
    pyarrow Table or a numpy array; its columns are checked against the version's signature
    (a clear error naming the column, nothing written). The batch is kept as a mergeable
    profile, not as rows (``keep_rows=True`` also stores them as Parquet). ``ids`` let labels
    that arrive later join their rows (``log_labels``). Alert rules are checked at once."""
    return _monitor().log(model, X, predictions, labels, ids, scores, latency_ms, version, timestamp, keep_rows)


def log_labels(model: str, ids: Any, labels: Any) -> list[AlertRow]:
    """Labels that arrived later, joined to their production rows by id."""
    return _monitor().log_labels(model, ids, labels)


def profile(
    X: Any,
    predictions: Any = None,
    scores: Any = None,
    latency_ms: Any = None,
    reference: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The mergeable profile of a batch (a plain, picklable function: run it in Dask or Spark
    tasks, ``merge_profiles`` the results, ``log_profile`` the merge). ``reference`` is
    ``reference_bins(model)``, for PSI on the reference's deciles."""
    from ..stats.profiles import profile as make

    return make(X, predictions=predictions, scores=scores, latency_ms=latency_ms, reference=reference)


def merge_profiles(profiles: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """One profile of all the rows the given profiles describe."""
    from ..stats.profiles import merge

    return merge([dict(p) for p in profiles])


def reference_bins(model: str) -> dict[str, Any] | None:
    """The bins of a version's reference that ``profile`` counts on (None without a reference)."""
    from ..stats.reference import bins_of

    monitor = _monitor()
    ref = monitor.reference(monitor.version(model))
    return None if ref is None else bins_of(ref)


def log_profile(model: str, profile: Mapping[str, Any], version: Any = None, timestamp: Any = None) -> LoggedBatch:
    """Record a profile made elsewhere."""
    return _monitor().log_profile(model, profile, version, timestamp)


def log_parquet(
    model: str, path: str, version: Any = None, timestamp: Any = None, batch_rows: int = 1_000_000
) -> LoggedBatch:
    """Profile a Parquet file or dataset larger than memory, by row groups, and record the merge."""
    from ..stats.profiles import merge
    from ..stats.profiles import profile as make

    try:
        import pyarrow.parquet as pq
    except ImportError:
        from ..errors import UsageError

        raise UsageError("reading Parquet needs pyarrow: pip install pyarrow") from None
    bins = reference_bins(model)
    parts = (make(batch, reference=bins) for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows))
    merged = merge(parts)
    if merged is None:
        from ..errors import UsageError

        raise UsageError(f"{path} holds no rows")
    return _monitor().log_profile(model, merged, version, timestamp)


def report(
    model: str,
    window: str | None = "1d",
    version: Any = None,
    segment_by: Sequence[str] = (),
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    share: float = 0.5,
) -> MonitorReport:
    """Drift (per column, against the version's reference) and performance (when labels
    arrived) over the last ``window`` ("1h", "1d", "7d", "all"); HTML in a notebook,
    ``.to_dict()`` for JSON. ``methods``/``thresholds`` override per column or ``"*"``."""
    return _monitor().report(model, window, version, segment_by, methods, thresholds, share)


def series(model: str, metric: str, every: str = "1h", window: str | None = None) -> Any:
    """A DataFrame with one row per ``every`` bucket: time, value of ``metric`` (any metric a
    rule can name: roc_auc, drift_share, psi(tenure), rows, p95_latency_ms, …), rows."""
    return _monitor().series(model, metric, every, window)


def add_rule(model: str, rule: str) -> RuleRow:
    """An alert rule, e.g. ``"roc_auc < 0.78"``, ``"psi(tenure) > 0.2"``, ``"rows < 100 per 1h"``
    (an audited change); checked on every batch and label arrival."""
    return _monitor().add_rule(model, rule)


def rules(model: str | None = None) -> list[RuleRow]:
    return SESSION.store.rules(model)


def delete_rule(model: str, rule_id: str) -> None:
    _monitor().delete_rule(model, rule_id)


def alerts(model: str | None = None) -> list[AlertRow]:
    """Alerts, newest first (of one model when ``model`` is given)."""
    return SESSION.store.alerts(model)


def status(model: str) -> dict[str, Any]:
    """ok / drift / alert, with the latest batch and counts."""
    return _monitor().status(model)
