"""Model performance on production rows whose labels arrived: scikit-learn's own metrics on the
joined rows (so they equal scikit-learn's by construction), overall and per segment.

Assumptions: a task is classification when the labels are booleans, integers or texts with at
most ``MAX_CLASSES`` distinct values, regression otherwise (or as ``task`` says). Binary
classification reports precision, recall and F1 of the positive class (the larger label, 1 or
True); with more classes they are macro averages. ROC-AUC and log loss need scores
(``predict_proba`` of the positive class for binary tasks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import UsageError

MAX_CLASSES = 20
CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION = ("mae", "rmse", "r2")
HIGHER_IS_BETTER = {"accuracy", "precision", "recall", "f1", "roc_auc", "r2"}


def task_of(labels: np.ndarray) -> str:
    if labels.dtype.kind == "f":
        return "regression"
    return "classification" if np.unique(labels).size <= MAX_CLASSES else "regression"


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def aligned_predictions(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Predictions in the labels' type when they are whole-number floats of integer labels (a
    round trip through float storage), so metrics compare like with like."""
    if labels.dtype.kind in "iub" and predictions.dtype.kind == "f" and np.all(np.mod(predictions, 1) == 0):
        return predictions.astype(labels.dtype)
    return predictions


def metrics(
    labels: np.ndarray, predictions: np.ndarray, scores: np.ndarray | None = None, task: str | None = None
) -> dict[str, float | None]:
    """The metrics of one task on aligned rows (empty dict for no rows)."""
    from sklearn import metrics as m

    if len(labels) == 0:
        return {}
    task = task or task_of(labels)
    if task == "regression":
        y, p = labels.astype(float), predictions.astype(float)
        return {
            "mae": _finite(m.mean_absolute_error(y, p)),
            "rmse": _finite(math.sqrt(m.mean_squared_error(y, p))),
            "r2": _finite(m.r2_score(y, p)) if len(y) > 1 else None,
        }
    if task != "classification":
        raise UsageError(f"task must be classification or regression, not {task!r}")
    classes = np.unique(np.concatenate([labels, predictions]))
    binary = classes.size <= 2
    kwargs: dict[str, Any] = {"zero_division": 0}
    if binary:
        kwargs["pos_label"] = classes.max() if classes.size else 1
    else:
        kwargs["average"] = "macro"
    out: dict[str, float | None] = {
        "accuracy": _finite(m.accuracy_score(labels, predictions)),
        "precision": _finite(m.precision_score(labels, predictions, **kwargs)),
        "recall": _finite(m.recall_score(labels, predictions, **kwargs)),
        "f1": _finite(m.f1_score(labels, predictions, **kwargs)),
        "roc_auc": None,
        "log_loss": None,
    }
    if scores is not None and binary and np.unique(labels).size == 2:
        positive = labels == classes.max()
        out["roc_auc"] = _finite(m.roc_auc_score(positive, scores))
        out["log_loss"] = _finite(m.log_loss(positive, np.clip(scores, 1e-15, 1 - 1e-15), labels=[False, True]))
    return out


def by_segment(
    labels: np.ndarray,
    predictions: np.ndarray,
    scores: np.ndarray | None,
    segments: Mapping[str, np.ndarray],
    task: str | None = None,
) -> dict[str, Any]:
    """Metrics per value of each segment column, and the largest gap between two segments."""
    out: dict[str, Any] = {}
    task = task or task_of(labels)
    for column, values in segments.items():
        texts = np.asarray([str(v) for v in values], dtype=object)
        per: dict[str, dict[str, Any]] = {}
        for value in sorted(set(texts.tolist())):
            mask = texts == value
            per[value] = {"rows": int(mask.sum())} | metrics(
                labels[mask], predictions[mask], None if scores is None else scores[mask], task
            )
        gaps = {}
        for metric in REGRESSION if task == "regression" else CLASSIFICATION:
            found: list[tuple[float, str]] = [
                (float(v[metric]), k) for k, v in per.items() if v.get(metric) is not None
            ]
            if len(found) >= 2:
                (low, low_at), (high, high_at) = min(found), max(found)
                gaps[metric] = {"gap": high - low, "lowest": low_at, "highest": high_at}
        out[column] = {"segments": per, "gaps": gaps}
    return out
