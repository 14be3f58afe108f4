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
    """Labels that arrived later, joined to their production rows by id. Alert rules and the
    model's promotion/rollback policy are checked at once."""
    alerts = _monitor().log_labels(model, ids, labels)
    _loop().evaluate(model.partition("@")[0].partition("/")[0])
    return alerts


def _loop() -> Any:
    from ..loop.policy import Loop

    return Loop(SESSION.store, current_user())


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


def add_rule(model: str, rule: str, action: Mapping[str, Any] | None = None) -> RuleRow:
    """An alert rule, e.g. ``"roc_auc < 0.78"``, ``"psi(tenure) > 0.2"``, ``"rows < 100 per 1h"``
    (an audited change); checked on every batch and label arrival. ``action=retrain(...)``
    queues a retraining job each time it fires."""
    return _monitor().add_rule(model, rule, action)


def retrain(notebook: str, parameters: Mapping[str, Any] | None = None, data: Any = None) -> dict[str, Any]:
    """A rule action: run ``notebook`` headlessly (its ``parameters`` cell overridden by
    ``parameters``, plus ``data``) in a new run tagged with the alert; the notebook registers its
    model with the alias ``challenger``. Run by ``jupyter mlm worker`` or the server extension."""
    from ..loop.jobs import retrain as action

    return action(notebook, dict(parameters or {}), data)


def labeled_rows(model: str, window: str | None = "7d", version: Any = None) -> Any:
    """Recent production rows whose labels arrived, as a DataFrame (inputs, ``prediction``,
    ``label``, ``id``), for a retraining notebook to add to its training data."""
    return _monitor().labeled_rows(model, window, version)


def policy(
    model: str,
    promote_if: str | None = None,
    rollback_if: str | None = None,
    min_rows: int = 500,
    challenger: str = "challenger",
    window: str = "7d",
) -> dict[str, Any] | None:
    """The model's loop policy: promote the challenger when ``promote_if`` holds on its shadow
    traffic (``"challenger.roc_auc >= champion.roc_auc + 0.01"``, at least ``min_rows`` labeled
    rows; a request when approvals are required), and roll back automatically when
    ``rollback_if`` holds after a promotion (``"roc_auc < previous.roc_auc - 0.02 within 1d"``).
    With neither, shows the policy in force."""
    if promote_if is None and rollback_if is None:
        return SESSION.store.loop_policy(model)
    spec = {"promote_if": promote_if, "rollback_if": rollback_if, "min_rows": min_rows, "challenger": challenger,
            "window": window}  # fmt: skip
    checked: dict[str, Any] | None = _loop().set_policy(model, spec)
    return checked


def evaluate(model: str) -> list[dict[str, Any]]:
    """Decide the model's policy now (it is also decided on every label arrival)."""
    return list(_loop().evaluate(model))


def compare(model: str, champion: str = "production", challenger: str = "challenger", metric: str = "roc_auc",
            window: str | None = "7d") -> dict[str, Any]:  # fmt: skip
    """The challenger's shadow predictions against the champion's answers on the same labeled
    requests: both metrics, the difference and its bootstrap interval (recorded)."""
    from ..loop.compare import as_dict, compare_on_traffic

    return as_dict(compare_on_traffic(SESSION.store, current_user(), model, champion, challenger, metric, window))


def arms(model: str, window: str | None = "7d") -> list[dict[str, Any]]:
    """Rows and metrics per serving arm (``serve``, ``serve:ARM``, ``shadow``) and version."""
    return list(_monitor().arms(model, window))


def jobs(model: str | None = None) -> list[Any]:
    """Retraining jobs (queued, running, succeeded, failed), oldest first."""
    return SESSION.store.jobs(model)


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
