"""Going back to a run: restore its notebook, check what changed since, re-execute it.

``reproduce`` runs the restored notebook with nbclient in the run's original folder when it
still exists (data paths in notebooks are usually relative), with ``MLM_REPRODUCES`` set so the
runs it starts are tagged ``reproduces=<original id>``; then it compares their metrics.
"""

from __future__ import annotations

import html
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..entities import RunData
from ..errors import NotFound, UsageError
from ..store import Store
from .environment import installed_packages
from .hashing import FileStat, HashCache, folder_digest
from .snapshot import read_snapshot


def restore(
    store: Store, run_ref: str, output: str | os.PathLike[str], overwrite: bool = False,
    report: list[str] | None = None,
) -> Path:  # fmt: skip
    """Write the notebook of a run's snapshot to ``output``, and the local source files it
    imported beside it, at the same places relative to the notebook as when it ran.

    A source file that exists with other content is left alone unless ``overwrite``; files that
    lived outside the notebook's folder are not written. ``report`` receives one line per file.

    Raises:
        NotFound: the run has no notebook in its snapshot. UsageError: ``output`` exists.
    """
    record = store.resolve_run(run_ref)
    snapshot = read_snapshot(store, record.id)
    notebook = snapshot.notebook
    if notebook is None:
        raise NotFound(f"run {record.name!r} has no notebook in its snapshot (it ran outside a notebook)")
    target = Path(output)
    if target.exists() and not overwrite:
        raise UsageError(f"{os.fspath(output)!r} already exists; choose another path or pass overwrite")
    import nbformat

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.mlm-tmp")
    nbformat.write(notebook, tmp)
    os.replace(tmp, target)
    lines = report if report is not None else []
    lines.append(f"wrote {target}")
    _restore_sources(store, snapshot, record.notebook_path, target.parent, overwrite, lines)
    return target


def _restore_sources(
    store: Store, snapshot: Any, notebook_path: str | None, into: Path, overwrite: bool, report: list[str]
) -> None:
    if not snapshot.sources:
        return
    if notebook_path and os.path.isabs(notebook_path):
        base: Path | None = Path(notebook_path).resolve().parent
    else:
        cwd = snapshot.manifest.get("cwd")
        base = Path(cwd).resolve() if cwd else None
    for entry in snapshot.sources:
        source = Path(entry["path"])
        try:
            relative = source.relative_to(base) if base is not None else None
        except ValueError:
            relative = None
        if relative is None or ".." in relative.parts:
            report.append(f"skipped {source}: outside the notebook's folder")
            continue
        destination = into / relative
        data = store.objects.get(entry["digest"])
        if destination.exists():
            if destination.read_bytes() == data:
                continue
            if not overwrite:
                report.append(f"kept {destination}: it differs from the run's version (pass overwrite to replace)")
                continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        tmp = destination.with_name(f".{destination.name}.mlm-tmp")
        tmp.write_bytes(data)
        os.replace(tmp, destination)
        report.append(f"wrote {destination}")


@dataclass(repr=False)
class CheckReport:
    """What differs between a run's snapshot and the machine now."""

    run_id: str
    run_name: str
    data: list[dict[str, Any]] = field(default_factory=list)
    packages: list[dict[str, Any]] = field(default_factory=list)
    python: dict[str, str] | None = None

    @property
    def differs(self) -> bool:
        return any(d["status"] != "unchanged" for d in self.data) or bool(self.packages) or self.python is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "run_name": self.run_name, "differs": self.differs,
            "data": self.data, "packages": self.packages, "python": self.python,
        }  # fmt: skip

    def lines(self) -> list[str]:
        out = [f"run {self.run_name} ({self.run_id[:8]})"]
        changed = [d for d in self.data if d["status"] != "unchanged"]
        out.append(f"data: {len(self.data)} recorded, {len(changed)} differ")
        out += [f"  {d['status']:<9} {d['path']}" for d in changed]
        if self.python:
            out.append(f"python: {self.python['old']} → {self.python['new']}")
        out.append(f"packages: {len(self.packages)} differ")
        out += [f"  {p['name']}: {p['old'] or '(absent)'} → {p['new'] or '(absent)'}" for p in self.packages]
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape("\n".join(self.lines())) + "</pre>"


def check(store: Store, run_ref: str, packages: dict[str, str] | None = None) -> CheckReport:
    """Compare a run's recorded data and packages with what is on this machine now."""
    import platform

    record = store.resolve_run(run_ref)
    snapshot = read_snapshot(store, record.id)
    cache = HashCache(
        lookup=lambda stats: store.lookup_file_hashes([(s.path, *s.key()) for s in stats]),
        remember=lambda entries: store.remember_file_hashes([(s.path, *s.key(), d) for s, d in entries]),
    )
    report = CheckReport(record.id, record.name)
    for entry in snapshot.data:
        path = entry["path"]
        status, now = "missing", None
        if entry["kind"] == "folder" and os.path.isdir(path):
            now = folder_digest(path, cache)[0]
        elif entry["kind"] == "file" and os.path.isfile(path):
            now = cache.digests([FileStat.of(path)])[path]
        if now is not None:
            status = "unchanged" if now == entry["digest"] else "changed"
        report.data.append({"path": path, "kind": entry["kind"], "status": status, "old": entry["digest"], "new": now})
    recorded = snapshot.environment.get("packages", {})
    current = packages if packages is not None else installed_packages()
    for name in sorted(set(recorded) | set(current)):
        if recorded.get(name) != current.get(name):
            report.packages.append({"name": name, "old": recorded.get(name), "new": current.get(name)})
    old_python = snapshot.environment.get("python", {}).get("version")
    if old_python and old_python != platform.python_version():
        report.python = {"old": old_python, "new": platform.python_version()}
    return report


