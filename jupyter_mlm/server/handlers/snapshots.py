"""Snapshots: a run's manifest and notebook, its data check, and the live notebook the frontend posts."""

from __future__ import annotations

import json
import re
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ...capture.reproduce import check
from ...capture.snapshot import Snapshot, amend_with_live, notebook_id_of, read_snapshot, store_live_notebook
from ...errors import NotFound, PermissionDenied, UsageError
from .base import MLMHandler

KERNEL_ID = re.compile(r"^[A-Za-z0-9\-]{1,64}$")
RUN_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_DIFF_CHARS = 200_000
DEFAULT_MAX_NOTEBOOK_BYTES = 50 * 1000 * 1000


def snapshot_json(snapshot: Snapshot) -> dict[str, Any]:
    notebook = snapshot.manifest.get("notebook")
    return {
        "id": snapshot.row.id,
        "phase": snapshot.phase,
        "created_ms": snapshot.row.created_ms,
        "notebook": None if not notebook else {"path": notebook["path"], "source": notebook["source"]},
        "executions": [
            {k: e[k] for k in ("order", "cell_id", "start_ms", "duration_ms", "success", "in_run", "source")}
            for e in snapshot.executions
        ],
        "environment": snapshot.environment,
        "data": snapshot.data,
        "out_of_order": snapshot.out_of_order,
        "out_of_order_reasons": snapshot.out_of_order_reasons,
        "cwd": snapshot.manifest.get("cwd"),
        "sources": snapshot.sources,
        "repositories": [
            r | {"diff": None if r["diff"] is None else r["diff"][:MAX_DIFF_CHARS],
                 "truncated": r["diff"] is not None and len(r["diff"]) > MAX_DIFF_CHARS}
            for r in snapshot.repositories
        ],
    }  # fmt: skip


class SnapshotHandler(MLMHandler):
    @web.authenticated
    @authorized
    async def get(self, ref: str) -> None:
        def load() -> dict[str, Any]:
            record = self.store.resolve_run(ref)
            body = snapshot_json(read_snapshot(self.store, record.id))
            body["snapshots"] = [
                {"id": s.id, "phase": s.phase, "created_ms": s.created_ms} for s in self.store.list_snapshots(record.id)
            ]
            return body

        self.write_json(await self.call(load))


class SnapshotNotebookHandler(MLMHandler):
    @web.authenticated
    @authorized
    async def get(self, ref: str) -> None:
        def load() -> dict[str, Any]:
            record = self.store.resolve_run(ref)
            phases = ("live",) if record.status == "running" else ()
            rows = [s for s in self.store.list_snapshots(record.id) if s.phase in phases]
            # While a run is running, the frontend's latest live notebook is the freshest view.
            snapshot = Snapshot(self.store, rows[-1]) if rows else read_snapshot(self.store, record.id)
            if snapshot.notebook is None:
                raise NotFound(f"run {record.name!r} has no notebook in its snapshot")
            return dict(json.loads(json.dumps(snapshot.notebook)))

        self.write_json(await self.call(load))


class SourceFileHandler(MLMHandler):
    """GET …/snapshot/sources/{index}: one local source file of the run's snapshot, as text.
    Addressed by its place in the list, never by a path the client sends."""

    @web.authenticated
    @authorized
    async def get(self, ref: str, index: str) -> None:
        if not index.isascii() or not index.isdigit() or len(index) > 6:
            raise web.HTTPError(400, "the source file is addressed by its number in the snapshot's list")

        def load() -> dict[str, Any]:
            snapshot = read_snapshot(self.store, self.store.resolve_run(ref).id)
            sources = snapshot.sources
            if int(index) >= len(sources):
                raise NotFound(f"the snapshot has {len(sources)} source file(s); there is no number {index}")
            entry = sources[int(index)]
            return entry | {"text": snapshot.source_text(entry["path"])}

        self.write_json(await self.call(load))


