"""Mergeable profiles of batches of rows: what monitoring keeps instead of the rows.

A profile is a JSON-ready dict; ``merge`` of the profiles of any partition of a dataset equals
the profile of the whole, except for two documented approximations:

- each numeric column's quantile sketch has 1 % relative accuracy (``sketch``), and merging adds
  no error to it;
- the reservoir sample (``RESERVOIR`` values per column) of a merged profile is a uniform sample
  of the union, not the sample profiling the whole would have drawn; it is *all* the values
  whenever the column has at most ``RESERVOIR`` of them, which is what keeps small windows exact.

Per numeric column: count, missing, min, max, sum, sum of squares, the sketch, counts on the
reference's decile bins when a reference is given (for PSI), the reservoir (``pack``: base64
float64 bytes). Per categorical column: counts per value (up to ``MAX_CATEGORIES``, the rest
as one ``other`` count), missing, the reservoir. ``profile`` is a plain function of plain data,
picklable, so it runs inside Dask or Spark tasks; their results merge on the driver.
"""

from __future__ import annotations

import base64
import itertools
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..errors import UsageError
from . import sketch as sk

RESERVOIR = 1000
MAX_CATEGORIES = 10_000
NUMERIC = "numeric"
CATEGORICAL = "categorical"


def columns_of(data: Any, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Columns of a pandas/polars DataFrame, a pyarrow Table, a numpy array or a dict of arrays."""
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        if hasattr(data, "columns"):
            return {str(c): data[c].to_numpy() for c in data.columns}
        return {str(data.name if data.name is not None else "value"): data.to_numpy()}
    if module == "polars":
        return {str(c): data[c].to_numpy() for c in data.columns}
    if module == "pyarrow":
        return {str(c): data.column(c).to_numpy(zero_copy_only=False) for c in data.column_names}
    if isinstance(data, np.ndarray):
        if data.ndim == 1:
            data = data.reshape(-1, 1)
        if data.ndim != 2:
            raise UsageError(f"production data must be 1- or 2-dimensional, not {data.ndim}-dimensional")
        if names is not None and len(names) != data.shape[1]:
            raise UsageError(f"the array has {data.shape[1]} columns but the model's signature names {len(names)}")
        labels = names or [f"x{i}" for i in range(data.shape[1])]
        return {name: data[:, i] for i, name in enumerate(labels)}
    if isinstance(data, Mapping):
        return {str(k): np.asarray(v) for k, v in data.items()}
    raise UsageError(
        f"production data must be a pandas or polars DataFrame, a pyarrow Table, a numpy array or a dict "
        f"of columns, not {type(data).__name__}"
    )


def kind_of(values: np.ndarray) -> str:
    return NUMERIC if values.dtype.kind in "iuf" else CATEGORICAL


def _sample(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return values if values.size <= RESERVOIR else values[rng.choice(values.size, RESERVOIR, replace=False)]


class Packed(dict[str, str]):
    """``{"f8": base64}``, a plain JSON-ready dict that also keeps the bytes it encodes
    (``raw``), so storing a profile need not decode them again."""

    raw: bytes = b""


def pack(values: np.ndarray) -> dict[str, str]:
    """Numbers as base64 of little-endian float64 bytes: a JSON text 6× faster to write and read
    than a list of a thousand floats."""
    raw = np.ascontiguousarray(values, dtype="<f8").tobytes()
    packed = Packed(f8=base64.b64encode(raw).decode("ascii"))
    packed.raw = raw
    return packed


def reservoir_values(column: Mapping[str, Any]) -> np.ndarray:
    """A profiled column's reservoir sample as an array (numbers) or a list of texts."""
    kept = column["reservoir"]
    if isinstance(kept, dict):
        return np.frombuffer(base64.b64decode(kept["f8"]), dtype="<f8")
    return np.asarray(kept, dtype=object)


def _numeric(values: np.ndarray, deciles: list[float] | None, rng: np.random.Generator) -> dict[str, Any]:
    values = values.astype(np.float64, copy=False)
    finite_mask = np.isfinite(values)
    finite = values[finite_mask] if not finite_mask.all() else values
    out: dict[str, Any] = {
        "type": NUMERIC,
        "count": int(finite.size),
        "missing": int(values.size - finite.size),
        "sum": float(finite.sum()) if finite.size else 0.0,
        # Not np.dot: OpenBLAS hands long vectors to its threads, which then spin for a while
        # after each call — in the serving writer, CPU taken from the requests beside it.
        "sumsq": float(np.einsum("i,i->", finite, finite)) if finite.size else 0.0,
        "min": float(finite.min()) if finite.size else None,
        "max": float(finite.max()) if finite.size else None,
        "sketch": sk.sketch(finite),
        "reservoir": pack(_sample(finite, rng)),
        "seen": int(finite.size),
    }
    if deciles is not None:
        out["deciles"] = decile_counts(finite, deciles)
    return out


def decile_counts(values: np.ndarray, edges: list[float]) -> list[int]:
    """Counts per bin of ``edges`` (bin i holds edges[i-1] <= x < edges[i]), as
    ``np.searchsorted(edges, x, side="right")`` bins them, in one comparison pass per edge."""
    if not edges:
        return [int(values.size)]
    below = [int(np.count_nonzero(values < edge)) for edge in edges]
    return [below[0], *(b - a for a, b in itertools.pairwise(below)), int(values.size) - below[-1]]


def _categorical(values: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    present = [v for v in values.tolist() if v is not None and not (isinstance(v, float) and math.isnan(v))]
    texts = np.asarray([str(v) for v in present], dtype=object)
    pairs: list[tuple[str, int]] = []
    if texts.size:
        unique, found = np.unique(texts, return_counts=True)
        pairs = sorted(zip(unique.tolist(), found.tolist(), strict=True), key=lambda kv: -kv[1])
    kept = {str(k): int(c) for k, c in pairs[:MAX_CATEGORIES]}
    return {
        "type": CATEGORICAL,
        "count": len(present),
        "missing": int(values.size - len(present)),
        "counts": kept,
        "other": int(sum(c for _, c in pairs[MAX_CATEGORIES:])),
        "reservoir": _sample(texts, rng).tolist(),
        "seen": len(present),
    }


# Below this many values a batch is profiled on the calling thread: handing columns to threads
# costs more than it saves on the small batches of ``monitor.log``.
PARALLEL_VALUES = 2_000_000
_POOL: Any = None


def _pool() -> Any:
    global _POOL
    if _POOL is None:
        import os
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="mlm-profile")
    return _POOL


def _small_numeric(
    columns: Mapping[str, np.ndarray], names: list[str], reference: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]] | None:
    """The profiles of a small batch of finite numeric columns, computed on all columns at
    once (the per-column path's result; sums may differ in the last bits). None when the batch
    does not qualify: more rows than the reservoir keeps, a column that is not numeric or
    holds NaN/inf, or a reference that treats a column as categorical."""
    if len(names) < 2:
        return None
    arrays = [np.asarray(columns[name]) for name in names]
    rows = len(arrays[0])
    if not 0 < rows <= RESERVOIR or any(a.ndim != 1 or len(a) != rows or a.dtype.kind not in "iuf" for a in arrays):
        return None
    refs = [(reference or {}).get(name) or {} for name in names]
    if any(ref.get("type", NUMERIC) != NUMERIC for ref in refs):
        return None
    matrix = np.empty((rows, len(names)), dtype=np.float64, order="F")
    for i, array in enumerate(arrays):
        matrix[:, i] = array
    if not np.isfinite(matrix).all():
        return None
    sums, sumsq = matrix.sum(axis=0), np.einsum("ij,ij->j", matrix, matrix)
    mins, maxs = matrix.min(axis=0), matrix.max(axis=0)
    sketches = sk.sketches(matrix)
    out = {}
    for i, (name, ref) in enumerate(zip(names, refs, strict=True)):
        column = matrix[:, i]
        profiled: dict[str, Any] = {
            "type": NUMERIC, "count": rows, "missing": 0, "sum": float(sums[i]), "sumsq": float(sumsq[i]),
            "min": float(mins[i]), "max": float(maxs[i]), "sketch": sketches[i], "reservoir": pack(column),
            "seen": rows,
        }  # fmt: skip
        if ref.get("deciles") is not None:
            profiled["deciles"] = decile_counts(column, ref["deciles"])
        out[name] = profiled
    return out


