"""RunDiff: everything that differs between two runs and could explain a change in results.

Computed from the store without loading whole notebooks: the notebook section compares the
snapshots' cell digests and loads only cells that differ (see ``diff.notebooks``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..entities import RunData
from ..errors import NotFound, UsageError
from ..store import Store
from .notebooks import Diff, aligned_cells_diff, cell_key, header_diff, joined, summarize

DIRECTION_TAG = "mlm.direction."


def _keyed(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        "added": {k: b[k] for k in sorted(set(b) - set(a))},
        "removed": {k: a[k] for k in sorted(set(a) - set(b))},
        "changed": {k: [a[k], b[k]] for k in sorted(set(a) & set(b)) if a[k] != b[k]},
    }


def _empty(section: dict[str, Any]) -> bool:
    return not any(section.values())


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def direction_of(key: str, *runs: RunData) -> str | None:
    for run in runs:
        direction = run.tags.get(DIRECTION_TAG + key)
        if direction in ("min", "max"):
            return direction
    return None


@dataclass(repr=False)
class RunDiff:
    """Sections: ``params``, ``metrics``, ``tags``, ``environment``, ``data``, ``executions``, ``notebook``."""

    a: RunData
    b: RunData
    params: dict[str, Any] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    executions: dict[str, Any] = field(default_factory=dict)
    notebook: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (non-finite numbers become None)."""

        def run(data: RunData) -> dict[str, Any]:
            info = data.info
            return {
                "id": info.id,
                "name": info.name,
                "experiment": info.experiment,
                "status": info.status,
                "start_ms": info.start_ms,
                "end_ms": info.end_ms,
            }

        metrics = [{k: (_finite(v) if isinstance(v, float) else v) for k, v in row.items()} for row in self.metrics]
        return {
            "a": run(self.a),
            "b": run(self.b),
            "params": self.params,
            "metrics": metrics,
            "tags": self.tags,
            "environment": self.environment,
            "data": self.data,
            "executions": self.executions,
            "notebook": self.notebook,
        }

    @property
    def changed_metrics(self) -> list[dict[str, Any]]:
        return [m for m in self.metrics if m["a"] != m["b"] and not (m["a"] is None and m["b"] is None)]

    def sections(self) -> list[tuple[str, bool]]:
        """(section name, has differences), in display order."""
        notebook_changed = bool(self.notebook and self.notebook["diff"])
        return [
            ("params", not _empty(self.params)),
            ("metrics", bool(self.changed_metrics)),
            ("tags", not _empty(self.tags)),
            (
                "environment",
                bool(
                    self.environment.get("python")
                    or self.environment.get("platform")
                    or not _empty(self.environment.get("packages", {}))
                ),
            ),
            ("data", not _empty(self.data)),
            (
                "executions",
                bool(
                    self.executions.get("only_a")
                    or self.executions.get("only_b")
                    or self.executions.get("order_changed")
                ),
            ),
            ("notebook", notebook_changed),
        ]

    # -- rendering --------------------------------------------------------------------------------
    def lines(self, color: bool = False) -> list[str]:
        """A terminal report; ANSI colours when ``color``."""
        red, green, yellow, bold, dim, reset = (
            ("\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[1m", "\x1b[2m", "\x1b[0m") if color else ("",) * 6
        )
        out = [
            f"{bold}{self.a.info.name}{reset} ({self.a.info.id[:8]}) → "
            f"{bold}{self.b.info.name}{reset} ({self.b.info.id[:8]})"
        ]
        changed = dict(self.sections())

        def keyed(title: str, section: dict[str, Any]) -> None:
            if not changed[title]:
                out.append(f"{dim}{title}: no differences{reset}")
                return
            out.append(f"{bold}{title}{reset}")
            out.extend(f"  {green}+ {k} = {v}{reset}" for k, v in section["added"].items())
            out.extend(f"  {red}- {k} = {v}{reset}" for k, v in section["removed"].items())
            out.extend(f"  {yellow}~ {k}: {o} → {n}{reset}" for k, (o, n) in section["changed"].items())

        keyed("params", self.params)
        if changed["metrics"]:
            out.append(f"{bold}metrics{reset}")
            for m in self.changed_metrics:
                colour = green if m["verdict"] == "better" else red if m["verdict"] == "worse" else ""
                delta = "" if m["delta"] is None else f"  Δ {m['delta']:+.6g}"
                rel = "" if m["relative"] is None else f" ({m['relative']:+.1%})"
                verdict = f" {m['verdict']}" if m["verdict"] else ""
                out.append(f"  {colour}{m['key']}: {_num(m['a'])} → {_num(m['b'])}{delta}{rel}{verdict}{reset}")
        else:
            out.append(f"{dim}metrics: no differences{reset}")
        keyed("tags", self.tags)
        if changed["environment"]:
            out.append(f"{bold}environment{reset}")
            for key in ("python", "platform"):
                if self.environment.get(key):
                    old, new = self.environment[key]
                    out.append(f"  {yellow}~ {key}: {old} → {new}{reset}")
            packages = self.environment.get("packages", {})
            out.extend(f"  {green}+ {k} {v}{reset}" for k, v in packages.get("added", {}).items())
            out.extend(f"  {red}- {k} {v}{reset}" for k, v in packages.get("removed", {}).items())
            out.extend(f"  {yellow}~ {k} {o} → {n}{reset}" for k, (o, n) in packages.get("changed", {}).items())
        else:
            out.append(f"{dim}environment: no differences{reset}")
        if changed["data"]:
            out.append(f"{bold}data{reset}")
            out.extend(f"  {green}+ {p}{reset}" for p in self.data["added"])
            out.extend(f"  {red}- {p}{reset}" for p in self.data["removed"])
            out.extend(
                f"  {yellow}~ {d['path']} ({d['old'][:10]} → {d['new'][:10]}){reset}" for d in self.data["changed"]
            )
        else:
            out.append(f"{dim}data: no differences{reset}")
        if changed["executions"]:
            out.append(f"{bold}execution log{reset}")
            if self.executions["order_changed"]:
                out.append(f"  {yellow}~ cells ran in a different order{reset}")
            out.extend(f"  {red}- ran only in {self.a.info.name}: {s}{reset}" for s in self.executions["only_a"])
            out.extend(f"  {green}+ ran only in {self.b.info.name}: {s}{reset}" for s in self.executions["only_b"])
        else:
            out.append(f"{dim}execution log: no differences{reset}")
        if self.notebook is None:
            out.append(f"{dim}notebook: not captured in both runs{reset}")
        elif changed["notebook"]:
            summary = self.notebook["summary"]
            out.append(
                f"{bold}notebook{reset}: {summary['changed']} changed, {summary['added']} added, "
                f"{summary['removed']} removed, {summary['unchanged']} unchanged cells"
            )
            out.extend(f"  {line}" for line in self.notebook["cells"])
        else:
            out.append(f"{dim}notebook: no differences{reset}")
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        from .render import run_diff_html

        return run_diff_html(self)


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


