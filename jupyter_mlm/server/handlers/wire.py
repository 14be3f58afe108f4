"""Entities → JSON-ready dicts for the REST API (the shapes mirror labextension/src/tokens.ts)."""

from __future__ import annotations

import math
from typing import Any

from ...entities import RunData, RunRecord


def number(value: float) -> float | str:
    """JSON has no NaN or infinity: those travel as the strings "NaN", "Infinity", "-Infinity"."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def run_record(info: RunRecord) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "experiment": info.experiment,
        "experiment_id": info.experiment_id,
        "status": info.status,
        "start_ms": info.start_ms,
        "end_ms": info.end_ms,
        "user": info.user,
        "host": info.host,
        "notebook_path": info.notebook_path,
        "kernel_id": info.kernel_id,
        "parent_id": info.parent_id,
    }


def run_data(data: RunData, counts: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        **run_record(data.info),
        "params": data.params,
        "metrics": {
            key: {"value": number(m.value), "step": m.step, "timestamp_ms": m.timestamp_ms}
            | ({"count": counts.get(key, 0)} if counts is not None else {})
            for key, m in data.metrics.items()
        },
        "tags": data.tags,
        "artifacts": [
            {"path": a.path, "size": a.size, "digest": a.digest, "created_ms": a.created_ms} for a in data.artifacts
        ],
    }
