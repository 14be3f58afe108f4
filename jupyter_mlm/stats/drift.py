"""Drift of production data against a version's reference, per column and for the dataset.

The test is chosen as Evidently chooses it, by the column's type and the reference's size:

=========================  ==========================  ====================  ===========
column (in the reference)  reference rows ≤ 1,000       reference rows > 1,000  drift when
=========================  ==========================  ====================  ===========
numeric (> 5 values)       Kolmogorov–Smirnov p-value   normed Wasserstein     p < 0.05 / > 0.1
categorical                chi-square p-value           Jensen–Shannon         p < 0.05 / > 0.1
=========================  ==========================  ====================  ===========

PSI (on the reference's deciles for numbers, on categories otherwise; drift when > 0.2) is
reported for every column. The dataset drifts when the share of drifted columns is ≥ 0.5.
``methods`` and ``thresholds`` override per column (or ``"*"`` for all).

Exactness: where the window holds at most ``profiles.RESERVOIR`` values of a column, its values
are all kept, so KS, chi-square and Jensen–Shannon equal scipy's on the raw data and Wasserstein
differs only through the reference's sketch. Beyond that, numbers come from the 1 %-accurate
sketches: the KS statistic and normed Wasserstein distance agree with scipy's within 0.01
absolute on the test data (``tests/unit/test_monitor_stats.py``). Category counts are exact.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import UsageError
from . import sketch as sk
from .profiles import CATEGORICAL, NUMERIC, RESERVOIR, reservoir_values
from .reference import EXACT_ROWS

METHODS = ("ks", "wasserstein", "chisquare", "jensenshannon", "psi")
DEFAULT_THRESHOLDS = {"ks": 0.05, "chisquare": 0.05, "wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.2}
P_VALUE_METHODS = ("ks", "chisquare")
DATASET_DRIFT_SHARE = 0.5
PSI_EPS = 0.0001


def default_method(ref: Mapping[str, Any]) -> str:
    small = ref["count"] <= EXACT_ROWS
    if ref["type"] == NUMERIC:
        return "ks" if small else "wasserstein"
    return "chisquare" if small else "jensenshannon"


def _numeric_sample(column: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """Values (and weights) standing for a profiled numeric column: all of them when kept."""
    kept = reservoir_values(column)
    if column["seen"] <= RESERVOIR and len(kept) == column["seen"]:
        return np.asarray(kept, dtype=float), None
    values, counts = sk.points(column["sketch"])
    return values, counts


def _reference_sample(ref: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    if ref.get("values") is not None:
        return np.asarray(ref["values"], dtype=float), None
    values, counts = sk.points(ref["sketch"])
    return values, counts


def _ks(ref: Mapping[str, Any], cur: Mapping[str, Any]) -> float:
    from scipy import stats

    ref_values, ref_weights = _reference_sample(ref)
    cur_values, cur_weights = _numeric_sample(cur)
    if ref_weights is not None:
        ref_values = np.repeat(ref_values, ref_weights.astype(int))
    if cur_weights is not None:
        cur_values = np.repeat(cur_values, cur_weights.astype(int))
    return float(stats.ks_2samp(ref_values, cur_values).pvalue)


def _wasserstein(ref: Mapping[str, Any], cur: Mapping[str, Any]) -> float:
    from scipy import stats

    std = ref.get("std") or 0.0
    ref_values, ref_weights = _reference_sample(ref)
    cur_values, cur_weights = _numeric_sample(cur)
    distance = stats.wasserstein_distance(ref_values, cur_values, ref_weights, cur_weights)
    return float(distance / std) if std > 0 else (0.0 if distance == 0 else math.inf)


def _category_counts(ref: Mapping[str, Any], cur: Mapping[str, Any]) -> tuple[list[str], np.ndarray, np.ndarray]:
    if cur["type"] == CATEGORICAL:
        current = dict(cur["counts"])
    else:  # a few-valued numeric column counted as categories in the reference
        kept = reservoir_values(cur)
        values = kept.tolist() if cur["seen"] == len(kept) else []
        current = {}
        for v in values:
            key = str(float(v)) if not isinstance(v, str) else v
            current[key] = current.get(key, 0) + 1
    reference = ref["counts"]
    keys = sorted(set(reference) | set(current))
    return (
        keys,
        np.asarray([reference.get(k, 0) for k in keys], float),
        np.asarray([current.get(k, 0) for k in keys], float),
    )


def _chisquare(ref: Mapping[str, Any], cur: Mapping[str, Any]) -> float:
    from scipy import stats

    _, ref_counts, cur_counts = _category_counts(ref, cur)
    if cur_counts.sum() == 0 or ref_counts.sum() == 0:
        return 1.0
    expected = ref_counts / ref_counts.sum() * cur_counts.sum()
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        p = stats.chisquare(cur_counts, expected).pvalue
    return 0.0 if not math.isfinite(p) else float(p)


def _jensenshannon(ref: Mapping[str, Any], cur: Mapping[str, Any]) -> float:
    from scipy.spatial import distance

    _, ref_counts, cur_counts = _category_counts(ref, cur)
    if cur_counts.sum() == 0 or ref_counts.sum() == 0:
        return 0.0
    return float(distance.jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()))


def psi(ref: Mapping[str, Any], cur: Mapping[str, Any]) -> float | None:
    """Population stability index: sum over bins of (cur% − ref%) · ln(cur% / ref%)."""
    if ref["type"] == NUMERIC:
        expected = np.asarray(ref.get("decile_counts") or [], float)
        observed = np.asarray(cur.get("deciles") or [], float)
        if cur["type"] != NUMERIC or observed.size != expected.size or expected.size == 0:
            return None
    else:
        _, expected, observed = _category_counts(ref, cur)
    if expected.sum() == 0 or observed.sum() == 0:
        return None
    e = np.maximum(expected / expected.sum(), PSI_EPS)
    o = np.maximum(observed / observed.sum(), PSI_EPS)
    return float(np.sum((o - e) * np.log(o / e)))


_TESTS = {"ks": _ks, "wasserstein": _wasserstein, "chisquare": _chisquare, "jensenshannon": _jensenshannon}


def column_drift(
    name: str,
    ref: Mapping[str, Any],
    cur: Mapping[str, Any] | None,
    method: str | None = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """One column's drift: method, score, threshold, verdict, and PSI."""
    method = method or default_method(ref)
    if method not in METHODS:
        raise UsageError(f"unknown drift method {method!r} for {name!r}; methods: {', '.join(METHODS)}")
    if method in ("ks", "wasserstein") and ref["type"] != NUMERIC:
        raise UsageError(f"{method} needs a numeric column; {name!r} is categorical in the reference")
    threshold = DEFAULT_THRESHOLDS[method] if threshold is None else float(threshold)
    out: dict[str, Any] = {
        "column": name,
        "type": ref["type"],
        "method": method,
        "threshold": threshold,
        "reference_rows": ref["count"],
        "current_rows": 0 if cur is None else cur["count"],
    }
    if cur is None or cur["count"] == 0:
        return out | {"score": None, "drifted": False, "psi": None}
    psi_value = psi(ref, cur)
    score = psi_value if method == "psi" else _TESTS[method](ref, cur)
    drifted = score is not None and (score < threshold if method in P_VALUE_METHODS else score > threshold)
    return out | {"score": score, "drifted": bool(drifted), "psi": psi_value}


