"""Challenger against champion on the same rows: both metrics, the difference, and a bootstrap
confidence interval for it, recorded (and audited) so the versions' cards and the model page can
show it.

Two sources of rows: data and labels given by the caller (``compare_models``), or production
traffic the two versions both predicted on — the champion answering, the challenger shadowing —
joined with the labels that arrived (``compare_on_traffic``). The interval resamples rows (the
same resample for both versions, so it is the interval of a paired difference): 1,000 resamples
by default, percentile method, seeded. Metrics are scikit-learn's (``stats.performance``).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from typing import Any

import numpy as np

from ..errors import UsageError
from ..registry import Governance, load, resolve
from ..stats.performance import CLASSIFICATION, HIGHER_IS_BETTER, REGRESSION, aligned_predictions, metrics
from ..store import Store
from ..store.base import new_id, now_ms
from ..store.loop import ComparisonRow

BOOTSTRAP = 1000
METRICS = CLASSIFICATION + REGRESSION
SCORE_METRICS = ("roc_auc", "log_loss")


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise UsageError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    return metric


def _positive_scores(model: Any, X: Any) -> np.ndarray | None:
    if not callable(getattr(model, "predict_proba", None)):
        return None
    proba = np.asarray(model.predict_proba(X), dtype=float)
    return proba[:, -1] if proba.ndim == 2 else proba


def _value(metric: str, labels: np.ndarray, predictions: np.ndarray, scores: np.ndarray | None) -> float | None:
    return metrics(labels, predictions, scores).get(metric)


def _fast_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC-AUC of each row of ``weights`` (bootstrap counts per row), ties counted half — the
    Mann-Whitney form scikit-learn's ``roc_auc_score`` equals."""
    order = np.argsort(scores, kind="mergesort")
    s, positive = scores[order], labels[order].astype(bool)
    w = weights[:, order].astype(float)
    _, first, counts = np.unique(s, return_index=True, return_counts=True)
    group = np.repeat(np.arange(first.size), counts)
    neg = np.where(~positive, w, 0.0)
    pos = np.where(positive, w, 0.0)
    neg_by_group = np.add.reduceat(neg, first, axis=1)
    below = np.cumsum(neg_by_group, axis=1) - neg_by_group  # negatives with a smaller score
    credit = below[:, group] + 0.5 * neg_by_group[:, group]
    pos_total, neg_total = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc: np.ndarray = (pos * credit).sum(axis=1) / (pos_total * neg_total)
    return auc


def paired_bootstrap(
    metric: str,
    labels: np.ndarray,
    a: tuple[np.ndarray, np.ndarray | None],
    b: tuple[np.ndarray, np.ndarray | None],
    resamples: int = BOOTSTRAP,
    seed: int = 0,
) -> tuple[float | None, float | None]:
    """The 95 % percentile interval of ``metric(b) - metric(a)`` over row resamples."""
    n = len(labels)
    if n < 2 or resamples < 1:
        return None, None
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1 / n), size=resamples)
    if metric == "roc_auc" and a[1] is not None and b[1] is not None and np.unique(labels).size == 2:
        positive = labels == labels.max()
        deltas = _fast_auc(positive, b[1], counts) - _fast_auc(positive, a[1], counts)
    elif metric == "accuracy":
        wa = (a[0] == labels).astype(float)
        wb = (b[0] == labels).astype(float)
        deltas = (counts @ (wb - wa)) / n
    else:
        deltas_list = []
        for row in counts:
            index = np.repeat(np.arange(n), row)
            va = _value(metric, labels[index], a[0][index], None if a[1] is None else a[1][index])
            vb = _value(metric, labels[index], b[0][index], None if b[1] is None else b[1][index])
            if va is not None and vb is not None:
                deltas_list.append(vb - va)
        deltas = np.asarray(deltas_list)
    deltas = deltas[np.isfinite(deltas)]
    if deltas.size == 0:
        return None, None
    low, high = np.percentile(deltas, [2.5, 97.5])
    return float(low), float(high)


def _digest(X: Any, labels: np.ndarray) -> str:
    import pandas as pd

    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.blake2b(hashed.tobytes() + np.asarray(labels).astype(str).tobytes(), digest_size=32).hexdigest()


def _labels(labels: Any, n: int) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) != n:
        raise UsageError(f"labels must be one value per row ({n} rows), not shape {array.shape}")
    return array


