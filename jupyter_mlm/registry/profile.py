"""Reference-data profiles: what the training data looked like, kept for drift monitoring.

A profile is a small JSON document: the row count and, per column, its type and a summary —
quantiles and a histogram for numbers, frequencies for categories — enough to compare production
batches with (PSI, KS, chi-square) without keeping the data itself.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import UsageError

QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
HISTOGRAM_BINS = 20
TOP_CATEGORIES = 50


def profile_frame(data: Any) -> Any:
    """``reference_data`` as a pandas DataFrame."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency of the dev and bench extras
        raise UsageError("reference_data needs pandas installed (pip install pandas)") from None
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame(name=data.name if data.name is not None else "value")
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None  # type: ignore[assignment]
    if np is not None and isinstance(data, np.ndarray):
        if data.ndim == 1:
            return pd.DataFrame({"x0": data})
        if data.ndim == 2:
            return pd.DataFrame(data, columns=[f"x{i}" for i in range(data.shape[1])])
        raise UsageError(f"reference_data must be 1- or 2-dimensional, not {data.ndim}-dimensional")
    if isinstance(data, (list, dict)):
        return pd.DataFrame(data)
    raise UsageError(f"reference_data must be a DataFrame, Series or array, not {type(data).__name__}")


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def column_type(series: Any) -> str:
    from pandas.api import types

    if types.is_bool_dtype(series):
        return "boolean"
    if types.is_integer_dtype(series):
        return "integer"
    if types.is_float_dtype(series):
        return "float"
    if types.is_datetime64_any_dtype(series):
        return "datetime"
    return "categorical"


def profile_data(data: Any) -> dict[str, Any]:
    """The profile of a DataFrame, Series or 1-/2-D array."""
    frame = profile_frame(data)
    if len(frame.columns) == 0:
        raise UsageError("reference_data has no columns")
    columns: dict[str, Any] = {}
    for name in frame.columns:
        series = frame[name]
        kind = column_type(series)
        missing = int(series.isna().sum())
        present = series.dropna()
        summary: dict[str, Any] = {"type": kind, "count": int(present.size), "missing": missing}
        if kind in ("integer", "float") and present.size:
            values = present.astype("float64")
            finite = values[values.map(math.isfinite)]
            summary["mean"] = _finite(finite.mean()) if finite.size else None
            summary["std"] = _finite(finite.std(ddof=0)) if finite.size else None
            summary["quantiles"] = {str(q): _finite(finite.quantile(q)) for q in QUANTILES} if finite.size else {}
            if finite.size:
                import numpy as np

                counts, edges = np.histogram(finite.to_numpy(), bins=HISTOGRAM_BINS)
                summary["histogram"] = {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}
        elif kind in ("categorical", "boolean") and present.size:
            frequencies = present.astype(str).value_counts()
            top = frequencies.head(TOP_CATEGORIES)
            summary["distinct"] = int(frequencies.size)
            summary["frequencies"] = {str(k): int(v) for k, v in top.items()}
            summary["other"] = int(frequencies.iloc[TOP_CATEGORIES:].sum())
        elif kind == "datetime" and present.size:
            summary["min"], summary["max"] = str(present.min()), str(present.max())
        columns[str(name)] = summary
    return {"rows": len(frame), "columns": columns}


def signature_from_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """An input signature (column names and types) from a profile."""
    return {"inputs": [{"name": name, "type": column["type"]} for name, column in profile["columns"].items()]}


def check_signature(signature: Any) -> dict[str, Any]:
    """A user-given signature: either ``{"inputs": [...], "outputs": [...]}`` or a list of inputs."""
    if isinstance(signature, list):
        signature = {"inputs": signature}
    if not isinstance(signature, dict) or not isinstance(signature.get("inputs", []), list):
        raise UsageError('signature must be {"inputs": [{"name": ..., "type": ...}, ...], "outputs": [...]}')
    return signature
