"""A run's snapshot: one JSON manifest tying together the notebook (per-cell blobs), the execution
log, the environment and the data files, each stored deduplicated in the object store.

Manifest (version 1)::

    {"version": 1, "run_id", "phase", "created_ms",
     "notebook": {"path", "source": "live"|"disk", "manifest": digest} | null,
     "executions": digest of [ {order, cell_id, source_digest, start_ms, duration_ms, success, in_run} ],
     "environment": digest of the environment dict,
     "data": [ {path, kind: "file"|"folder", digest, size, mtime_ns, files, stored} ],
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
            if fs.size <= self.data_max_bytes:
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
            path = run.notebook_path or ""
            notebook_part = {"path": path, "source": notebook_source, "manifest": self.notebooks.store(notebook, path)}
            reasons = out_of_order_reasons([e for e in entries if e["success"] is not False], code_cells(notebook))
        env = (
            environment
            if environment is not None
            else capture_environment(os.path.dirname(run.notebook_path) if run.notebook_path else os.getcwd())
        )
        manifest = {
            "version": 1,
            "run_id": run.id,
            "phase": phase,
            "notebook": notebook_part,
            "executions": objects.put_bytes(_canonical(entries)),
            "environment": objects.put_bytes(_canonical(env)),
            "data": self.data_entries(data_files, data_folders),
            "out_of_order": reasons,
        }
        return self.store.add_snapshot(run.id, phase, objects.put_bytes(_canonical(manifest)))


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
    def out_of_order_reasons(self) -> list[str]:
        return list(self.manifest.get("out_of_order", []))

    @property
    def out_of_order(self) -> bool:
        """True when cells ran out of document order, or a cell that ran was edited afterwards."""
        return bool(self.manifest.get("out_of_order"))


def read_snapshot(store: Store, run_id: str) -> Snapshot:
    """The run's end (or exit) snapshot once it has ended, its start snapshot before that."""
    return Snapshot(store, store.latest_snapshot(run_id, ("start", "end", "exit")))
