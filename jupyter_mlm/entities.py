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
    archived_ms: int | None = None


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
    notebook_id: str | None = None
    deleted_ms: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class RunData:
    """A run with everything logged to it (metrics as last values)."""

    info: RunRecord
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: tuple[Artifact, ...] = ()


@dataclass(frozen=True)
class MetricSummary:
    """One metric's last values over a group of runs (NaN values left out of all four)."""

    count: int
    mean: float | None
    min: float | None
    max: float | None


@dataclass(frozen=True)
class RunGroup:
    """The runs sharing one value of a field (None: the runs without it), and their metrics."""

    value: str | None
    runs: int
    metrics: dict[str, MetricSummary] = field(default_factory=dict)


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


@dataclass(frozen=True)
class ModelRecord:
    id: str
    name: str
    description: str
    created_ms: int


@dataclass(frozen=True)
class ModelVersionRecord:
    """A registered version as stored: what the blob is, where it came from, where it stands."""

    id: str
    model_id: str
    model: str
    version: int
    run_id: str | None
    digest: str
    size: int
    flavor: str
    serializer: str
    filename: str
    signature: str | None
    profile_digest: str | None
    description: str
    stage: str
    created_ms: int
    created_by: str
    deleted_ms: int | None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApprovalRequest:
    id: str
    version_id: str
    model: str
    version: int
    from_stage: str
    to_stage: str
    status: str
    requested_by: str
    requested_ms: int
    comment: str | None
    decided_by: str | None
    decided_ms: int | None
    decision_comment: str | None


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    ts_ms: int
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    comment: str | None
    prev_hash: str
    hash: str
    state: Any = None
    db_user: str | None = None


@dataclass(frozen=True)
class StagePolicy:
    """Stage names and the rules around them; the registry reads it from ``c.MLM``/``MLM_*``."""

    stages: tuple[str, ...] = ("none", "staging", "production", "archived")
    production: str = "production"
    archived: str = "archived"
    require_approval_for: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()
    named_approvers: bool = False

    @property
    def initial(self) -> str:
        return self.stages[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stages": list(self.stages), "production": self.production, "archived": self.archived,
            "initial": self.initial, "require_approval_for": list(self.require_approval_for),
            "approvers": list(self.approvers), "named_approvers": self.named_approvers,
        }  # fmt: skip


@dataclass(frozen=True)
class DatabaseIdentity:
    """Who the database says is connected. ``vouches`` is True for a role trusted to act for the
    people it names (a superuser, or a member of ``mlm_service``: a JupyterHub-wide server);
    otherwise the role itself is the actor of every registry write."""

    user: str
    vouches: bool


@dataclass(frozen=True)
class AuditReport:
    events: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None
    head_seq: int = 0
    head_hash: str | None = None
    anchors: int = 0
