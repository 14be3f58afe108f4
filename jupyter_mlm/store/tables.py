"""Table definitions (SQLAlchemy Core). Migrations create them; the store reads and writes them.

Metric points are stored in chunks: one row holds the packed steps, values and timestamps of
one flush of one key, so ingesting a million points is a handful of inserts rather than a
million. ``metric_latest`` keeps the last value per (run, key) for listing and filtering.
Times are integer milliseconds since the epoch.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

KEY = String(250)
ID = String(32)
DIGEST = String(64)

experiments = Table(
    "experiments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_ms", BigInteger, nullable=False),
    Column("archived_ms", BigInteger),  # since 0010: hidden from lists, its runs kept
)

runs = Table(
    "runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("experiment_id", ID, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger),
    Column("user", String(250), nullable=False, default=""),
    Column("host", String(250), nullable=False, default=""),
    Column("pid", Integer, nullable=False, default=0),
    Column("notebook_path", Text),
    Column("kernel_id", String(64)),
    Column("parent_id", ID, ForeignKey("runs.id")),
    Column("notebook_id", String(64)),  # since 0005: the notebook's stable id (metadata.mlm.notebook_id)
    # Since 0008: who may judge the run by its PID (same host and PID namespace), and when the
    # writing process last said it is alive.
    Column("pid_namespace", String(64)),
    Column("heartbeat_ms", BigInteger),
    # Since 0010: deleted softly (hidden, restorable until purged), and a markdown note.
    Column("deleted_ms", BigInteger),
    Column("note", Text),
    Index("ix_runs_experiment_start", "experiment_id", "start_ms"),
    Index("ix_runs_name", "name"),
    Index("ix_runs_status", "status"),
    Index("ix_runs_kernel", "kernel_id", "status"),
    Index("ix_runs_notebook", "notebook_id", "start_ms"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
    # The value as a number when it reads as one, so numeric filters run in SQL on every backend.
    Column("num_value", Float),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
)

metric_chunks = Table(
    "metric_chunks",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", KEY, nullable=False),
    Column("count", Integer, nullable=False),
    Column("min_step", BigInteger, nullable=False),
    Column("max_step", BigInteger, nullable=False),
    Column("steps", LargeBinary, nullable=False),
    Column("values", LargeBinary, nullable=False),
    Column("timestamps", LargeBinary, nullable=False),
    Index("ix_metric_chunks_run_key", "run_id", "key", "id"),
)

metric_latest = Table(
    "metric_latest",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    # NULL stands for NaN: SQLite cannot store NaN in a REAL column (it becomes NULL anyway).
    Column("value", Float),
    Column("step", BigInteger, nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("count", BigInteger, nullable=False),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", DIGEST, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("id", ID, primary_key=True),
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("phase", String(16), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("manifest_digest", DIGEST, nullable=False),
    Index("ix_snapshots_run", "run_id", "created_ms"),
)

file_hashes = Table(
    "file_hashes",
    metadata,
    Column("path", Text, primary_key=True),
    Column("device", BigInteger, nullable=False),
    Column("inode", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("digest", DIGEST, nullable=False),
    Column("checked_ms", BigInteger, nullable=False),
)

models = Table(
    "models",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(250), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_ms", BigInteger, nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("ts_ms", BigInteger, nullable=False),
    Column("actor", String(250), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity_type", String(64), nullable=False),
    Column("entity_id", String(250), nullable=False),
    Column("before", Text),
    Column("after", Text),
    Column("comment", Text),
    Column("prev_hash", DIGEST, nullable=False),
    Column("hash", DIGEST, nullable=False),
    # Since 0004: the registry state the event produced (JSON) and PostgreSQL's session_user,
    # which a trigger sets whatever the client sends.
    Column("state", Text),
    Column("db_user", String(250)),
)

# The stage policy every face applies (one row), changed only together with an audit event.
registry_policy = Table(
    "registry_policy",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body", Text, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("id", ID, primary_key=True),
    Column("path", Text, nullable=False),
    Column("kind", String(16), nullable=False),  # "notebook" (a manifest digest) or "file" (a blob digest)
    Column("digest", DIGEST, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    # Since 0005: which server root the path is relative to (another server's "a.ipynb" is
    # another file), and the notebook's stable id.
    Column("server", String(64)),
    Column("notebook_id", String(64)),
    Index("ix_checkpoints_path", "server", "path", "created_ms"),
)

# The newest notebook each kernel's frontend sent (unsaved edits and outputs included), kept per
# kernel rather than per run: a run that starts and ends within one cell still finds it.
live_notebooks = Table(
    "live_notebooks",
    metadata,
    Column("kernel_id", String(64), primary_key=True),
    Column("server", String(64), nullable=False),
    Column("path", Text, nullable=False),
    Column("notebook_id", String(64)),
    Column("manifest_digest", DIGEST, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

# Stable notebook ids and where each notebook is now, per server root (copies get a new id).
notebooks = Table(
    "notebooks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("server", String(64), nullable=False),
    Column("path", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

# Versions are never deleted, only marked: their numbers are never reused and the audit trail
# keeps pointing at something.
model_versions = Table(
    "model_versions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model_id", ID, ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", ID, ForeignKey("runs.id", ondelete="SET NULL")),
    Column("digest", DIGEST, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("flavor", String(32), nullable=False),
    Column("serializer", String(32), nullable=False),
    Column("filename", String(250), nullable=False),
    Column("signature", Text),
    Column("profile_digest", DIGEST),
    Column("description", Text, nullable=False, default=""),
    Column("stage", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("created_by", String(250), nullable=False),
    Column("deleted_ms", BigInteger),
    Index("ux_model_versions_number", "model_id", "version", unique=True),
    Index("ix_model_versions_stage", "model_id", "stage"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", ID, ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(250), primary_key=True),
    Column("version_id", ID, ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False),
)

approval_requests = Table(
    "approval_requests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("version_id", ID, ForeignKey("model_versions.id", ondelete="CASCADE"), nullable=False),
    Column("from_stage", String(64), nullable=False),
    Column("to_stage", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending, approved, rejected, cancelled
    Column("requested_by", String(250), nullable=False),
    Column("requested_ms", BigInteger, nullable=False),
    Column("comment", Text),
    Column("decided_by", String(250)),
    Column("decided_ms", BigInteger),
    Column("decision_comment", Text),
    Index("ix_approval_requests_version", "version_id", "status"),
)

# The newest audit event's number and hash, kept in the same transaction as each append, so that
# removing events from the end of the chain is detected too.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", DIGEST, nullable=False),
)

# Monitoring (0006). A batch is a profile of production rows (a blob), with the rows' ids,
# predictions and scores (a blob) for joining labels that arrive later.
monitor_batches = Table(
    "monitor_batches",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model", String(250), nullable=False),
    Column("version", Integer, nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("profile_digest", DIGEST, nullable=False),
    Column("outputs_digest", DIGEST),
    Column("rows_digest", DIGEST),
    Column("source", String(32), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_monitor_batches_model", "model", "ts_ms"),
)

monitor_labels = Table(
    "monitor_labels",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model", String(250), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("digest", DIGEST, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_monitor_labels_model", "model", "created_ms"),
)

monitor_rules = Table(
    "monitor_rules",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model", String(250), nullable=False),
    Column("expression", Text, nullable=False),
    Column("created_by", String(250), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("deleted_ms", BigInteger),
    Column("action", Text),  # 0007: JSON of what to do when the rule fires (a retraining job)
)

monitor_alerts = Table(
    "monitor_alerts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model", String(250), nullable=False),
    Column("version", Integer),
    Column("rule_id", ID, nullable=False),
    Column("expression", Text, nullable=False),
    Column("value", Float),
    Column("window_start_ms", BigInteger, nullable=False),
    Column("window_end_ms", BigInteger, nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Index("ix_monitor_alerts_model", "model", "ts_ms"),
)

# The level-3 loop (0007): comparisons of two versions on the same rows, durable jobs (leased, so
# a crashed runner's job is retried once and never runs twice at a time), promotion policies.
model_comparisons = Table(
    "model_comparisons",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model", String(250), nullable=False),
    Column("version_a", Integer, nullable=False),
    Column("version_b", Integer, nullable=False),
    Column("ref_a", String(250), nullable=False),
    Column("ref_b", String(250), nullable=False),
    Column("metric", String(32), nullable=False),
    Column("value_a", Float),
    Column("value_b", Float),
    Column("delta", Float),
    Column("ci_low", Float),
    Column("ci_high", Float),
    Column("rows", BigInteger, nullable=False),
    Column("data_digest", DIGEST),
    Column("source", String(32), nullable=False),
    Column("created_by", String(250), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_model_comparisons_model", "model", "created_ms"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("model", String(250)),
    Column("spec", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("lease_owner", String(250)),
    Column("lease_until_ms", BigInteger),
    Column("alert_id", ID),
    Column("run_id", ID),
    Column("result", Text),
    Column("log_digest", DIGEST),
    Column("created_by", String(250), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("started_ms", BigInteger),
    Column("finished_ms", BigInteger),
    Index("ix_jobs_status", "status", "created_ms"),
)

loop_policies = Table(
    "loop_policies",
    metadata,
    Column("model", String(250), primary_key=True),
    Column("spec", Text, nullable=False),
    Column("created_by", String(250), nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

# Blobs and bytes per objects store (0009): added to as blobs are written, set by a full count
# (the first status, fsck) and lowered by gc; status reads it instead of listing the store.
object_usage = Table(
    "object_usage",
    metadata,
    Column("objects_uri", String(1024), primary_key=True),
    Column("objects", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("counted_ms", BigInteger, nullable=False),
)