def profile_columns(
    columns: Mapping[str, np.ndarray], reference: Mapping[str, Any] | None = None, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Each column's profile. Columns are independent (each draws its reservoir from a generator
    seeded by the batch and the column's position), so large batches profile their columns on
    several threads — numpy releases the GIL in the passes over the values — with the same
    result as one thread."""

    def one(position: int, name: str) -> dict[str, Any]:
        values = np.asarray(columns[name])
        rng = np.random.default_rng((seed, position))
        ref = (reference or {}).get(name) or {}
        if kind_of(values) == NUMERIC and ref.get("type", NUMERIC) == NUMERIC:
            return _numeric(values, ref.get("deciles"), rng)
        return _categorical(values, rng)

    names = list(columns)
    small = _small_numeric(columns, names, reference)
    if small is not None:
        return small
    size = sum(int(np.size(columns[name])) for name in names)
    if len(names) > 1 and size >= PARALLEL_VALUES:
        return dict(zip(names, _pool().map(one, range(len(names)), names), strict=True))
    return {name: one(position, name) for position, name in enumerate(names)}


def profile(
    data: Any,
    *,
    predictions: Any = None,
    scores: Any = None,
    latency_ms: Any = None,
    reference: Mapping[str, Any] | None = None,
    names: list[str] | None = None,
) -> dict[str, Any]:
    """The mergeable profile of a batch of rows (see the module docstring).

    Args:
        data: the model's inputs (DataFrame, Table, array, dict of columns).
        predictions, scores, latency_ms: per-row model outputs and serving latency.
        reference: ``reference_bins(...)`` of the version, for PSI on the reference's deciles.
        names: column names for a plain array.
    """
    columns = columns_of(data, names)
    rows = {len(v) for v in columns.values()}
    if len(rows) > 1:
        raise UsageError(f"columns have different lengths: {sorted(rows)}")
    n = rows.pop() if rows else 0
    outputs: dict[str, np.ndarray] = {}
    for label, value in (("prediction", predictions), ("score", scores), ("latency_ms", latency_ms)):
        if value is None:
            continue
        array = np.asarray(value)
        if array.ndim == 2 and label == "score":
            array = array[:, -1]  # predict_proba: the positive class
        if array.ndim != 1 or len(array) != n:
            raise UsageError(f"{label}s must be one value per row ({n} rows), not shape {array.shape}")
        outputs[label] = array
    return {
        "version": 1,
        "rows": n,
        "columns": profile_columns(columns, (reference or {}).get("columns"), seed=n),
        "outputs": profile_columns(outputs, (reference or {}).get("outputs"), seed=n + 1),
    }


def _merge_reservoir(a: dict[str, Any], b: dict[str, Any], rng: np.random.Generator) -> Any:
    numeric = isinstance(a["reservoir"], dict)
    left, right = list(reservoir_values(a).tolist()), list(reservoir_values(b).tolist())
    if len(left) + len(right) <= RESERVOIR:
        both = left + right
        return pack(np.asarray(both, dtype=float)) if numeric else both
    # Each slot from a side in proportion to how many values that side's sample stands for.
    weight = a["seen"] / max(a["seen"] + b["seen"], 1)
    take_left = min(len(left), round(RESERVOIR * weight))
    take_right = min(len(right), RESERVOIR - take_left)
    picks_l = rng.choice(len(left), take_left, replace=False) if take_left else []
    picks_r = rng.choice(len(right), take_right, replace=False) if take_right else []
    chosen = [left[i] for i in picks_l] + [right[i] for i in picks_r]
    return pack(np.asarray(chosen, dtype=float)) if numeric else chosen


def _merge_column(a: dict[str, Any], b: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    if a["type"] != b["type"]:
        raise UsageError(f"cannot merge a {a['type']} column with a {b['type']} one")
    out = {
        "type": a["type"],
        "count": a["count"] + b["count"],
        "missing": a["missing"] + b["missing"],
        "seen": a["seen"] + b["seen"],
        "reservoir": _merge_reservoir(a, b, rng),
    }
    if a["type"] == NUMERIC:
        out["sum"], out["sumsq"] = a["sum"] + b["sum"], a["sumsq"] + b["sumsq"]
        mins = [m for m in (a["min"], b["min"]) if m is not None]
        maxs = [m for m in (a["max"], b["max"]) if m is not None]
        out["min"], out["max"] = (min(mins) if mins else None), (max(maxs) if maxs else None)
        out["sketch"] = sk.merge(a["sketch"], b["sketch"])
        if "deciles" in a and "deciles" in b:
            out["deciles"] = [x + y for x, y in zip(a["deciles"], b["deciles"], strict=True)]
        return out
    counts = dict(a["counts"])
    for key, count in b["counts"].items():
        counts[key] = counts.get(key, 0) + count
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    out["counts"] = dict(ordered[:MAX_CATEGORIES])
    out["other"] = a["other"] + b["other"] + sum(c for _, c in ordered[MAX_CATEGORIES:])
    return out


def merge(profiles: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """One profile of all the rows of ``profiles`` (None for none)."""
    rng = np.random.default_rng(7)
    merged: dict[str, Any] | None = None
    for p in profiles:
        if merged is None:
            merged = {"version": 1, "rows": p["rows"], "columns": dict(p["columns"]), "outputs": dict(p["outputs"])}
            continue
        merged["rows"] += p["rows"]
        for part in ("columns", "outputs"):
            for name, column in p[part].items():
                mine = merged[part].get(name)
                merged[part][name] = column if mine is None else _merge_column(mine, column, rng)
    return merged


def mean_std(column: dict[str, Any]) -> tuple[float | None, float | None]:
    n = column["count"]
    if not n:
        return None, None
    mean = column["sum"] / n
    return mean, math.sqrt(max(column["sumsq"] / n - mean * mean, 0.0))


_BLOB_MAGIC = b"MLM-PROFILE-1\n"


def to_blob(prof: Mapping[str, Any]) -> bytes:
    """A profile as stored: its JSON without the reservoirs, then the reservoirs' raw float64
    bytes. Half the size of the JSON with base64 reservoirs and a tenth of the encoding work
    (a 1,000-row batch's profile is mostly its reservoirs). Infinite sums follow the wire policy."""
    tail: list[bytes] = []
    offset = 0

    def put(raw: bytes) -> list[int]:
        nonlocal offset
        tail.append(raw)
        offset += len(raw)
        return [offset - len(raw), len(raw)]

    def side(part: Any) -> Any:
        raw = getattr(part, "raw", None)
        return {"offset": part["offset"], "i8_at": put(raw)} if raw else part

    def strip(column: Mapping[str, Any]) -> Mapping[str, Any]:
        column = dict(column)
        kept = column.get("reservoir")
        if isinstance(kept, dict) and "f8" in kept:
            raw = getattr(kept, "raw", None) or base64.b64decode(kept["f8"])
            column["reservoir"] = {"f8_at": put(raw)}
        sketch = column.get("sketch")
        if isinstance(sketch, dict) and "pos" in sketch:
            column["sketch"] = {**sketch, "pos": side(sketch["pos"]), "neg": side(sketch["neg"])}
        return column

    stripped = {
        **prof,
        "columns": {name: strip(c) for name, c in prof.get("columns", {}).items()},
        "outputs": {name: strip(c) for name, c in prof.get("outputs", {}).items()},
    }
    import json

    try:
        header = json.dumps(stripped, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        from ..wire import dumps

        header = dumps(stripped).encode()
    return _BLOB_MAGIC + len(header).to_bytes(8, "little") + header + b"".join(tail)


def from_blob(data: bytes) -> dict[str, Any]:
    """The profile stored by ``to_blob`` (or, for batches logged before it, as plain JSON)."""
    import json

    if not data.startswith(_BLOB_MAGIC):
        return dict(json.loads(data))
    start = len(_BLOB_MAGIC) + 8
    length = int.from_bytes(data[len(_BLOB_MAGIC) : start], "little")
    prof = dict(json.loads(data[start : start + length]))
    body = memoryview(data)[start + length :]

    def side(part: dict[str, Any]) -> dict[str, Any]:
        if "i8_at" not in part:
            return part
        at, size = part["i8_at"]
        return {"offset": part["offset"], "counts": np.frombuffer(body[at : at + size], dtype="<i8").tolist()}

    def restore(column: dict[str, Any]) -> dict[str, Any]:
        kept = column.get("reservoir")
        if isinstance(kept, dict) and "f8_at" in kept:
            at, size = kept["f8_at"]
            column["reservoir"] = {"f8": base64.b64encode(body[at : at + size]).decode("ascii")}
        sketch = column.get("sketch")
        if isinstance(sketch, dict) and "pos" in sketch:
            column["sketch"] = {**sketch, "pos": side(sketch["pos"]), "neg": side(sketch["neg"])}
        return column

    for part in ("columns", "outputs"):
        prof[part] = {name: restore(c) for name, c in prof.get(part, {}).items()}
    return prof