def _metric_rows(a: RunData, b: RunData) -> list[dict[str, Any]]:
    rows = []
    for key in sorted(set(a.metrics) | set(b.metrics)):
        va = a.metrics[key].value if key in a.metrics else None
        vb = b.metrics[key].value if key in b.metrics else None
        delta = relative = None
        if _finite(va) is not None and _finite(vb) is not None:
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


# Written on every execution even when nothing else changed: timings (nbclient, papermill,
# JupyterLab's recordTiming) and execution counts. Left in, every executed cell of two runs
# "differs" and the few real changes drown; the execution log section covers order instead.
VOLATILE_CELL_METADATA = frozenset({"execution"})
_STEADY_KEYS: dict[str, str] = {}
_STEADY_KEYS_MAX = 200_000


def steady_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """The cell without what changes on every execution (see ``VOLATILE_CELL_METADATA``)."""
    steady = dict(cell)
    metadata = steady.get("metadata")
    if isinstance(metadata, dict) and not VOLATILE_CELL_METADATA.isdisjoint(metadata):
        steady["metadata"] = {k: v for k, v in metadata.items() if k not in VOLATILE_CELL_METADATA}
    if steady.get("cell_type") == "code":
        steady["execution_count"] = None
        outputs = steady.get("outputs")
        if outputs:
            steady["outputs"] = [
                {**o, "execution_count": None} if o.get("output_type") == "execute_result" else o for o in outputs
            ]
    return steady


def _steady_key(objects: Any, digest: str) -> str:
    """A key equal for cells equal but for volatile fields. Blobs never change, so keys are
    remembered by digest for the life of the process (large outputs stay references: equal
    references mean equal content)."""
    key = _STEADY_KEYS.get(digest)
    if key is None:
        from ..store.objects import digest_bytes

        # Cell blobs are canonical JSON (sorted keys), so the repr of the parsed cell is too.
        key = digest_bytes(cell_key(steady_cell(json.loads(objects.get(digest)))).encode("utf-8"))
        if len(_STEADY_KEYS) >= _STEADY_KEYS_MAX:
            _STEADY_KEYS.clear()
        _STEADY_KEYS[digest] = key
    return key


