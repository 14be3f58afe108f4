"""Notebook diffs of stored notebooks (run snapshots, checkpoints), read through the capture
layer's owner of stored notebooks. Cells whose digest repeats are never read; the others are
compared past their volatile fields (``volatile``) unless ``strict``."""

from __future__ import annotations

import json
from typing import Any

from ..capture.notebook import load_cell, load_notebook, manifest_cells
from ..errors import UsageError
from ..store import Store
from ..store.objects import digest_bytes
from .notebooks import Diff, aligned_cells_diff, cell_key, header_diff, joined, summarize
from .volatile import steady_cell, steady_metadata

_STEADY_KEYS: dict[str, str] = {}
_STEADY_KEYS_MAX = 200_000


def _steady_key(objects: Any, digest: str) -> str:
    """A key equal for cells equal but for volatile fields. Blobs never change, so keys are
    remembered by digest for the life of the process (large outputs stay references: equal
    references mean equal content)."""
    key = _STEADY_KEYS.get(digest)
    if key is None:
        # Cell blobs are canonical JSON (sorted keys), so the repr of the parsed cell is too.
        key = digest_bytes(cell_key(steady_cell(json.loads(objects.get(digest)))).encode("utf-8"))
        if len(_STEADY_KEYS) >= _STEADY_KEYS_MAX:
            _STEADY_KEYS.clear()
        _STEADY_KEYS[digest] = key
    return key


def steady_notebook(store: Store, manifest: str, strict: bool = False) -> dict[str, Any]:
    """A snapshot's notebook as run diffs compare it: the base nbdime renders their diff against."""
    notebook = load_notebook(store.objects, manifest)
    if strict:
        return {**notebook, "cells": joined(notebook["cells"])}
    return {
        **notebook, "metadata": steady_metadata(notebook.get("metadata", {})),
        "cells": joined([steady_cell(c) for c in notebook["cells"]]),
    }  # fmt: skip


def notebook_diff(store: Store, manifest_a: str, manifest_b: str, strict: bool = False) -> dict[str, Any]:
    """The nbdime-format diff of two stored notebooks, with a summary and one line per changed cell."""
    objects = store.objects
    steady = (lambda cell: cell) if strict else steady_cell
    header_a, digests_a = manifest_cells(objects, manifest_a)
    header_b, digests_b = manifest_cells(objects, manifest_b)

    def loader(digests: list[str]) -> Any:
        return lambda i, j: joined([steady(load_cell(objects, d)) for d in digests[i:j]])

    # Cells with the same digest are identical; only the others are read to see whether they
    # differ in more than volatile fields. (Keys of the two kinds never match each other, which
    # can only cost alignment quality, never correctness: gaps go through nbdime as steady cells.)
    same = set(digests_a) & set(digests_b)
    if strict:
        keys_a, keys_b = list(digests_a), list(digests_b)
    else:
        keys_a = [d if d in same else _steady_key(objects, d) for d in digests_a]
        keys_b = [d if d in same else _steady_key(objects, d) for d in digests_b]
    meta = (lambda m: m) if strict else steady_metadata
    head = {
        "nbformat": header_a["nbformat"],
        "nbformat_minor": header_a["nbformat_minor"],
        "metadata": meta(header_a["metadata"]),
    }
    cells = aligned_cells_diff(keys_a, keys_b, loader(digests_a), loader(digests_b), head)
    nb_a = {
        "nbformat": header_a["nbformat"],
        "nbformat_minor": header_a["nbformat_minor"],
        "metadata": meta(header_a["metadata"]),
    }
    nb_b = {
        "nbformat": header_b["nbformat"],
        "nbformat_minor": header_b["nbformat_minor"],
        "metadata": meta(header_b["metadata"]),
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
        "strict": strict,
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


def diff_checkpoints(
    store: Store, path: str, first: str, second: str, server: str | None = None, strict: bool = False
) -> dict[str, Any]:
    """The notebook diff between two Jupyter checkpoints of ``path`` (under ``server``'s root)."""
    a, b = store.get_checkpoint(path, first, server), store.get_checkpoint(path, second, server)
    if a.kind != "notebook" or b.kind != "notebook":
        raise UsageError(f"{path!r} checkpoints are not notebooks; only notebook checkpoints can be diffed")
    return notebook_diff(store, a.digest, b.digest, strict)
