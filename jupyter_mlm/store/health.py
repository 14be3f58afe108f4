"""Store health: ``fsck`` (is everything the database refers to there and intact?) and ``gc``
(which blobs does nothing refer to any more?).

References start at the database's digest columns and go on through the blobs that name other
blobs: a snapshot manifest names its notebook manifest, executions, environment, stored data
files, source files and git diffs; a notebook manifest names its cells (or its base manifest and
changed cells); a cell names the large outputs kept beside it; an executions list names each
cell source that ran. A data file too large to store is referenced by digest only
(``stored: false``) and is not expected in the store.

``gc`` deletes only unreferenced blobs older than a grace period (a put that finds its blob
already there refreshes it, so a blob a live writer is about to reference is always young) and
none written since the oldest running run started.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select, text

from ..entities import AuditReport
from ..errors import IntegrityError, NotFound, StoreError
from . import tables as t
from .objects import DIGEST_RE, StoredObject

GRACE_SECONDS = 3600.0
BLOB_REF = "mlm_blob"  # capture.notebook's key for an output kept as a blob of its own

# Kinds of blob, by what they name: "leaf" blobs name nothing.
LEAF, SNAPSHOT, NOTEBOOK, CELL, EXECUTIONS = "leaf", "snapshot", "notebook", "cell", "executions"


@dataclass(frozen=True)
class Problem:
    kind: str  # "missing", "corrupt", "unreadable", "database", "audit"
    where: str
    digest: str | None = None
    detail: str = ""
    blob: str = LEAF  # what the blob is (a manifest names others; a leaf names nothing)

    def __str__(self) -> str:
        digest = f" {self.digest}" if self.digest else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.kind}{digest} ({self.where}){detail}"


@dataclass
class HealthReport:
    database: str
    referenced: int
    objects: int
    object_bytes: int
    verified: int
    audit: AuditReport
    problems: list[Problem] = field(default_factory=list)
    orphans: list[StoredObject] = field(default_factory=list)
    temporaries: list[StoredObject] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "database": self.database, "referenced": self.referenced, "objects": self.objects,
            "object_bytes": self.object_bytes, "verified": self.verified, "audit": asdict(self.audit),
            "problems": [asdict(p) for p in self.problems], "orphans": [asdict(o) for o in self.orphans],
            "temporaries": [asdict(o) for o in self.temporaries],
        }  # fmt: skip


@dataclass
class GcReport:
    applied: bool
    grace_seconds: float
    blobs: list[StoredObject] = field(default_factory=list)
    temporaries: list[StoredObject] = field(default_factory=list)
    kept_young: int = 0  # unreferenced, but inside the grace period or written during a live run

    @property
    def freed_bytes(self) -> int:
        return sum(o.size for o in self.blobs) + sum(o.size for o in self.temporaries)

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied, "grace_seconds": self.grace_seconds, "freed_bytes": self.freed_bytes,
            "blobs": [asdict(o) for o in self.blobs], "temporaries": [asdict(o) for o in self.temporaries],
            "kept_young": self.kept_young,
        }  # fmt: skip


def _roots(store: Any) -> Iterator[tuple[str, str, str]]:
    """(digest, kind, where) for every digest the database keeps that must be a blob."""
    with store._read() as conn:
        for run_id, path, digest in conn.execute(
            select(t.artifacts.c.run_id, t.artifacts.c.path, t.artifacts.c.digest)
        ):
            yield digest, LEAF, f"artifact {path!r} of run {run_id}"
        for run_id, phase, digest in conn.execute(
            select(t.snapshots.c.run_id, t.snapshots.c.phase, t.snapshots.c.manifest_digest)
        ):
            yield digest, SNAPSHOT, f"{phase} snapshot of run {run_id}"
        for path, kind, digest in conn.execute(
            select(t.checkpoints.c.path, t.checkpoints.c.kind, t.checkpoints.c.digest)
        ):
            yield digest, NOTEBOOK if kind == "notebook" else LEAF, f"checkpoint of {path!r}"
        for kernel, digest in conn.execute(select(t.live_notebooks.c.kernel_id, t.live_notebooks.c.manifest_digest)):
            yield digest, NOTEBOOK, f"live notebook of kernel {kernel}"
        versions = t.model_versions.c
        for model, version, digest, profile in conn.execute(
            select(t.models.c.name, versions.version, versions.digest, versions.profile_digest).join(
                t.models, t.models.c.id == versions.model_id
            )
        ):
            yield digest, LEAF, f"model {model}/{version}"
            if profile:
                yield profile, LEAF, f"reference profile of {model}/{version}"
        batches = t.monitor_batches.c
        for model, version, profile, outputs, rows in conn.execute(
            select(batches.model, batches.version, batches.profile_digest, batches.outputs_digest, batches.rows_digest)
        ):
            for digest, what in ((profile, "profile"), (outputs, "outputs"), (rows, "rows")):
                if digest:
                    yield digest, LEAF, f"monitoring batch {what} of {model}/{version}"
        for model, digest in conn.execute(select(t.monitor_labels.c.model, t.monitor_labels.c.digest)):
            yield digest, LEAF, f"labels of {model}"
        for job_id, digest in conn.execute(
            select(t.jobs.c.id, t.jobs.c.log_digest).where(t.jobs.c.log_digest.isnot(None))
        ):
            yield digest, LEAF, f"log of job {job_id}"


def _named(kind: str, blob: bytes) -> Iterator[tuple[str, str]]:
    """(digest, kind) of the blobs that ``blob`` (of ``kind``) names."""
    document = json.loads(blob)
    if kind == SNAPSHOT:
        notebook = document.get("notebook") or {}
        if notebook.get("manifest"):
            yield notebook["manifest"], NOTEBOOK
        if document.get("executions"):
            yield document["executions"], EXECUTIONS
        if document.get("environment"):
            yield document["environment"], LEAF
        for entry in document.get("data") or []:
            if entry.get("stored") and entry.get("digest"):
                yield entry["digest"], LEAF
        for entry in document.get("sources") or []:
            if entry.get("digest"):
                yield entry["digest"], LEAF
        for entry in document.get("repositories") or []:
            if entry.get("diff"):
                yield entry["diff"], LEAF
    elif kind == NOTEBOOK:
        for digest in document.get("cells") or []:
            yield digest, CELL
        if document.get("base"):
            yield document["base"], NOTEBOOK
        for _, digest in document.get("changes") or []:
            yield digest, CELL
    elif kind == CELL:
        for output in document.get("outputs") or []:
            for payload in (output.get("data") or {}).values():
                if isinstance(payload, dict) and isinstance(payload.get(BLOB_REF), str):
                    yield payload[BLOB_REF], LEAF
    elif kind == EXECUTIONS:
        for entry in document or []:
            if isinstance(entry, dict) and entry.get("source_digest"):
                yield entry["source_digest"], LEAF


def walk(store: Any, present: set[str] | None = None) -> tuple[dict[str, str], list[Problem]]:
    """Every referenced digest (→ where the first reference came from) and the problems met:
    references to blobs that are not there, blobs that do not match their digest or cannot be
    read as what refers to them says they are."""
    seen: dict[str, str] = {}
    problems: list[Problem] = []
    pending = list(_roots(store))
    while pending:
        digest, kind, where = pending.pop()
        if digest in seen:
            continue
        seen[digest] = where
        if not isinstance(digest, str) or not DIGEST_RE.match(digest):
            problems.append(Problem("database", where, None, f"{digest!r} is not a digest"))
            continue
        if present is not None and digest not in present:
            problems.append(Problem("missing", where, digest, blob=kind))
            continue
        if kind == LEAF:
            continue
        try:
            blob = store.objects.get(digest)
        except NotFound:
            problems.append(Problem("missing", where, digest, blob=kind))
            continue
        except IntegrityError:
            problems.append(Problem("corrupt", where, digest, "its content no longer matches its digest", kind))
            continue
        try:
            pending.extend((named, child, f"{where} → {child}") for named, child in _named(kind, blob))
        except (ValueError, TypeError, AttributeError) as error:
            problems.append(Problem("unreadable", where, digest, f"not a {kind} ({type(error).__name__})", kind))
    return seen, problems


def _database(store: Any) -> tuple[str, list[Problem]]:
    if store.location.backend != "sqlite":
        with store._read() as conn:
            conn.execute(select(func.count()).select_from(t.runs)).scalar_one()
        return "postgresql (pages are PostgreSQL's to check; rows and references checked here)", []
    problems: list[Problem] = []
    with store._read() as conn:
        integrity = [row[0] for row in conn.execute(text("PRAGMA integrity_check"))]
        if integrity != ["ok"]:
            problems.extend(Problem("database", "sqlite integrity_check", None, line) for line in integrity[:20])
        for table, rowid, parent, _ in conn.execute(text("PRAGMA foreign_key_check")):
            problems.append(Problem("database", f"{table} row {rowid}", None, f"refers to a missing {parent} row"))
    return "sqlite integrity_check ok" if not problems else "sqlite integrity_check failed", problems


def fsck(store: Any, verify: bool = True) -> HealthReport:
    """Check the database, every referenced blob (present; with ``verify``, re-hashed), and the
    audit chain; list blobs nothing refers to and uploads left half-done."""
    database, problems = _database(store)
    listing = {o.digest: o for o in store.objects.listing()}
    referenced, walk_problems = walk(store, set(listing))
    problems.extend(walk_problems)
    verified = 0
    if verify:
        broken = {p.digest for p in problems}
        for digest, where in referenced.items():
            if digest in listing and digest not in broken:
                try:
                    store.objects.verify(digest)
                    verified += 1
                except IntegrityError:
                    problems.append(Problem("corrupt", where, digest, "its content no longer matches its digest"))
                except NotFound:
                    problems.append(Problem("missing", where, digest))
    audit = store.verify_audit()
    if not audit.ok:
        problems.append(Problem("audit", f"event {audit.first_bad_seq}", None, audit.problem or "chain broken"))
    orphans = sorted((o for d, o in listing.items() if d not in referenced), key=lambda o: o.digest)
    store.record_object_usage(len(listing), sum(o.size for o in listing.values()))  # status's counts, exact again
    return HealthReport(
        database=database, referenced=len(referenced), objects=len(listing),
        object_bytes=sum(o.size for o in listing.values()), verified=verified, audit=audit, problems=problems,
        orphans=orphans, temporaries=sorted(store.objects.temporaries(), key=lambda o: o.modified),
    )  # fmt: skip


def _oldest_live_run_start(store: Any) -> float | None:
    with store._read() as conn:
        oldest = conn.execute(select(func.min(t.runs.c.start_ms)).where(t.runs.c.status == "running")).scalar_one()
    return None if oldest is None else oldest / 1000


def gc(store: Any, apply: bool = False, grace_seconds: float = GRACE_SECONDS) -> GcReport:
    """Unreferenced blobs and stale temporaries; deleted only with ``apply``."""
    cutoff = time.time() - max(0.0, grace_seconds)
    live = _oldest_live_run_start(store)
    if live is not None:
        cutoff = min(cutoff, live)
    report = GcReport(applied=apply, grace_seconds=grace_seconds)
    listing = list(store.objects.listing())
    referenced, problems = walk(store)
    hidden = [p for p in problems if p.blob != LEAF]
    if hidden:
        # What a damaged manifest named cannot be known: deleting "unreferenced" blobs could
        # delete the very ones a repair would bring back.
        raise StoreError(f"gc stops: {hidden[0]}; run `jupyter mlm fsck` and repair the store first")
    for stored in listing:
        if stored.digest in referenced:
            continue
        if stored.modified >= cutoff:
            report.kept_young += 1
        else:
            report.blobs.append(stored)
    report.temporaries = [o for o in store.objects.temporaries() if o.modified < time.time() - max(0.0, grace_seconds)]
    if apply:
        # References made meanwhile are to young blobs (written or refreshed by their put): safe.
        for stored in report.blobs:
            store.objects.delete(stored.digest)
        store.forget_objects(len(report.blobs), sum(o.size for o in report.blobs))
        for stored in report.temporaries:
            store.objects.delete_temporary(stored.digest)
    return report