def dataset_drift(
    reference: Mapping[str, Any],
    current: Mapping[str, Any],
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    share: float = DATASET_DRIFT_SHARE,
) -> dict[str, Any]:
    """Drift of every reference column (and the predictions, when both have them)."""
    methods, thresholds = dict(methods or {}), dict(thresholds or {})
    for option in (methods, thresholds):
        unknown = sorted(set(option) - set(reference["columns"]) - set(reference["outputs"]) - {"*"})
        if unknown:
            raise UsageError(f"no column {unknown[0]!r} in the reference (columns: {', '.join(reference['columns'])})")
    columns = []
    for name, ref in reference["columns"].items():
        columns.append(
            column_drift(
                name,
                ref,
                current["columns"].get(name),
                methods.get(name, methods.get("*")),
                thresholds.get(name, thresholds.get("*")),
            )
        )
    prediction = None
    if "prediction" in reference["outputs"] and "prediction" in current["outputs"]:
        prediction = column_drift(
            "prediction",
            reference["outputs"]["prediction"],
            current["outputs"]["prediction"],
            methods.get("prediction"),
            thresholds.get("prediction"),
        )
    drifted = sum(1 for c in columns if c["drifted"])
    ratio = drifted / len(columns) if columns else 0.0
    return {
        "columns": columns,
        "drifted": drifted,
        "share": ratio,
        "dataset_drift": ratio >= share,
        "share_threshold": share,
        "prediction": prediction,
        "rows": current["rows"],
    }
