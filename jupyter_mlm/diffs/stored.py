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
from . import joined as join
from .notebooks import NO_ID, CellList, Diff, cell_key, cells_diff, header_diff, summarize
from .volatile import steady_cell, steady_metadata

_FACTS: dict[str, tuple[str, Any]] = {}
_FACTS_MAX = 200_000


def _facts(objects: Any, digest: str) -> tuple[str, Any]:
    """A stored cell's steady key (equal for cells equal but for volatile fields) and its id.
    Blobs never change, so both are remembered by digest for the life of the process (large
    outputs stay references: equal references mean equal content)."""
    facts = _FACTS.get(digest)
    if facts is None:
        cell = json.loads(objects.get(digest))
        # Cell blobs are canonical JSON (sorted keys), so the repr of the parsed cell is too.
        facts = (digest_bytes(cell_key(steady_cell(cell)).encode("utf-8")), cell.get("id", NO_ID))
        if len(_FACTS) >= _FACTS_MAX:
            _FACTS.clear()
        _FACTS[digest] = facts
    return facts


def _steady_key(objects: Any, digest: str) -> str:
    return _facts(objects, digest)[0]


def steady_notebook(store: Store, manifest: str, strict: bool = False) -> dict[str, Any]:
    """A snapshot's notebook as run diffs compare it: the base nbdime renders their diff against."""
    notebook = load_notebook(store.objects, manifest)
    if strict:
        return {**notebook, "cells": join.cells(notebook["cells"])}
    return {
        **notebook, "metadata": steady_metadata(notebook.get("metadata", {})),
        "cells": join.cells([steady_cell(c) for c in notebook["cells"]]),
    }  # fmt: skip


class _Cells:
    """Stored cells by digest as diffs compare them, each read at most once per diff."""

    def __init__(self, objects: Any, strict: bool) -> None:
        self.objects = objects
        self.strict = strict
        self._read: dict[str, dict[str, Any]] = {}

    def cell(self, digest: str) -> dict[str, Any]:
        found = self._read.get(digest)
        if found is None:
            cell = load_cell(self.objects, digest)
            found = self._read[digest] = join.cell(cell if self.strict else steady_cell(cell))
        return found

    def side(self, digests: list[str], keys: list[str], shared: set[str]) -> CellList:
        """The aligner's view of one notebook. Cells in ``shared`` are aligned by a token for their
        digest (both manifests vouch every id is present and unique, so the cell's id and its
        digest pick out the same cells) and are read only if a diff needs their content."""
        ids = [("shared", d) if d in shared else _facts(self.objects, d)[1] for d in digests]
        return CellList(keys, ids, lambda i: self.cell(digests[i]))


def notebook_diff(store: Store, manifest_a: str, manifest_b: str, strict: bool = False) -> dict[str, Any]:
    """The nbdime-format diff of two stored notebooks, with a summary and one line per changed cell."""
    objects = store.objects
    header_a, digests_a = manifest_cells(objects, manifest_a)
    header_b, digests_b = manifest_cells(objects, manifest_b)
    # Cells with the same digest are identical, and so are cells with the same steady key: the
    # aligner takes pairs with equal keys as equal without comparing them. (A digest never equals
    # a steady key, which only costs a comparison, never a different diff.)
    same = set(digests_a) & set(digests_b)
    if strict:
        keys_a, keys_b = list(digests_a), list(digests_b)
    else:
        keys_a = [d if d in same else _steady_key(objects, d) for d in digests_a]
        keys_b = [d if d in same else _steady_key(objects, d) for d in digests_b]
    shared = same if header_a.get("unique_ids") and header_b.get("unique_ids") else set()
    reader = _Cells(objects, strict)
    side_a = reader.side(digests_a, keys_a, shared)
    cells = cells_diff(side_a, reader.side(digests_b, keys_b, shared))
    meta = (lambda m: m) if strict else steady_metadata
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
    # nbdime orders a notebook's entries by key.
    diff: Diff = sorted(
        [*header, *([{"op": "patch", "key": "cells", "diff": cells}] if cells else [])], key=lambda e: e["key"]
    )
    return {
        "manifest_a": manifest_a,
        "manifest_b": manifest_b,
        "cells_a": len(digests_a),
        "cells_b": len(digests_b),
        "summary": summarize(diff, len(digests_a)),
        "header": bool(header),
        "diff": diff,
        "cells": describe_cells(cells, side_a.cell),
        "strict": strict,
    }


def describe_cells(entries: Diff, cell_a: Any) -> list[str]:
    """One line per changed cell: ``~ cell 12: first line``, ``+ cell 3: …``, ``- cell 7: …``."""

    def first(cell: dict[str, Any]) -> str:
        lines = "".join(cell.get("source", "")).strip().splitlines()
        return lines[0][:70] if lines else f"(empty {cell.get('cell_type', 'cell')})"

    out = []
    for entry in entries:
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
