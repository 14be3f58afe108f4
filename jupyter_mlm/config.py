"""User-facing settings: the ``MLM`` traitlets class (``c.MLM.*``) with ``MLM_*`` environment fallbacks."""

from __future__ import annotations

import os

from traitlets import Bool, Int, List, Unicode, default, validate
from traitlets.config import Configurable

from .entities import StagePolicy


class MLM(Configurable):
    """Settings for jupyter_mlm, read by the server extension and the CLI."""

    store_uri = Unicode(
        help=(
            "Where run metadata lives: a folder, sqlite:////PATH/mlm.db or "
            "postgresql+psycopg://USER:PASSWORD@HOST/DB. Default: $MLM_STORE_URI, else the nearest "
            ".mlm/ folder at or above the notebook root (created there if none)."
        )
    ).tag(config=True)

    objects_uri = Unicode(
        help=(
            "Where blobs (artifacts, snapshots, models) live: a folder or any fsspec URL. "
            "Default: $MLM_OBJECTS_URI, else objects/ beside the database."
        )
    ).tag(config=True)

    store_data_max_bytes = Int(
        help=(
            "Data files a run reads up to this size are also stored (so the exact data can be "
            "restored); larger ones are only hashed. Default: $MLM_STORE_DATA_MAX_BYTES, else 50 MB."
        )
    ).tag(config=True)

    max_notebook_bytes = Int(
        50 * 1000 * 1000, help="Largest live notebook the frontend may post to /mlm/api/snapshots."
    ).tag(config=True)

    unlimited_checkpoints = Bool(
        True,
        help=(
            'Keep every "Save and Create Checkpoint" of every file, deduplicated in the object store '
            "(retention: c.MLMCheckpoints.max_count / max_age_days). Off, or when a contents manager's "
            "checkpoints_class is configured explicitly, jupyter_server's own checkpoints are used."
        ),
    ).tag(config=True)

    stages = List(
        Unicode(),
        help=(
            "Lifecycle stages of a model version, the first being where new versions start. "
            "Default: $MLM_STAGES (comma-separated), else none, staging, production, archived."
        ),
    ).tag(config=True)

    production_stage = Unicode(
        help="The stage only one version of a model can be in at a time. Default: $MLM_PRODUCTION_STAGE or production."
    ).tag(config=True)

    archived_stage = Unicode(
        help="Where a production version goes when another replaces it. Default: $MLM_ARCHIVED_STAGE or archived."
    ).tag(config=True)

    require_approval_for = List(
        Unicode(),
        help=(
            "Stages a version may only enter once another user approves the request, e.g. "
            '["production"]. Default: $MLM_REQUIRE_APPROVAL_FOR (comma-separated), else none.'
        ),
    ).tag(config=True)

    approvers = List(
        Unicode(),
        help=(
            "Users allowed to approve or reject requests; empty means anyone but the requester. "
            "Default: $MLM_APPROVERS (comma-separated)."
        ),
    ).tag(config=True)

    named_approvers = Bool(
        True,
        help=(
            "Whether the sidebar may name the approver of a request. A single-user server has one "
            "identity for everybody, so the approver says who they are; behind JupyterHub (one "
            "identity per person) turn this off so approvers always act as themselves."
        ),
    ).tag(config=True)

    @default("stages")
    def _default_stages(self) -> list[str]:
        return _env_list("MLM_STAGES") or ["none", "staging", "production", "archived"]

    @default("production_stage")
    def _default_production_stage(self) -> str:
        return os.environ.get("MLM_PRODUCTION_STAGE", "").strip() or "production"

    @default("archived_stage")
    def _default_archived_stage(self) -> str:
        return os.environ.get("MLM_ARCHIVED_STAGE", "").strip() or "archived"

    @default("require_approval_for")
    def _default_require_approval_for(self) -> list[str]:
        return _env_list("MLM_REQUIRE_APPROVAL_FOR")

    @default("approvers")
    def _default_approvers(self) -> list[str]:
        return _env_list("MLM_APPROVERS")

    @validate("stages")
    def _check_stages(self, proposal: dict[str, list[str]]) -> list[str]:
        stages = proposal["value"]
        if len(stages) < 2 or len(set(stages)) != len(stages):
            raise ValueError("MLM.stages needs at least two distinct stage names")
        return stages

    def stage_policy(self) -> StagePolicy:
        """The registry rules these settings describe, checked for consistency."""
        stages = tuple(self.stages)
        for what, stage in (("production_stage", self.production_stage), ("archived_stage", self.archived_stage)):
            if stage not in stages:
                raise ValueError(f"MLM.{what} {stage!r} is not one of MLM.stages {list(stages)}")
        unknown = [s for s in self.require_approval_for if s not in stages]
        if unknown:
            raise ValueError(f"MLM.require_approval_for names unknown stages {unknown}; stages are {list(stages)}")
        return StagePolicy(
            stages=stages, production=self.production_stage, archived=self.archived_stage,
            require_approval_for=tuple(self.require_approval_for), approvers=tuple(self.approvers),
        )  # fmt: skip

    def export_policy(self) -> dict[str, str]:
        """The ``MLM_*`` variables that make kernels follow the same registry rules."""
        return {
            "MLM_STAGES": ",".join(self.stages), "MLM_PRODUCTION_STAGE": self.production_stage,
            "MLM_ARCHIVED_STAGE": self.archived_stage,
            "MLM_REQUIRE_APPROVAL_FOR": ",".join(self.require_approval_for),
            "MLM_APPROVERS": ",".join(self.approvers),
        }  # fmt: skip

    @default("store_data_max_bytes")
    def _default_store_data_max_bytes(self) -> int:
        raw = os.environ.get("MLM_STORE_DATA_MAX_BYTES", "")
        return int(raw) if raw.isdigit() else 50 * 1000 * 1000

    @default("store_uri")
    def _default_store_uri(self) -> str:
        return os.environ.get("MLM_STORE_URI", "")

    @default("objects_uri")
    def _default_objects_uri(self) -> str:
        return os.environ.get("MLM_OBJECTS_URI", "")


def _env_list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


def stage_policy() -> StagePolicy:
    """The registry rules from ``MLM_*`` environment variables (kernels, CLI without config)."""
    try:
        return MLM().stage_policy()
    except ValueError as exc:  # a TraitError is a ValueError too
        from .errors import UsageError

        raise UsageError(str(exc)) from None
