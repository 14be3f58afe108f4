"""The reference a model version's production data is compared with, built once from the
``reference_data`` given at registration.

Per column, following Evidently's choice of test: the type (a numeric column with at most five
distinct values counts as categorical), the reference's row count, and what the tests need —
for numbers the exact values when there are at most ``EXACT_ROWS`` (so KS is exact), the
quantile sketch, mean and standard deviation (normed Wasserstein), the nine inner decile edges
and the reference's counts on them (PSI); for categories the count of every value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import sketch as sk
from .profiles import CATEGORICAL, NUMERIC, columns_of, decile_counts, kind_of

EXACT_ROWS = 1000
FEW_VALUES = 5


def _numeric_reference(values: np.ndarray) -> dict[str, Any]:
    finite = values.astype(np.float64)
    finite = finite[np.isfinite(finite)]
    edges = sorted(set(np.quantile(finite, np.linspace(0.1, 0.9, 9)).tolist())) if finite.size else []
    counts = decile_counts(finite, edges) if finite.size else [0] * (len(edges) + 1)
    return {
        "type": NUMERIC,
        "count": int(finite.size),
        "missing": int(values.size - finite.size),
        "mean": float(finite.mean()) if finite.size else None,
        "std": float(finite.std()) if finite.size else None,
        "deciles": edges,
        "decile_counts": counts,
        "sketch": sk.sketch(finite),
        "values": finite.tolist() if finite.size <= EXACT_ROWS else None,
    }


def _categorical_reference(values: np.ndarray) -> dict[str, Any]:
    texts = [str(v) for v in values.tolist() if v is not None and not (isinstance(v, float) and v != v)]
    counts: dict[str, int] = {}
    if texts:
        unique, found = np.unique(np.asarray(texts, dtype=object), return_counts=True)
        counts = {str(k): int(c) for k, c in zip(unique.tolist(), found.tolist(), strict=True)}
    return {"type": CATEGORICAL, "count": len(texts), "missing": int(values.size - len(texts)), "counts": counts}


def column_reference(values: np.ndarray) -> dict[str, Any]:
    values = np.asarray(values)
    if kind_of(values) == NUMERIC:
        finite = values.astype(np.float64)
        if np.unique(finite[np.isfinite(finite)]).size > FEW_VALUES:
            return _numeric_reference(values)
    return _categorical_reference(values)


def build_reference(data: Any, predictions: Any = None) -> dict[str, Any]:
    """The monitoring reference of a training frame (and, optionally, its predictions)."""
    columns = columns_of(data)
    rows = len(next(iter(columns.values()))) if columns else 0
    outputs = {"prediction": np.asarray(predictions)} if predictions is not None else {}
    return {
        "version": 1,
        "rows": rows,
        "columns": {name: column_reference(values) for name, values in columns.items()},
        "outputs": {name: column_reference(values) for name, values in outputs.items()},
    }


def bins_of(reference: dict[str, Any]) -> dict[str, Any]:
    """What ``profile`` needs of a reference to count production rows on the same bins."""
    return {
        part: {name: {"type": c["type"], "deciles": c.get("deciles")} for name, c in reference[part].items()}
        for part in ("columns", "outputs")
    }