@dataclass
class Reproduction:
    original: RunData
    runs: list[RunData]
    metrics: list[dict[str, Any]]
    output: Path

    @property
    def run(self) -> RunData | None:
        return self.runs[0] if self.runs else None

    def lines(self) -> list[str]:
        if not self.runs:
            return [f"the notebook ran ({self.output}) but started no run tagged reproduces={self.original.info.id}"]
        out = [f"reproduced run {self.original.info.name} ({self.original.info.id[:8]}) as {self.runs[0].info.id[:8]}"]
        out.append(f"{'metric':<24} {'original':>14} {'reproduced':>14} {'delta':>12}")
        for row in self.metrics:
            out.append(
                f"{row['key']:<24} {_fmt(row['original']):>14} {_fmt(row['reproduced']):>14} {_fmt(row['delta']):>12}"
            )
        return out

    def __repr__(self) -> str:
        # The dataclass's own repr dumps every record: a notebook shows the comparison instead.
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape("\n".join(self.lines())) + "</pre>"


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


def provenance(store: Store, run_id: str) -> dict[str, Any]:
    """What ``reproduce`` would execute: the snapshot's notebook digest, who ran the run, and
    whether the kernel captured the notebook itself or a frontend sent it (through a server)."""
    from .snapshot import read_snapshot

    record = store.get_run_record(run_id)
    part = read_snapshot(store, run_id).manifest.get("notebook") or {}
    source = part.get("source")
    return {
        "run": record.id, "digest": part.get("manifest"), "source": source, "author": record.user,
        "host": record.host, "captured_by": "the kernel" if source == "disk" else "the notebook's frontend",
    }  # fmt: skip


def provenance_line(info: dict[str, Any]) -> str:
    digest = (info["digest"] or "")[:16]
    return (f"executing notebook {digest} of run {info['run'][:8]} by {info['author']}@{info['host']}, "
            f"captured by {info['captured_by']} ({info['source']})")  # fmt: skip


def reproduce(
    store: Store, run_ref: str, timeout: int = 600, kernel_name: str = "python3",
    announce: Callable[[str], None] | None = print,
) -> Reproduction:  # fmt: skip
    """Re-execute a run's notebook in a fresh kernel and compare the new run's metrics with the original's.

    Before anything runs, ``announce`` is told what will be executed: the notebook's digest, who
    ran the original and whether the kernel captured it itself or a frontend sent it — code
    that will now run with your rights.
    """
    from nbclient import NotebookClient

    record = store.resolve_run(run_ref)
    original = store.get_run(record.id)
    if announce is not None:
        announce(provenance_line(provenance(store, record.id)))
    folder = (
        Path(record.notebook_path).parent
        if record.notebook_path and Path(record.notebook_path).parent.is_dir()
        else None
    )
    workdir = folder or Path(tempfile.mkdtemp(prefix="mlm-reproduce-"))
    name = Path(record.notebook_path).stem if record.notebook_path else record.name
    output = workdir / f"{name}.reproduce-{record.id[:8]}.ipynb"
    restore(store, record.id, output, overwrite=True)
    import nbformat

    notebook = nbformat.read(output, as_version=4)
    started = int(time.time() * 1000)
    saved = {k: os.environ.get(k) for k in ("MLM_STORE_URI", "MLM_OBJECTS_URI", "MLM_REPRODUCES", "JPY_SESSION_NAME")}
    os.environ.update({
        "MLM_STORE_URI": store.location.db_url, "MLM_OBJECTS_URI": store.objects.uri,
        "MLM_REPRODUCES": record.id, "JPY_SESSION_NAME": str(output),
    })  # fmt: skip
    try:
        NotebookClient(
            notebook, timeout=timeout, kernel_name=kernel_name, resources={"metadata": {"path": str(workdir)}}
        ).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        nbformat.write(notebook, output)
    runs, _ = store.search_runs(filter=f"tags.reproduces = '{record.id}'", order_by="start")
    runs = [r for r in runs if r.info.start_ms >= started]
    same_name = [r for r in runs if r.info.name == record.name]
    ordered = same_name + [r for r in runs if r not in same_name]
    metrics = []
    if ordered:
        new = ordered[0].metrics
        for key in sorted(set(original.metrics) | set(new)):
            old_value = original.metrics[key].value if key in original.metrics else None
            new_value = new[key].value if key in new else None
            delta = (
                new_value - old_value
                if old_value is not None
                and new_value is not None
                and math.isfinite(old_value)
                and math.isfinite(new_value)
                else None
            )
            metrics.append({"key": key, "original": old_value, "reproduced": new_value, "delta": delta})
    return Reproduction(original, ordered, metrics, output)


__all__ = ["CheckReport", "Reproduction", "check", "provenance", "provenance_line", "reproduce", "restore"]
