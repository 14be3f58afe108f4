"""A mergeable quantile sketch for numbers (DDSketch, Masson et al., VLDB 2019).

Assumptions and error: values are mapped to logarithmic buckets of ratio ``gamma = (1+a)/(1-a)``
with relative accuracy ``a = 0.01``: any quantile read from the sketch is within 1 % (relative)
of a value of the data at that rank. Buckets depend on the value only, so merging the sketches
of any partitions of a dataset gives exactly the sketch of the whole (the merge adds no error).
Zero and values below ``1e-9`` in magnitude share a zero bucket; negative values have their
own buckets; NaN is counted as missing by the caller, never sketched.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

ACCURACY = 0.01
GAMMA = (1 + ACCURACY) / (1 - ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
MIN_MAGNITUDE = 1e-9


def sketch(values: np.ndarray) -> dict[str, Any]:
    """The sketch of finite float values."""
    if values.size == 0:
        return {"pos": {}, "neg": {}, "zero": 0, "n": 0}
    # One pass per step over all values (no boolean-mask copies): keys of |x|, offset by sign
    # into one bincount; values too small to tell from zero go to a slot of their own.
    magnitude = np.abs(values)
    nonzero = magnitude > MIN_MAGNITUDE
    keys = np.ceil(np.log(np.maximum(magnitude, MIN_MAGNITUDE)) / _LOG_GAMMA).astype(np.int64)
    low, high = int(keys.min()), int(keys.max())
    span = high - low + 1
    slots = keys - low
    slots += np.where(values < 0, span, 0)
    slots[~nonzero] = 2 * span
    counts = np.bincount(slots, minlength=2 * span + 1)
    pos, neg = counts[:span], counts[span : 2 * span]
    return {
        "pos": {int(k) + low: int(pos[k]) for k in np.flatnonzero(pos)},
        "neg": {int(k) + low: int(neg[k]) for k in np.flatnonzero(neg)},
        "zero": int(counts[2 * span]),
        "n": int(values.size),
    }


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = {"pos": dict(a["pos"]), "neg": dict(a["neg"]), "zero": a["zero"] + b["zero"], "n": a["n"] + b["n"]}
    for side in ("pos", "neg"):
        for key, count in b[side].items():
            out[side][key] = out[side].get(key, 0) + count
    return out


def to_json(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "pos": {str(k): v for k, v in s["pos"].items()},
        "neg": {str(k): v for k, v in s["neg"].items()},
        "zero": s["zero"],
        "n": s["n"],
    }


def from_json(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "pos": {int(k): v for k, v in s["pos"].items()},
        "neg": {int(k): v for k, v in s["neg"].items()},
        "zero": s["zero"],
        "n": s["n"],
    }


def points(s: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The sketch as (representative value, count) pairs in increasing value order."""
    values: list[float] = []
    counts: list[int] = []
    for key in sorted(s["neg"], reverse=True):
        values.append(-2 * GAMMA**key / (GAMMA + 1))
        counts.append(s["neg"][key])
    if s["zero"]:
        values.append(0.0)
        counts.append(s["zero"])
    for key in sorted(s["pos"]):
        values.append(2 * GAMMA**key / (GAMMA + 1))
        counts.append(s["pos"][key])
    return np.asarray(values, dtype=float), np.asarray(counts, dtype=float)


def quantile(s: dict[str, Any], q: float) -> float | None:
    values, counts = points(s)
    if counts.sum() == 0:
        return None
    rank = q * (counts.sum() - 1)
    index = int(np.searchsorted(np.cumsum(counts), rank, side="right"))
    return float(values[min(index, len(values) - 1)])