def compare_models(
    store: Store,
    actor: str,
    ref_a: str,
    ref_b: str,
    data: Any,
    labels: Any,
    metric: str = "roc_auc",
    cache_dir: Any = None,
    trusted: bool = False,
    publishers: tuple[str, ...] = (),
    resamples: int = BOOTSTRAP,
    seed: int = 0,
) -> ComparisonRow:
    """Predict with both versions on ``data`` and record how ``b`` compares with ``a``."""
    from pathlib import Path

    _check_metric(metric)
    if data is None or len(data) == 0:
        raise UsageError("compare_models needs data rows (and their labels) to predict on")
    policy = Governance(store, actor).policy()
    from ..config import model_cache_dir

    cache = Path(cache_dir) if cache_dir else model_cache_dir()
    record_a, record_b = resolve(store, ref_a, policy), resolve(store, ref_b, policy)
    if record_a.model != record_b.model:
        raise UsageError(f"compare two versions of one model, not {record_a.model!r} and {record_b.model!r}")
    model_a, _ = load(store, f"{record_a.model}/{record_a.version}", policy, actor, cache, trusted, publishers)
    model_b, _ = load(store, f"{record_b.model}/{record_b.version}", policy, actor, cache, trusted, publishers)
    y = _labels(labels, len(data))
    outputs = []
    for model in (model_a, model_b):
        predictions = np.asarray(model.predict(data))
        scores = _positive_scores(model, data) if metric in SCORE_METRICS else None
        if metric in SCORE_METRICS and scores is None:
            raise UsageError(f"{metric} needs predict_proba, which {type(model).__name__} does not have")
        outputs.append((predictions, scores))
    return _record(store, actor, record_a, record_b, ref_a, ref_b, metric, y, outputs[0], outputs[1],
                   _digest(data, y), "data", resamples, seed)  # fmt: skip


def compare_on_traffic(
    store: Store,
    actor: str,
    model: str,
    champion: str = "production",
    challenger: str = "challenger",
    metric: str = "roc_auc",
    window: str | None = "7d",
    resamples: int = BOOTSTRAP,
    seed: int = 0,
) -> ComparisonRow:
    """Compare the challenger's shadow predictions with the champion's answers on the same
    requests (joined by request id), over the rows whose labels arrived."""
    from ..monitoring.service import Monitor

    _check_metric(metric)
    policy = Governance(store, actor).policy()
    record_a = resolve(store, f"{model}@{champion}", policy)
    record_b = resolve(store, f"{model}@{challenger}", policy)
    monitor = Monitor(store, actor)
    a = monitor.labeled(model, window, record_a.version)
    b = monitor.labeled(model, window, record_b.version, source="shadow")
    if a is None or b is None:
        raise UsageError(
            f"no labeled rows yet for both {model}/{record_a.version} and the shadow {model}/{record_b.version}"
        )
    common, index_a, index_b = np.intersect1d(a["ids"], b["ids"], return_indices=True)
    common = common[common != ""]
    if common.size == 0:
        raise UsageError("the champion's and the shadow's labeled rows share no request ids")
    keep = np.isin(a["ids"][index_a], common)
    index_a, index_b = index_a[keep], index_b[keep]
    y = a["labels"][index_a]
    out_a = (a["predictions"][index_a], _score_column(a, index_a))
    out_b = (b["predictions"][index_b], _score_column(b, index_b))
    digest = hashlib.blake2b("\n".join(sorted(common.tolist())).encode(), digest_size=32).hexdigest()
    return _record(store, actor, record_a, record_b, f"{model}@{champion}", f"{model}@{challenger}", metric, y,
                   out_a, out_b, digest, "traffic", resamples, seed)  # fmt: skip


def _score_column(joined: dict[str, np.ndarray], index: np.ndarray) -> np.ndarray | None:
    scores = joined.get("scores")
    if scores is None:
        return None
    picked: np.ndarray = np.asarray(scores, dtype=float)[index]
    return picked[:, -1] if picked.ndim == 2 else picked


def _record(store: Store, actor: str, record_a: Any, record_b: Any, ref_a: str, ref_b: str, metric: str,
            y: np.ndarray, a: tuple[np.ndarray, np.ndarray | None], b: tuple[np.ndarray, np.ndarray | None],
            digest: str, source: str, resamples: int, seed: int) -> ComparisonRow:  # fmt: skip
    a, b = (aligned_predictions(y, a[0]), a[1]), (aligned_predictions(y, b[0]), b[1])
    value_a, value_b = _value(metric, y, *a), _value(metric, y, *b)
    delta = None if value_a is None or value_b is None else value_b - value_a
    low, high = paired_bootstrap(metric, y, a, b, resamples, seed)
    row = ComparisonRow(new_id(), record_a.model, record_a.version, record_b.version, ref_a, ref_b, metric, value_a,
                        value_b, delta, low, high, len(y), digest, source, actor, now_ms())  # fmt: skip
    return store.add_comparison(row)


def better(metric: str, delta: float | None) -> bool | None:
    """Whether a positive ``delta`` (b - a) means b is better."""
    if delta is None:
        return None
    return delta > 0 if metric in HIGHER_IS_BETTER else delta < 0


def as_dict(row: ComparisonRow) -> dict[str, Any]:
    out = asdict(row)
    out["b_better"] = better(row.metric, row.delta)
    return out