class DataCheckHandler(MLMHandler):
    """Which of a run's data files changed since (badges in the Data tab). Packages are left out:
    the server's Python is not the kernel's, so comparing them here would mislead."""

    @web.authenticated
    @authorized
    async def get(self, ref: str) -> None:
        def load() -> dict[str, Any]:
            report = check(self.store, ref, packages={})
            return {"run_id": report.run_id, "data": report.data}

        self.write_json(await self.call(load))


class LiveNotebookHandler(MLMHandler):
    """POST the notebook as the user sees it (unsaved edits and outputs included), for a kernel
    of this server: ``{kernel_id, path, notebook}`` after cells run, and with ``run_id`` and
    ``phase`` when the kernel asked for it at a run's start or end."""

    def body_limit(self) -> int:
        return int(self.settings.get("mlm_max_notebook_bytes", DEFAULT_MAX_NOTEBOOK_BYTES))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        limit = self.body_limit()
        body = self.json_object(limit, "{kernel_id, path, notebook, run_id?, phase?}", " (c.MLM.max_notebook_bytes)")
        kernel_id, path, notebook = body.get("kernel_id"), body.get("path"), body.get("notebook")
        run_id, phase = body.get("run_id"), body.get("phase")
        if not isinstance(kernel_id, str) or not KERNEL_ID.match(kernel_id):
            raise web.HTTPError(400, "kernel_id must be a kernel id (letters, digits and dashes)")
        if not isinstance(path, str) or not 0 < len(path) <= 4096 or "\x00" in path:
            raise web.HTTPError(400, "path must be the notebook's path (at most 4096 characters)")
        if not isinstance(notebook, dict):
            raise web.HTTPError(400, "notebook must be an nbformat v4 notebook object")
        if run_id is not None and (not isinstance(run_id, str) or not RUN_ID.match(run_id)):
            raise web.HTTPError(400, "run_id must be a run id (32 hex digits)")
        if (run_id is None) != (phase is None) or (phase is not None and phase not in ("start", "end", "exit")):
            raise web.HTTPError(400, "run_id and phase (start, end or exit) go together")
        # Only this server's own kernels: another server sharing the store must not be able to
        # replace the notebook of a run it did not start.
        if kernel_id not in self.kernel_manager:
            raise web.HTTPError(403, "kernel %s is not running on this server", kernel_id)
        self.write_json(await self.call(self._store_live, kernel_id, path, notebook, run_id, phase))

    def _store_live(
        self, kernel_id: str, path: str, notebook: dict[str, Any], run_id: str | None, phase: str | None
    ) -> dict[str, Any]:
        import nbformat

        try:
            node = nbformat.from_dict(notebook)
            if node.get("nbformat") != 4:
                raise UsageError("only nbformat 4 notebooks are accepted")
            nbformat.validate(node)
        except nbformat.ValidationError as exc:
            message = str(exc.message if hasattr(exc, "message") else exc).splitlines()[0]
            raise UsageError(f"not a valid nbformat 4 notebook: {message}") from None
        server = self.settings["mlm_server_key"]
        path = path.strip("/")
        if notebook_id_of(notebook) is None:
            # The browser's model lacks the id the first save wrote into the file: it is the file's.
            known = self.store.notebook_at(server, path)
            if known is not None:
                notebook.setdefault("metadata", {}).setdefault("mlm", {})["notebook_id"] = known
        writer = self.settings["mlm_notebook_writer"]
        if run_id is None:
            return store_live_notebook(self.store, writer, kernel_id, server, path, notebook)
        run = self.store.get_run_record(run_id)
        if run.kernel_id != kernel_id:
            raise PermissionDenied(f"run {run.name!r} was not started by kernel {kernel_id}")
        row = amend_with_live(self.store, writer, run, phase or "end", path, notebook, server)
        return {"stored": True, "run_id": run.id, "snapshot_id": row.id, "phase": phase}
