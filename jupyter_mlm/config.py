"""User-facing settings: the ``MLM`` traitlets class (``c.MLM.*``) with ``MLM_*`` environment fallbacks."""

from __future__ import annotations

import os
from pathlib import Path

from traitlets import Bool, Float, Int, List, Unicode, default
from traitlets.config import Configurable


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

    capture_exclude = List(
        Unicode(),
        help=(
            "Files whose bytes snapshots never store (recorded by path and digest only), beyond the "
            "built-in deny-list of credential files (jupyter_mlm.capture.secrets): fnmatch patterns "
            "on the absolute path or the file name, ~ for home. Default: $MLM_CAPTURE_EXCLUDE."
        ),
    ).tag(config=True)

    @default("capture_exclude")
    def _default_capture_exclude(self) -> list[str]:
        return _env_list("MLM_CAPTURE_EXCLUDE")

    capture_output = Bool(
        help=(
            "Keep what each run prints (stdout, stderr) and the traceback that failed it, as its "
            "mlm/stdout.txt, mlm/stderr.txt and mlm/exception.txt artifacts (values of secret-looking "
            "environment variables redacted). Passed to kernels as $MLM_CAPTURE_OUTPUT. Default: on."
        )
    ).tag(config=True)

    @default("capture_output")
    def _default_capture_output(self) -> bool:
        return os.environ.get("MLM_CAPTURE_OUTPUT", "1").strip().lower() not in ("0", "false", "no", "off")

    system_metrics_seconds = Float(
        help=(
            "How often the kernel logs its CPU, memory and GPU use as system/… metrics of the active "
            "runs, in seconds; 0 turns it off. Passed to kernels as $MLM_SYSTEM_METRICS_SECONDS. Default: 10."
        )
    ).tag(config=True)

    @default("system_metrics_seconds")
    def _default_system_metrics_seconds(self) -> float:
        raw = os.environ.get("MLM_SYSTEM_METRICS_SECONDS", "").strip()
        try:
            return float(raw) if raw else 10.0
        except ValueError:
            return 10.0

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

    # The stage policy lives in the store so every face applies the same rules; these settings,
    # when given, are what the server sets it to at start (an audited change, if any).
    stages = List(
        Unicode(),
        help=(
            "Lifecycle stages of a model version, the first being where new versions start "
            "(stored default: none, staging, production, archived). Applied to the store when the server starts."
        ),
    ).tag(config=True)

    production_stage = Unicode(
        help="The stage only one version of a model can be in at a time (default: production)."
    ).tag(config=True)

    archived_stage = Unicode(help="Where a production version goes when another replaces it (default: archived).").tag(
        config=True
    )

    require_approval_for = List(
        Unicode(),
        help=(
            "Stages a version may only enter once another person approves the request, e.g. "
            '["production"]. Applied to the store when the server starts.'
        ),
    ).tag(config=True)

    approvers = List(
        Unicode(),
        help="People allowed to approve or reject requests; empty means anyone but the requester.",
    ).tag(config=True)

    named_approvers = Bool(
        help=(
            "Let approvers decide in another person's name (--as in the CLI, the sidebar's approver box): "
            "only for shared accounts, where no identity tells people apart. Off by default."
        ),
    ).tag(config=True)

    trusted_publishers = List(
        Unicode(),
        help=(
            "People whose pickle-based models load without the pickle-safety warning. "
            "Default: $MLM_TRUSTED_PUBLISHERS (comma-separated)."
        ),
    ).tag(config=True)

    job_command = Unicode(
        help=(
            "Hand retraining jobs to another scheduler instead of running them here: a command "
            "template run by `jupyter mlm worker` (and the server's runner) for each job, e.g. "
            "'sbatch --wait run-job.sh {job_id}' or a Kubernetes Job that runs "
            "'jupyter mlm job-exec {job_id}'. Fields: {job_id}, {notebook}, {store}, {objects}, "
            "{python}. Its exit status decides the job's. Default: $MLM_JOB_COMMAND, else run here."
        )
    ).tag(config=True)

    run_jobs = Bool(
        True, help="Whether the Jupyter server extension runs queued retraining jobs (as `jupyter mlm worker` does)."
    ).tag(config=True)

    @default("job_command")
    def _default_job_command(self) -> str:
        return os.environ.get("MLM_JOB_COMMAND", "")

    _POLICY_TRAITS = {
        "stages": "stages", "production_stage": "production", "archived_stage": "archived",
        "require_approval_for": "require_approval_for", "approvers": "approvers",
        "named_approvers": "named_approvers",
    }  # fmt: skip

    def configured_policy(self) -> dict[str, object]:
        """The stage-policy settings given explicitly in configuration, by policy field name."""
        given = self.config.get("MLM", {})
        return {field: getattr(self, trait) for trait, field in self._POLICY_TRAITS.items() if trait in given}

    @default("trusted_publishers")
    def _default_trusted_publishers(self) -> list[str]:
        return _env_list("MLM_TRUSTED_PUBLISHERS")

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


def model_cache_dir() -> Path:
    """Where loaded file/folder models are materialised: $MLM_CACHE_DIR, else ~/.cache/jupyter_mlm/models."""
    return Path(os.environ.get("MLM_CACHE_DIR") or Path.home() / ".cache" / "jupyter_mlm" / "models")


def _env_list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]
