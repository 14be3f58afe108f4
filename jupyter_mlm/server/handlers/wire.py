"""Entities → JSON-ready dicts for the REST API (the shapes mirror labextension/src/tokens.ts);
non-finite numbers follow the one policy of ``jupyter_mlm.wire``."""

from __future__ import annotations

from typing import Any

from ...entities import ApprovalRequest, ModelVersionRecord, RunData, RunRecord
from ...wire import number

__all__ = ["number", "request_json", "run_data", "run_record", "version_json"]


def version_json(record: ModelVersionRecord) -> dict[str, Any]:
    return {
        "id": record.id, "model": record.model, "version": record.version, "stage": record.stage,
        "aliases": list(record.aliases), "flavor": record.flavor, "serializer": record.serializer,
        "digest": record.digest, "size": record.size, "run_id": record.run_id,
        "description": record.description, "created_ms": record.created_ms, "created_by": record.created_by,
    }  # fmt: skip


def request_json(request: ApprovalRequest) -> dict[str, Any]:
    return dict(request.__dict__)


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
        "notebook_id": info.notebook_id,
        "deleted_ms": info.deleted_ms,
        "note": info.note or "",
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
