"""Snapshot rows, the file-hash cache and Jupyter checkpoints. Their content lives in the object store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, select

from ..errors import NotFound
from . import tables as t
from .base import new_id, now_ms
from .metrics import MetricsMixin

PHASES = ("start", "live", "end", "exit")


@dataclass(frozen=True)
class SnapshotRow:
    id: str
    run_id: str
    phase: str
    created_ms: int
    manifest_digest: str


@dataclass(frozen=True)
class CheckpointRow:
    id: str
    path: str
    kind: str
    digest: str
    size: int
    created_ms: int
    server: str | None = None
    notebook_id: str | None = None


@dataclass(frozen=True)
class LiveNotebook:
    """The newest notebook a kernel's frontend sent: as the user saw it, saved or not."""

    kernel_id: str
    server: str
    path: str
    notebook_id: str | None
    manifest_digest: str
    updated_ms: int


class SnapshotsMixin(MetricsMixin):
    # -- snapshots ---------------------------------------------------------------------------
    def add_snapshot(self, run_id: str, phase: str, manifest_digest: str) -> SnapshotRow:
        """Record a snapshot of a run. A ``live`` snapshot replaces the run's previous live one."""
        if phase not in PHASES:
            raise ValueError(f"unknown snapshot phase {phase!r}")
        with self._write() as conn:
            self._run_row(conn, run_id)
            # Later snapshots must sort later even within one millisecond (ids are random).
            newest = conn.execute(
                select(t.snapshots.c.created_ms).where(t.snapshots.c.run_id == run_id)
                .order_by(t.snapshots.c.created_ms.desc()).limit(1)
            ).scalar()  # fmt: skip
            row = SnapshotRow(new_id(), run_id, phase, max(now_ms(), (newest or 0) + 1), manifest_digest)
            if phase == "live":
                conn.execute(delete(t.snapshots).where(t.snapshots.c.run_id == run_id, t.snapshots.c.phase == "live"))
            conn.execute(t.snapshots.insert().values(**row.__dict__))
        return row

    def list_snapshots(self, run_id: str) -> list[SnapshotRow]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.snapshots)
                .where(t.snapshots.c.run_id == run_id)
                .order_by(t.snapshots.c.created_ms, t.snapshots.c.id)
            ).all()
        return [SnapshotRow(**r._mapping) for r in rows]

    def latest_snapshot(self, run_id: str, phases: Sequence[str] = PHASES) -> SnapshotRow:
        """The newest snapshot of the run among ``phases``; end/exit outrank live and start on ties."""
        rank = {"exit": 3, "end": 3, "live": 2, "start": 1}
        rows = [s for s in self.list_snapshots(run_id) if s.phase in phases]
        if not rows:
            raise NotFound(f"run {run_id[:8]} has no snapshot yet")
        return max(rows, key=lambda s: (rank[s.phase] >= 3, s.created_ms, rank[s.phase]))

    def running_run_of_kernel(self, kernel_id: str) -> str | None:
        """The id of the newest running run started by ``kernel_id``, if any."""
        with self._read() as conn:
            return conn.execute(
                select(t.runs.c.id)
                .where(t.runs.c.kernel_id == kernel_id, t.runs.c.status == "running")
                .order_by(t.runs.c.start_ms.desc())
                .limit(1)
            ).scalar()

    # -- live notebooks and notebook ids -------------------------------------------------------
    def put_live_notebook(
        self, kernel_id: str, server: str, path: str, notebook_id: str | None, manifest_digest: str
    ) -> LiveNotebook:
        row = LiveNotebook(kernel_id, server, path, notebook_id, manifest_digest, now_ms())
        with self._write() as conn:
            self._upsert(conn, t.live_notebooks, [row.__dict__], ["kernel_id"],
                         ["server", "path", "notebook_id", "manifest_digest", "updated_ms"])  # fmt: skip
        return row

    def live_notebook(self, kernel_id: str) -> LiveNotebook | None:
        with self._read() as conn:
            row = conn.execute(select(t.live_notebooks).where(t.live_notebooks.c.kernel_id == kernel_id)).first()
        return LiveNotebook(**row._mapping) if row else None

    def forget_live_notebook(self, kernel_id: str) -> None:
        with self._write() as conn:
            conn.execute(delete(t.live_notebooks).where(t.live_notebooks.c.kernel_id == kernel_id))

    def notebook_location(self, notebook_id: str) -> tuple[str, str] | None:
        """(server, path) where the notebook with this id was last seen."""
        with self._read() as conn:
            row = conn.execute(
                select(t.notebooks.c.server, t.notebooks.c.path).where(t.notebooks.c.id == notebook_id)
            ).first()
        return (row.server, row.path) if row else None

    def notebook_at(self, server: str, path: str) -> str | None:
        with self._read() as conn:
            return conn.execute(
                select(t.notebooks.c.id).where(t.notebooks.c.server == server, t.notebooks.c.path == path)
                .order_by(t.notebooks.c.updated_ms.desc()).limit(1)
            ).scalar()  # fmt: skip

    def place_notebook(self, notebook_id: str, server: str, path: str) -> None:
        """Remember that the notebook ``notebook_id`` is now at ``path`` under ``server``."""
        stamp = now_ms()
        with self._write() as conn:
            self._upsert(conn, t.notebooks, [{"id": notebook_id, "server": server, "path": path,
                                              "created_ms": stamp, "updated_ms": stamp}],
                         ["id"], ["server", "path", "updated_ms"])  # fmt: skip

    def set_run_notebook_id(self, run_id: str, notebook_id: str) -> None:
        with self._write() as conn:
            conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(notebook_id=notebook_id))

    # -- file-hash cache ---------------------------------------------------------------------
    def lookup_file_hashes(self, stats: Sequence[tuple[str, int, int, int, int]]) -> dict[str, str]:
        """Cached digests for (path, device, inode, size, mtime_ns) that match exactly."""
        found: dict[str, str] = {}
        with self._read() as conn:
            for start in range(0, len(stats), 500):
                chunk = stats[start : start + 500]
                rows = conn.execute(select(t.file_hashes).where(t.file_hashes.c.path.in_([s[0] for s in chunk]))).all()
                wanted = {s[0]: s[1:] for s in chunk}
                for row in rows:
                    if wanted.get(row.path) == (row.device, row.inode, row.size, row.mtime_ns):
                        found[row.path] = row.digest
        return found

    def remember_file_hashes(self, entries: Sequence[tuple[str, int, int, int, int, str]]) -> None:
        rows = [
            {"path": p, "device": d, "inode": i, "size": s, "mtime_ns": m, "digest": g, "checked_ms": now_ms()}
            for p, d, i, s, m, g in entries
        ]
        with self._write() as conn:
            self._upsert(
                conn, t.file_hashes, rows, ["path"], ["device", "inode", "size", "mtime_ns", "digest", "checked_ms"]
            )

    # -- checkpoints -------------------------------------------------------------------------
    # A path means something only under one server's root: every query names the server, and
    # checkpoints written before migration 0005 (no server) are adopted by the first server
    # that opens that path's checkpoints.
    def add_checkpoint(
        self, path: str, kind: str, digest: str, size: int, server: str | None = None, notebook_id: str | None = None
    ) -> CheckpointRow:
        row = CheckpointRow(new_id(), path, kind, digest, size, now_ms(), server, notebook_id)
        with self._write() as conn:
            conn.execute(t.checkpoints.insert().values(**row.__dict__))
        return row

    def _checkpoint_scope(self, path: str, server: str | None) -> Any:
        c = t.checkpoints.c
        return and_(c.path == path, c.server.is_(None) if server is None else c.server == server)

    def list_checkpoints(self, path: str, server: str | None = None) -> list[CheckpointRow]:
        c = t.checkpoints.c
        if server is not None:
            with self._write() as conn:
                conn.execute(t.checkpoints.update().where(c.path == path, c.server.is_(None)).values(server=server))
        with self._read() as conn:
            rows = conn.execute(
                select(t.checkpoints).where(self._checkpoint_scope(path, server)).order_by(c.created_ms, c.id)
            ).all()
        return [CheckpointRow(**r._mapping) for r in rows]

    def get_checkpoint(self, path: str, checkpoint_id: str, server: str | None = None) -> CheckpointRow:
        with self._read() as conn:
            row = conn.execute(
                select(t.checkpoints).where(self._checkpoint_scope(path, server), t.checkpoints.c.id == checkpoint_id)
            ).first()
        if row is None:
            raise NotFound(f"no checkpoint {checkpoint_id!r} for {path!r}")
        return CheckpointRow(**row._mapping)

    def delete_checkpoints(self, path: str, ids: Sequence[str] | None = None, server: str | None = None) -> int:
        """Forget checkpoints of ``path`` (all, or those in ``ids``); blobs stay (they may be shared)."""
        condition = self._checkpoint_scope(path, server)
        if ids is not None:
            condition = and_(condition, t.checkpoints.c.id.in_(list(ids)))
        with self._write() as conn:
            return int(conn.execute(delete(t.checkpoints).where(condition)).rowcount)

    def rename_checkpoints(self, old_path: str, new_path: str, server: str | None = None) -> None:
        with self._write() as conn:
            conn.execute(t.checkpoints.update().where(self._checkpoint_scope(old_path, server)).values(path=new_path))
            if server is not None:
                conn.execute(
                    t.notebooks.update().where(t.notebooks.c.server == server, t.notebooks.c.path == old_path)
                    .values(path=new_path, updated_ms=now_ms())
                )  # fmt: skip


__all__ = ["PHASES", "CheckpointRow", "LiveNotebook", "SnapshotRow", "SnapshotsMixin"]