def steady_notebook(store: Store, manifest: str) -> dict[str, Any]:
    """A snapshot's notebook as run diffs compare it: the base nbdime renders their diff against."""
    from ..capture.notebook import load_notebook

    notebook = load_notebook(store.objects, manifest)
    return {**notebook, "cells": joined([steady_cell(c) for c in notebook["cells"]])}


def _notebook(store: Store, manifest_a: str, manifest_b: str) -> dict[str, Any]:
    from ..capture.notebook import _join_outputs, manifest_cells

    objects = store.objects
    header_a, digests_a = manifest_cells(objects, manifest_a)
    header_b, digests_b = manifest_cells(objects, manifest_b)

    def loader(digests: list[str]) -> Any:
        return lambda i, j: joined(
            [steady_cell(_join_outputs(json.loads(objects.get(d)), objects)) for d in digests[i:j]]
        )

    # Cells with the same digest are identical; only the others are read to see whether they
    # differ in more than volatile fields. (Keys of the two kinds never match each other, which
    # can only cost alignment quality, never correctness: gaps go through nbdime as steady cells.)
    same = set(digests_a) & set(digests_b)
    keys_a = [d if d in same else _steady_key(objects, d) for d in digests_a]
    keys_b = [d if d in same else _steady_key(objects, d) for d in digests_b]
    head = {
        "nbformat": header_a["nbformat"],
        "nbformat_minor": header_a["nbformat_minor"],
        "metadata": header_a["metadata"],
    }
    cells = aligned_cells_diff(keys_a, keys_b, loader(digests_a), loader(digests_b), head)
    nb_a = {
        "nbformat": header_a["nbformat"],
        "nbformat_minor": header_a["nbformat_minor"],
        "metadata": header_a["metadata"],
    }
    nb_b = {
        "nbformat": header_b["nbformat"],
        "nbformat_minor": header_b["nbformat_minor"],
        "metadata": header_b["metadata"],
    }
    header = header_diff(nb_a, nb_b)
    diff: Diff = ([{"op": "patch", "key": "cells", "diff": cells}] if cells else []) + header
    return {
        "manifest_a": manifest_a,
        "manifest_b": manifest_b,
        "cells_a": len(digests_a),
        "cells_b": len(digests_b),
        "summary": summarize(diff, len(digests_a)),
        "header": bool(header),
        "diff": diff,
        "cells": describe_cells(cells, lambda i: loader(digests_a)(i, i + 1)[0]),
    }


def describe_cells(cells_diff: Diff, cell_a: Any) -> list[str]:
    """One line per changed cell: ``~ cell 12: first line``, ``+ cell 3: …``, ``- cell 7: …``."""

    def first(cell: dict[str, Any]) -> str:
        lines = "".join(cell.get("source", "")).strip().splitlines()
        return lines[0][:70] if lines else f"(empty {cell.get('cell_type', 'cell')})"

    out = []
    for entry in cells_diff:
        if entry["op"] == "addrange":
            out += [f"+ cell {entry['key'] + 1 + n}: {first(c)}" for n, c in enumerate(entry["valuelist"])]
        elif entry["op"] == "removerange":
            out += [f"- cell {entry['key'] + 1 + n}: {first(cell_a(entry['key'] + n))}" for n in range(entry["length"])]
        else:
            parts = sorted({d["key"] for d in entry["diff"]})
            out.append(f"~ cell {entry['key'] + 1} ({', '.join(parts)}): {first(cell_a(entry['key']))}")
    return out


def diff_runs(store: Store, ref_a: str, ref_b: str) -> RunDiff:
    """Compare two runs (ids, id prefixes or names)."""
    from ..capture.snapshot import read_snapshot

    record_a, record_b = store.resolve_run(ref_a), store.resolve_run(ref_b)
    if record_a.id == record_b.id:
        raise UsageError(f"{ref_a!r} and {ref_b!r} are the same run; name two different runs")
    a, b = store.get_run(record_a.id), store.get_run(record_b.id)
    result = RunDiff(a, b, params=_keyed(a.params, b.params), metrics=_metric_rows(a, b), tags=_keyed(a.tags, b.tags))
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
    nb_a, nb_b = snap_a.manifest.get("notebook"), snap_b.manifest.get("notebook")
    if nb_a and nb_b:
        result.notebook = _notebook(store, nb_a["manifest"], nb_b["manifest"])
    return result


def diff_checkpoints(store: Store, path: str, first: str, second: str) -> dict[str, Any]:
    """The notebook diff between two Jupyter checkpoints of ``path``."""
    a, b = store.get_checkpoint(path, first), store.get_checkpoint(path, second)
    if a.kind != "notebook" or b.kind != "notebook":
        raise UsageError(f"{path!r} checkpoints are not notebooks; only notebook checkpoints can be diffed")
    return _notebook(store, a.digest, b.digest)
