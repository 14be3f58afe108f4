"""Frozen values that cross layer boundaries; the ORM rows never leave the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Experiment:
    id: str
    name: str
    created_ms: int
    description: str = ""


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    step: int
    timestamp_ms: int


@dataclass(frozen=True)
class Artifact:
    path: str
    digest: str
    size: int
    created_ms: int


@dataclass(frozen=True)
class RunRecord:
    """A run as stored: identity, lifecycle and provenance, without params/metrics/tags."""

    id: str
    experiment_id: str
    experiment: str
    name: str
    status: str
    start_ms: int
    end_ms: int | None
    user: str
    host: str
    pid: int
    notebook_path: str | None
    kernel_id: str | None
    parent_id: str | None


@dataclass(frozen=True)
class RunData:
    """A run with everything logged to it (metrics as last values)."""

    info: RunRecord
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: tuple[Artifact, ...] = ()


@dataclass(frozen=True)
class StoreStatus:
    store_uri: str
    objects_uri: str
    backend: str
    schema_version: str
    experiments: int
    runs: int
    models: int
    objects: int
    object_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)
