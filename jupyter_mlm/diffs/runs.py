"""Computing a RunDiff: everything that differs between two runs and could explain a change in
results. Read from the store without loading whole notebooks: the notebook section compares the
snapshots' cell digests and loads only cells that differ (see ``stored``)."""

from __future__ import annotations

import json
from typing import Any

from ..entities import RunData
from ..errors import NotFound, UsageError
from ..store import Store
from .model import RunDiffData, finite
from .stored import diff_checkpoints, notebook_diff, steady_notebook
from .volatile import steady_cell

DIRECTION_TAG = "mlm.direction."
__all__ = ["DIRECTION_TAG", "RunDiff", "diff_checkpoints", "diff_runs", "steady_cell", "steady_notebook"]


def _keyed(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        "added": {k: b[k] for k in sorted(set(b) - set(a))},
        "removed": {k: a[k] for k in sorted(set(a) - set(b))},
        "changed": {k: [a[k], b[k]] for k in sorted(set(a) & set(b)) if a[k] != b[k]},
    }


def direction_of(key: str, *runs: RunData) -> str | None:
    for run in runs:
        direction = run.tags.get(DIRECTION_TAG + key)
        if direction in ("min", "max"):
            return direction
    return None


class RunDiff(RunDiffData):
    """Sections: ``params``, ``metrics``, ``tags``, ``environment``, ``data``, ``executions``,
    ``sources``, ``notebook``. Prints as a terminal report, renders as HTML in a notebook."""

    def lines(self, color: bool = False) -> list[str]:
        from .terminal import run_diff_lines

        return run_diff_lines(self, color)

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        from .render import run_diff_html

        return run_diff_html(self)


def _metric_rows(a: RunData, b: RunData) -> list[dict[str, Any]]:
    rows = []
    for key in sorted(set(a.metrics) | set(b.metrics)):
        va = a.metrics[key].value if key in a.metrics else None
        vb = b.metrics[key].value if key in b.metrics else None
        delta = relative = None
        if finite(va) is not None and finite(vb) is not None:
            assert va is not None and vb is not None
            delta = vb - va
            relative = delta / abs(va) if va else None
        direction = direction_of(key, b, a)
        verdict = None
        if delta is not None and direction is not None:
            verdict = "same" if delta == 0 else ("better" if (delta < 0) == (direction == "min") else "worse")
        rows.append(
            {
                "key": key,
                "a": va,
                "b": vb,
                "delta": delta,
                "relative": relative,
                "direction": direction,
                "verdict": verdict,
            }
        )
    return rows


def _environment(env_a: dict[str, Any], env_b: dict[str, Any]) -> dict[str, Any]:
    def pick(env: dict[str, Any], *path: str) -> Any:
        for key in path:
            env = env.get(key) or {}
        return env or None

    out: dict[str, Any] = {
        "python": None,
        "platform": None,
        "packages": _keyed(env_a.get("packages", {}), env_b.get("packages", {})),
    }
    for key, path in (("python", ("python", "version")), ("platform", ("platform", "platform"))):
        old, new = pick(env_a, *path), pick(env_b, *path)
        if old != new:
            out[key] = [old, new]
    return out


def _data(data_a: list[dict[str, Any]], data_b: list[dict[str, Any]]) -> dict[str, Any]:
    a = {d["path"]: d["digest"] for d in data_a}
    b = {d["path"]: d["digest"] for d in data_b}
    return {
        "added": sorted(set(b) - set(a)),
        "removed": sorted(set(a) - set(b)),
        "changed": [{"path": p, "old": a[p], "new": b[p]} for p in sorted(set(a) & set(b)) if a[p] != b[p]],
    }


def _executions(ex_a: list[dict[str, Any]], ex_b: list[dict[str, Any]], sources: dict[str, str]) -> dict[str, Any]:
    def order(entries: list[dict[str, Any]]) -> list[str]:
        seen: dict[str, None] = {}
        for entry in entries:
            if entry.get("in_run"):
                seen.setdefault(entry["source_digest"], None)
        return list(seen)

    a, b = order(ex_a), order(ex_b)
    common = set(a) & set(b)

    def first_line(digest: str) -> str:
        text = sources.get(digest, "").strip().splitlines()
        return (text[0][:80] if text else "(empty cell)") + (" …" if len(text) > 1 else "")

    return {
        "only_a": [first_line(d) for d in a if d not in common],
        "only_b": [first_line(d) for d in b if d not in common],
        "order_changed": [d for d in a if d in common] != [d for d in b if d in common],
    }


def _sources(store: Store, files_a: list[dict[str, Any]], files_b: list[dict[str, Any]]) -> dict[str, Any]:
    """Local source files added, removed, and changed (with a unified diff of each)."""
    import difflib

    a = {f["path"]: f["digest"] for f in files_a}
    b = {f["path"]: f["digest"] for f in files_b}
    changed = []
    for path in sorted(set(a) & set(b)):
        if a[path] == b[path]:
            continue
        old = store.objects.get(a[path]).decode("utf-8", errors="replace").splitlines()
        new = store.objects.get(b[path]).decode("utf-8", errors="replace").splitlines()
        # git's a/ b/ prefixes, without doubling the slash of an absolute path
        shown = path.lstrip("/")
        unified = list(difflib.unified_diff(old, new, fromfile=f"a/{shown}", tofile=f"b/{shown}", lineterm=""))
        changed.append({"path": path, "old": a[path], "new": b[path], "unified": unified})
    return {"added": sorted(set(b) - set(a)), "removed": sorted(set(a) - set(b)), "changed": changed}


def diff_runs(store: Store, ref_a: str, ref_b: str, strict: bool = False) -> RunDiff:
    """Compare two runs (ids, id prefixes or names); ``strict`` keeps volatile notebook fields
    (execution counts, timings, …; see ``volatile``) that are ignored by default."""
    from ..capture.snapshot import read_snapshot

    record_a, record_b = store.resolve_run(ref_a), store.resolve_run(ref_b)
    if record_a.id == record_b.id:
        raise UsageError(f"{ref_a!r} and {ref_b!r} are the same run; name two different runs")
    a, b = store.get_run(record_a.id), store.get_run(record_b.id)
    result = RunDiff(
        a, b, params=_keyed(a.params, b.params), metrics=_metric_rows(a, b), tags=_keyed(a.tags, b.tags),
        strict=strict,
    )  # fmt: skip
    try:
        snap_a, snap_b = read_snapshot(store, a.info.id), read_snapshot(store, b.info.id)
    except NotFound:
        return result
    result.environment = _environment(snap_a.environment, snap_b.environment)
    result.data = _data(snap_a.data, snap_b.data)
    raw_a = json.loads(store.objects.get(snap_a.manifest["executions"])) if snap_a.manifest.get("executions") else []
    raw_b = json.loads(store.objects.get(snap_b.manifest["executions"])) if snap_b.manifest.get("executions") else []
    wanted = {e["source_digest"] for e in raw_a + raw_b if e.get("in_run")}
    sources = {d: store.objects.get(d).decode() for d in wanted}
    result.executions = _executions(raw_a, raw_b, sources)
    result.sources = _sources(store, snap_a.sources, snap_b.sources)
    nb_a, nb_b = snap_a.manifest.get("notebook"), snap_b.manifest.get("notebook")
    if nb_a and nb_b:
        result.notebook = notebook_diff(store, nb_a["manifest"], nb_b["manifest"], strict)
    return result
