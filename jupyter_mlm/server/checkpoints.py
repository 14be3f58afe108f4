"""Unlimited Jupyter checkpoints, kept deduplicated in the jupyter_mlm store.

"Save and Create Checkpoint" keeps every version (JupyterLab's default keeps one); notebooks are
stored per cell like run snapshots, so a checkpoint costs about the cells that changed. Retention
is configurable: ``c.MLMCheckpoints.max_count`` and ``c.MLMCheckpoints.max_age_days`` (0 = keep all).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from datetime import datetime, timezone
from typing import Any

from jupyter_server.services.contents.checkpoints import (
    AsyncCheckpoints,
    AsyncGenericCheckpointsMixin,
    Checkpoints,
    GenericCheckpointsMixin,
)
from tornado.ioloop import IOLoop
from tornado.web import HTTPError
from traitlets import Float, Int

from ..capture.notebook import NotebookWriter, load_notebook
from ..capture.snapshot import notebook_id_of
from ..config import MLM
from ..errors import NotFound
from ..store import Store, open_store
from ..store.snapshots import CheckpointRow
from .notebooks import server_key


def _model(row: CheckpointRow) -> dict[str, Any]:
    return {"id": row.id, "last_modified": datetime.fromtimestamp(row.created_ms / 1000, tz=timezone.utc)}


class MLMCheckpoints(GenericCheckpointsMixin, Checkpoints):  # type: ignore[misc]
    max_count = Int(0, help="Keep at most this many checkpoints per file, newest first (0: no limit).").tag(config=True)
    max_age_days = Float(0.0, help="Drop checkpoints older than this many days (0: no limit).").tag(config=True)

    _store: Store | None = None
    _writer: NotebookWriter | None = None
    _server = ""
    _lock = threading.Lock()

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                settings = MLM(parent=self)
                root = getattr(self.parent, "root_dir", None)
                self._store = open_store(settings.store_uri or None, settings.objects_uri or None, cwd=root)
                self._writer = NotebookWriter(self._store.objects)
                # Paths are relative to this server's root: another server's "a.ipynb" is another file.
                self._server = server_key(root or os.getcwd())
            return self._store

    @property
    def server(self) -> str:
        _ = self.store
        return self._server

    @property
    def writer(self) -> NotebookWriter:
        _ = self.store
        assert self._writer is not None
        return self._writer

    # -- the work, shared by the sync and async faces ------------------------------------------
    def _create_notebook(self, nb: Any, path: str) -> dict[str, Any]:
        path = path.strip("/")
        content = json.loads(json.dumps(nb))
        digest = self.writer.store(content, f"checkpoint:{path}")
        row = self.store.add_checkpoint(
            path, "notebook", digest, len(json.dumps(content)), self._server, notebook_id_of(content)
        )
        self._retain(path)
        return _model(row)

    def _create_file(self, content: str, format: str, path: str) -> dict[str, Any]:
        path = path.strip("/")
        data = base64.b64decode(content) if format == "base64" else content.encode("utf-8")
        digest = self.store.objects.put_bytes(data)
        row = self.store.add_checkpoint(path, "file", digest, len(data), self._server)
        self._retain(path)
        return _model(row)

    def _row(self, checkpoint_id: str, path: str) -> CheckpointRow:
        try:
            return self.store.get_checkpoint(path.strip("/"), checkpoint_id, self.server)
        except NotFound as exc:
            raise HTTPError(404, str(exc)) from None

    def _get_notebook(self, checkpoint_id: str, path: str) -> dict[str, Any]:
        import nbformat

        row = self._row(checkpoint_id, path)
        content = nbformat.reads(json.dumps(load_notebook(self.store.objects, row.digest)), as_version=4)
        return {"type": "notebook", "content": content}

    def _get_file(self, checkpoint_id: str, path: str) -> dict[str, Any]:
        row = self._row(checkpoint_id, path)
        data = self.store.objects.get(row.digest)
        try:
            return {"type": "file", "content": data.decode("utf-8"), "format": "text"}
        except UnicodeDecodeError:
            return {"type": "file", "content": base64.b64encode(data).decode("ascii"), "format": "base64"}

    def _list(self, path: str) -> list[dict[str, Any]]:
        return [_model(row) for row in self.store.list_checkpoints(path.strip("/"), self.server)]

    def _delete(self, checkpoint_id: str, path: str) -> None:
        if not self.store.delete_checkpoints(path.strip("/"), [checkpoint_id], self.server):
            raise HTTPError(404, f"no checkpoint {checkpoint_id!r} for {path!r}")

    def _rename(self, checkpoint_id: str, old_path: str, new_path: str) -> None:
        self.store.rename_checkpoints(old_path.strip("/"), new_path.strip("/"), self.server)

    def _retain(self, path: str) -> None:
        rows = self.store.list_checkpoints(path, self.server)
        drop = []
        if self.max_age_days > 0:
            cutoff = (time.time() - self.max_age_days * 86400) * 1000
            drop += [r.id for r in rows[:-1] if r.created_ms < cutoff]  # never drop the newest
        if self.max_count > 0 and len(rows) > self.max_count:
            drop += [r.id for r in rows[: len(rows) - self.max_count]]
        if drop:
            self.store.delete_checkpoints(path, sorted(set(drop)), self.server)

    # -- sync face -------------------------------------------------------------------------------
    def create_notebook_checkpoint(self, nb: Any, path: str) -> dict[str, Any]:
        return self._create_notebook(nb, path)

    def create_file_checkpoint(self, content: str, format: str, path: str) -> dict[str, Any]:
        return self._create_file(content, format, path)

    def get_notebook_checkpoint(self, checkpoint_id: str, path: str) -> dict[str, Any]:
        return self._get_notebook(checkpoint_id, path)

    def get_file_checkpoint(self, checkpoint_id: str, path: str) -> dict[str, Any]:
        return self._get_file(checkpoint_id, path)

    def list_checkpoints(self, path: str) -> list[dict[str, Any]]:
        return self._list(path)

    def delete_checkpoint(self, checkpoint_id: str, path: str) -> None:
        self._delete(checkpoint_id, path)

    def rename_checkpoint(self, checkpoint_id: str, old_path: str, new_path: str) -> None:
        self._rename(checkpoint_id, old_path, new_path)


async def _off_loop(func: Any, *args: Any) -> Any:
    return await IOLoop.current().run_in_executor(None, func, *args)


class AsyncMLMCheckpoints(AsyncGenericCheckpointsMixin, AsyncCheckpoints, MLMCheckpoints):  # type: ignore[misc]
    """The same checkpoints for jupyter_server's (default) async contents managers."""

    async def create_notebook_checkpoint(self, nb: Any, path: str) -> dict[str, Any]:  # type: ignore[override]
        return await _off_loop(self._create_notebook, nb, path)  # type: ignore[no-any-return]

    async def create_file_checkpoint(self, content: str, format: str, path: str) -> dict[str, Any]:  # type: ignore[override]
        return await _off_loop(self._create_file, content, format, path)  # type: ignore[no-any-return]

    async def get_notebook_checkpoint(self, checkpoint_id: str, path: str) -> dict[str, Any]:  # type: ignore[override]
        return await _off_loop(self._get_notebook, checkpoint_id, path)  # type: ignore[no-any-return]

    async def get_file_checkpoint(self, checkpoint_id: str, path: str) -> dict[str, Any]:  # type: ignore[override]
        return await _off_loop(self._get_file, checkpoint_id, path)  # type: ignore[no-any-return]

    async def list_checkpoints(self, path: str) -> list[dict[str, Any]]:  # type: ignore[override]
        return await _off_loop(self._list, path)  # type: ignore[no-any-return]

    async def delete_checkpoint(self, checkpoint_id: str, path: str) -> None:  # type: ignore[override]
        await _off_loop(self._delete, checkpoint_id, path)

    async def rename_checkpoint(self, checkpoint_id: str, old_path: str, new_path: str) -> None:  # type: ignore[override]
        await _off_loop(self._rename, checkpoint_id, old_path, new_path)
