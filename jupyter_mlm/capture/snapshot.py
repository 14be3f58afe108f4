"""A run's snapshot: one JSON manifest tying together the notebook (per-cell blobs), the execution
log, the environment and the data files, each stored deduplicated in the object store.

This module is the one owner of the manifest: the kernel's snapshots (``SnapshotWriter``), the
frontend's live notebooks (``store_live_notebook``) and the amendment of a run's start or end
snapshot with the notebook the frontend sent for it (``amend_with_live``) all build it here,
and every reader goes through ``Snapshot``.

Manifest (version 1)::

    {"version": 1, "run_id", "phase", "created_ms",
     "notebook": {"path", "source", "manifest": digest, "notebook_id"} | null,

``source`` says where the notebook came from: ``live`` — the frontend sent it for this very
moment (a run's start, or its end once the cell that ended it finished); ``live-earlier`` — the
newest notebook the frontend had sent before (the kernel's own snapshot, until the frontend's
answer completes it); ``disk`` — the saved file, where no frontend exists (nbclient, papermill).
     "executions": digest of [ {order, cell_id, source_digest, start_ms, duration_ms, success, in_run} ],
     "environment": digest of the environment dict,
     "data": [ {path, kind: "file"|"folder", digest, size, mtime_ns, files, stored} ],
     "sources": [ {path, module, digest, size} ]   local Python files the run imported (stored),
     "repositories": [ {root, commit, diff: digest | null} ]   their git diff against HEAD,
     "cwd": the kernel's working folder (a notebook's own folder in Jupyter),
     "out_of_order": [reasons]}
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..entities import RunRecord
from ..store import Store
from ..store.snapshots import SnapshotRow
from .environment import capture_environment
from .executions import Execution, out_of_order_reasons
from .hashing import FileStat, HashCache, folder_digest
from .notebook import NotebookWriter, load_notebook
from .secrets import never_store
from .sources import capture_sources

DEFAULT_DATA_MAX_BYTES = 50 * 1000 * 1000


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _source_text(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def code_cells(notebook: dict[str, Any]) -> list[dict[str, Any]]:
    """Code cells with their id and the BLAKE3 of their source, in document order."""
    import blake3

    return [
        {"id": cell.get("id"), "source_digest": blake3.blake3(_source_text(cell).encode()).hexdigest()}
        for cell in notebook.get("cells", [])
        if cell.get("cell_type") == "code"
    ]


class SnapshotWriter:
    def __init__(self, store: Store, data_max_bytes: int = DEFAULT_DATA_MAX_BYTES) -> None:
        self.store = store
        self.data_max_bytes = data_max_bytes
        self.notebooks = NotebookWriter(store.objects)
        self.hashes = HashCache(
            lookup=lambda stats: store.lookup_file_hashes([(s.path, *s.key()) for s in stats]),
            remember=lambda entries: store.remember_file_hashes([(s.path, *s.key(), d) for s, d in entries]),
        )

    def data_entries(self, files: Iterable[str], folders: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Digest (and, when small enough, store) each file; Merkle-hash each folder."""
        stats: list[FileStat] = []
        for path in sorted(set(files)):
            try:
                st = os.stat(path)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                stats.append(FileStat(path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
        small = [s for s in stats if s.size <= self.data_max_bytes]
        digests = self.hashes.digests([s for s in stats if s.size > self.data_max_bytes])
        known = self.hashes.digests(small) if small else {}
        entries = []
        for fs in stats:
            stored = False
            digest = digests.get(fs.path) or known[fs.path]
            if fs.size <= self.data_max_bytes and not never_store(fs.path):
                if not self.store.objects.exists(digest):
                    digest = self.store.objects.put_file(fs.path)
                stored = True
            entries.append(
                {
                    "path": fs.path,
                    "kind": "file",
                    "digest": digest,
                    "size": fs.size,
                    "mtime_ns": fs.mtime_ns,
                    "files": 1,
                    "stored": stored,
                }
            )
        for folder in sorted(set(folders)):
            digest, count, size = folder_digest(folder, self.hashes)
            entries.append(
                {
                    "path": folder,
                    "kind": "folder",
                    "digest": digest,
                    "size": size,
                    "mtime_ns": None,
                    "files": count,
                    "stored": False,
                }
            )
        return entries

    def take(
        self,
        run: RunRecord,
        phase: str,
        *,
        notebook: dict[str, Any] | None,
        notebook_source: str | None,
        executions: list[Execution],
        notebook_digest: str | None = None,
        notebook_path: str | None = None,
        sources: dict[str, str],
        data_files: Iterable[str] = (),
        data_folders: Iterable[str] = (),
        environment: dict[str, Any] | None = None,
    ) -> SnapshotRow:
        objects = self.store.objects
        notebook_part = None
        reasons: list[str] = []
        entries = [e.to_dict() | {"in_run": e.start_ms >= run.start_ms} for e in executions]
        for entry in entries:
            if not objects.exists(entry["source_digest"]):
                objects.put_bytes(sources[entry["source_digest"]].encode())
        if notebook is not None:
            path = notebook_path or run.notebook_path or ""
            # A live notebook the server already stored is referenced, not stored (hashed) again.
            digest = notebook_digest or self.notebooks.store(notebook, path)
            notebook_part = notebook_json(path, notebook_source or "disk", digest, notebook)
            reasons = out_of_order_reasons([e for e in entries if e["success"] is not False], code_cells(notebook))
        env = (
            environment
            if environment is not None
            else capture_environment(os.path.dirname(run.notebook_path) if run.notebook_path else os.getcwd())
        )
        source_files, repositories = capture_sources(self.store)
        manifest = {
            "version": 1,
            "run_id": run.id,
            "phase": phase,
            "notebook": notebook_part,
            "executions": objects.put_bytes(_canonical(entries)),
            "environment": objects.put_bytes(_canonical(env)),
            "data": self.data_entries(data_files, data_folders),
            "sources": source_files,
            "repositories": repositories,
            "cwd": os.getcwd(),
            "out_of_order": reasons,
        }
        return self.store.add_snapshot(run.id, phase, objects.put_bytes(_canonical(manifest)))


def notebook_id_of(notebook: dict[str, Any]) -> str | None:
    """The notebook's stable id (``metadata.mlm.notebook_id``), if it has a well-formed one."""
    meta = (notebook.get("metadata") or {}).get("mlm") or {}
    value = meta.get("notebook_id") if isinstance(meta, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 64 and value.isalnum() else None


def notebook_json(path: str, source: str, digest: str, notebook: dict[str, Any]) -> dict[str, Any]:
    return {"path": path, "source": source, "manifest": digest, "notebook_id": notebook_id_of(notebook)}


def store_live_notebook(
    store: Store, writer: NotebookWriter, kernel_id: str, server: str, path: str, notebook: dict[str, Any]
) -> dict[str, Any]:
    """Keep the notebook a kernel's frontend sent as that kernel's latest; while the kernel has a
    running run, also as the run's ``live`` snapshot (what its page shows while it runs)."""
    digest = writer.store(notebook, f"live:{kernel_id}")
    store.put_live_notebook(kernel_id, server, path, notebook_id_of(notebook), digest)
    run_id = store.running_run_of_kernel(kernel_id)
    if run_id is None:
        return {"stored": True, "run_id": None}
    manifest = {
        "version": 1, "run_id": run_id, "phase": "live", "notebook": notebook_json(path, "live", digest, notebook),
        "executions": None, "environment": None, "data": [], "out_of_order": [],
    }  # fmt: skip
    row = store.add_snapshot(run_id, "live", store.objects.put_bytes(_canonical(manifest)))
    _remember_notebook_id(store, run_id, notebook)
    return {"stored": True, "run_id": run_id, "snapshot_id": row.id}


def amend_with_live(
    store: Store, writer: NotebookWriter, run: RunRecord, phase: str, path: str, notebook: dict[str, Any],
    server: str,
) -> SnapshotRow:  # fmt: skip
    """The run's ``phase`` snapshot again, with the notebook the frontend sent for that moment
    (for the end: once the cell that ended the run had finished, its outputs included). The
    notebook also becomes the kernel's latest live one."""
    if phase not in ("start", "end", "exit"):
        from ..errors import UsageError

        raise UsageError(f"phase must be start, end or exit, not {phase!r}")
    from ..errors import NotFound

    rows = [s for s in store.list_snapshots(run.id) if s.phase == phase]
    if not rows:
        raise NotFound(f"run {run.name!r} has no {phase} snapshot to complete yet")
    base = Snapshot(store, rows[-1])
    digest = writer.store(notebook, f"{phase}:{run.id}")
    entries = base.executions
    manifest = dict(base.manifest)
    manifest["notebook"] = notebook_json(path, "live", digest, notebook)
    manifest["out_of_order"] = out_of_order_reasons(
        [e for e in entries if e["success"] is not False], code_cells(notebook)
    )
    row = store.add_snapshot(run.id, phase, store.objects.put_bytes(_canonical(manifest)))
    _remember_notebook_id(store, run.id, notebook)
    if run.kernel_id:
        store.put_live_notebook(run.kernel_id, server, path, notebook_id_of(notebook), digest)
    return row


def _remember_notebook_id(store: Store, run_id: str, notebook: dict[str, Any]) -> None:
    notebook_id = notebook_id_of(notebook)
    if notebook_id is not None:
        store.set_run_notebook_id(run_id, notebook_id)


def notebook_for_run(
    store: Store, run: RunRecord, disk_file: str | None
) -> tuple[dict[str, Any] | None, str | None, str | None, str | None]:
    """The best notebook the kernel can find for a snapshot of ``run``: the run's live snapshot,
    else its kernel's latest live notebook, else ``disk_file`` (no frontend: nbclient,
    papermill, VS Code). Returns (notebook, source, stored digest or None, path)."""
    live = [s for s in store.list_snapshots(run.id) if s.phase == "live"]
    part = Snapshot(store, live[-1]).manifest.get("notebook") if live else None
    if not part and run.kernel_id:
        latest = store.live_notebook(run.kernel_id)
        if latest is not None:
            part = {"manifest": latest.manifest_digest, "path": latest.path}
    if part:
        return load_notebook(store.objects, part["manifest"]), "live-earlier", part["manifest"], part.get("path")
    if disk_file is None:
        return None, None, None, None
    try:
        with open(disk_file, encoding="utf-8") as handle:
            return json.load(handle), "disk", None, run.notebook_path
    except (OSError, ValueError):
        return None, None, None, None


@dataclass
class Snapshot:
    """A stored snapshot, read lazily: ``notebook``, ``executions``, ``environment``, ``data``."""

    store: Store
    row: SnapshotRow

    @cached_property
    def manifest(self) -> dict[str, Any]:
        return dict(json.loads(self.store.objects.get(self.row.manifest_digest)))

    @property
    def phase(self) -> str:
        return self.row.phase

    @cached_property
    def notebook(self) -> Any:
        """The notebook as an ``nbformat.NotebookNode`` (None when none was captured)."""
        part = self.manifest.get("notebook")
        if not part:
            return None
        import nbformat

        # reads() also joins multi-line sources stored as lists, as nbformat.read does for files.
        return nbformat.reads(json.dumps(load_notebook(self.store.objects, part["manifest"])), as_version=4)

    @property
    def notebook_source(self) -> str | None:
        part = self.manifest.get("notebook")
        return part.get("source") if part else None

    @cached_property
    def executions(self) -> list[dict[str, Any]]:
        """The execution log, each entry with its ``source`` text."""
        if not self.manifest.get("executions"):
            return []
        entries = json.loads(self.store.objects.get(self.manifest["executions"]))
        sources: dict[str, str] = {}
        for entry in entries:
            digest = entry["source_digest"]
            if digest not in sources:
                sources[digest] = self.store.objects.get(digest).decode()
            entry["source"] = sources[digest]
        return list(entries)

    @cached_property
    def environment(self) -> dict[str, Any]:
        if not self.manifest.get("environment"):
            return {}
        return dict(json.loads(self.store.objects.get(self.manifest["environment"])))

    @property
    def data(self) -> list[dict[str, Any]]:
        return list(self.manifest["data"])

    @property
    def sources(self) -> list[dict[str, Any]]:
        """The local Python files the run imported: path, module, digest, size (older snapshots: [])."""
        return list(self.manifest.get("sources") or [])

    def source_text(self, path: str) -> str:
        """The stored content of one of ``sources``."""
        for entry in self.sources:
            if entry["path"] == path:
                return self.store.objects.get(entry["digest"]).decode("utf-8", errors="replace")
        from ..errors import NotFound

        raise NotFound(f"the snapshot has no source file {path!r}")

    @property
    def repositories(self) -> list[dict[str, Any]]:
        """Per git repository holding sources: root, commit, and the diff against HEAD (text or None)."""
        out = []
        for repo in self.manifest.get("repositories") or []:
            diff = self.store.objects.get(repo["diff"]).decode("utf-8", errors="replace") if repo.get("diff") else None
            out.append({"root": repo["root"], "commit": repo["commit"], "diff": diff})
        return out

    @property
    def out_of_order_reasons(self) -> list[str]:
        return list(self.manifest.get("out_of_order", []))

    @property
    def out_of_order(self) -> bool:
        """True when cells ran out of document order, or a cell that ran was edited afterwards."""
        return bool(self.manifest.get("out_of_order"))


def read_snapshot(store: Store, run_id: str) -> Snapshot:
    """The run's end (or exit) snapshot once it has ended, its start snapshot before that."""
    return Snapshot(store, store.latest_snapshot(run_id, ("start", "end", "exit")))
