"""Notebook diffs in nbdime's diff format, equal to ``nbdime.diff_notebooks`` by construction.

nbdime aligns the cell lists with a multilevel algorithm: it matches cells by id first, then by a
strict, a moderate and an approximate predicate in the gaps left between the matches of the
level above, each level an LCS over the full grid of predicate values, computed pair by pair in
Python. On re-executed notebooks (new outputs everywhere, so few cells are identical) and on old
notebooks without cell ids, those grids are where nbdime spends its time.

This module runs the same algorithm with the same predicates, and only changes how the grid is
filled and the LCS computed:
- a pair whose cells are identical (equal keys) satisfies every predicate;
- a pair that provably fails (different types, source lengths or character counts that bound
  difflib's ratio under the threshold, different output counts) is rejected from arrays;
- every other pair is decided by nbdime's rule (``similarity``: the same checks, a compiled
  matcher, cached ratios);
- the LCS is computed bit-parallel (one integer per grid row) and walked back exactly as nbdime
  walks its table, so ties resolve the same way; the by-id level needs no grid at all, and where
  ids are unique the runs of equal ids at both ends skip it.
Cells are read only where a level or a diff needs their content (``CellList``), so stored
snapshots that share most cells are diffed without reading them. Aligned pairs are diffed by
``cell_diff`` (nbdime's cell differ, entry for entry), identical pairs skipped. Everything
outside the cells goes through nbdime's ``diff`` unchanged when it differs. If nbdime's notebook
predicates or outputs differ were reconfigured, the cells are left to nbdime.

nbdime and nbformat are imported lazily: they are only needed when two notebooks differ.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import joined as join
from . import similarity
from .cell_diff import CellDiffer, entry, sequence_gap

Diff = list[dict[str, Any]]

_STRICT = similarity.STRICT
_APPROXIMATE = similarity.APPROXIMATE
_SHORT = similarity.SHORT_TEXT
_MARGIN = similarity.MARGIN


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def cell_key(cell: dict[str, Any]) -> str:
    """Equal keys mean equal cells. ``repr`` is 2-3× faster than canonical JSON; equal cells whose
    dicts differ only in key order get different keys, which only costs a call to nbdime."""
    return repr((
        cell.get("cell_type"), _text(cell.get("source")), cell.get("outputs"), cell.get("metadata"),
        cell.get("execution_count"), cell.get("id"), cell.get("attachments"),
    ))  # fmt: skip


NO_ID: Any = object()  # a cell without an id (nbformat < 4.5): matches no cell by id
_cell_id = operator.itemgetter("id")


class CellList:
    """One notebook's cells as the aligner reads them: a key per cell (equal keys: equal cells),
    an id per cell (``NO_ID`` when it has none), and the cells themselves, loaded only where an
    alignment level or a diff needs their content."""

    def __init__(
        self,
        keys: Sequence[str] | None,
        ids: Sequence[Any],
        load: Callable[[int], dict[str, Any]] | None,
        raw: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        # Without given keys (cells in memory), cells a grid level never reads get no key: aligned
        # by id, most never do, and pairs are then compared as dicts.
        self.keys: list[str] | None = list(keys) if keys is not None else None
        self.ids = list(ids)
        self._raw = raw
        self._load = load
        self._cells: dict[int, dict[str, Any]] = {}
        self._allocated = False
        self._chars: dict[int, np.ndarray] = {}
        self._codes: dict[Any, int] = {}

    def _allocate(self) -> None:
        """The per-cell arrays, made when a grid level first needs them (aligned by id, most
        diffs never do)."""
        count = len(self.ids)
        self.kind = np.full(count, -1, dtype=np.int64)
        self.source = np.full(count, -1, dtype=np.int64)
        self.length = np.zeros(count, dtype=np.int64)
        self.is_code = np.zeros(count, dtype=bool)
        self.outputs = np.zeros(count, dtype=np.int64)
        self.key = np.zeros(count, dtype=np.int64)
        # What every output predicate checks before any text: types, key sets and stream names
        # (one code per cell), and the first streams' texts (codes) and lengths.
        self.output_shape = np.zeros(count, dtype=np.int64)
        self.stream_text = np.full((count, _STREAMS), -1, dtype=np.int64)
        self.stream_length = np.zeros((count, _STREAMS), dtype=np.int64)
        self.streams: dict[int, list[str]] = {}
        # Outputs the predicates fully judge by the arrays above: plain streams, at most _STREAMS.
        self.plain_outputs = np.zeros(count, dtype=bool)
        self._known = np.zeros(count, dtype=bool)
        self._allocated = True

    @classmethod
    def of(cls, cells: Sequence[dict[str, Any]], keys: Sequence[str] | None = None) -> CellList:
        """Cells held in memory."""
        try:
            ids = list(map(_cell_id, cells))  # one C loop: every cell of both sides, every diff
        except KeyError:
            ids = [c.get("id", NO_ID) for c in cells]
        return cls(keys, ids, None, cells)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self.cell(i) for i in range(*index.indices(len(self)))]
        return self.cell(index)

    def cell(self, i: int) -> dict[str, Any]:
        found = self._cells.get(i)
        if found is None:
            if self._load is not None:
                found = self._load(i)
            else:
                assert self._raw is not None, "a CellList without a loader holds its cells"
                found = join.cell(self._raw[i])
            self._cells[i] = found
        return found

    def diffable(self, i: int) -> dict[str, Any]:
        """Cell ``i`` as the cell differ takes it: as held (the differ joins split strings where
        they matter), or as loaded."""
        return self._raw[i] if self._raw is not None else self.cell(i)

    def bind(self, codes: dict[Any, int]) -> None:
        """Share one table of codes with the other side, so equal values get equal codes."""
        self._codes = codes

    def same(self, i: int, other: CellList, j: int) -> bool:
        """Whether cell ``i`` equals the other list's cell ``j``."""
        if self.keys is not None and other.keys is not None:
            return self.keys[i] == other.keys[j]
        if self._raw is not None and other._raw is not None:
            # Raw cells that differ only in how strings are split are diffed to nothing, and an
            # empty diff is dropped: no need to join them first.
            return bool(self._raw[i] == other._raw[j])
        return bool(self.cell(i) == other.cell(j))

    def ensure(self, lo: int, hi: int) -> None:
        """Fill the per-cell arrays for cells ``lo..hi-1`` (loading them once)."""
        if not self._allocated:
            self._allocate()
        codes = self._codes
        for i in np.flatnonzero(~self._known[lo:hi]).tolist():
            i += lo
            cell = self.cell(i)
            key = self.keys[i] if self.keys is not None else cell_key(cell)
            self.key[i] = codes.setdefault(("key", key), len(codes))
            source = cell.get("source", "")
            self.kind[i] = codes.setdefault(("type", cell.get("cell_type")), len(codes))
            self.source[i] = codes.setdefault(("source", source), len(codes))
            self.length[i] = len(source)
            self.is_code[i] = cell.get("cell_type") == "code"
            outputs = (cell.get("outputs") or ()) if self.is_code[i] else ()
            self.outputs[i] = len(outputs)
            shape = []
            for n, output in enumerate(outputs):
                stream = output.get("output_type") == "stream"
                shape.append((output.get("output_type"), tuple(sorted(output)), output.get("name") if stream else None))
                if stream and n < _STREAMS:
                    text = output.get("text", "")
                    self.stream_text[i, n] = codes.setdefault(("text", text), len(codes))
                    self.stream_length[i, n] = len(text)
                    self.streams.setdefault(i, [""] * _STREAMS)[n] = text
            self.output_shape[i] = codes.setdefault(("outputs", tuple(shape)), len(codes))
            self.plain_outputs[i] = len(outputs) <= _STREAMS and all(
                kind == "stream" and keys == _PLAIN_STREAM for kind, keys, _ in shape
            )
            self._known[i] = True

    def char_codes(self, i: int) -> np.ndarray:
        found = self._chars.get(i)
        if found is None:
            found = np.frombuffer(self.cell(i).get("source", "").encode("utf-32-le"), dtype=np.uint32)
            self._chars[i] = found
        return found


_PAIRS_PER_CHUNK = 20_000
_STREAMS = 4
_PLAIN_STREAM = ("name", "output_type", "text")


def _ratio_bound_ok(a: CellList, b: CellList, ia: np.ndarray, jb: np.ndarray, threshold: float) -> np.ndarray:
    """Which pairs may reach ``threshold`` in difflib's ratio, judged by its upper bounds
    (lengths: ``real_quick_ratio``; then the LCS similarity, or character counts:
    ``quick_ratio``, where rapidfuzz is missing)."""
    la, lb = a.length[ia], b.length[jb]
    total = la + lb
    ok: np.ndarray = np.asarray(2.0 * np.minimum(la, lb) / np.maximum(total, 1) >= threshold - _MARGIN)
    idx = np.flatnonzero(ok)
    if not len(idx):
        return ok
    rows, cols = ia[idx], jb[idx]
    rows_u, row_of = np.unique(rows, return_inverse=True)
    cols_u, col_of = np.unique(cols, return_inverse=True)
    bounds = similarity.ratio_bounds(
        [a.cell(int(i)).get("source", "") for i in rows_u], [b.cell(int(j)).get("source", "") for j in cols_u]
    )
    if bounds is not None:
        ok[idx] = bounds[row_of, col_of] >= threshold - _MARGIN
        return ok
    chars_a = [a.char_codes(int(i)) for i in rows_u]
    chars_b = [b.char_codes(int(j)) for j in cols_u]
    alphabet = np.unique(np.concatenate([*chars_a, *chars_b]))

    def counts(chars: list[np.ndarray]) -> np.ndarray:
        table = np.zeros((len(chars), len(alphabet)), dtype=np.int32)
        for n, codes in enumerate(chars):
            table[n] = np.bincount(np.searchsorted(alphabet, codes), minlength=len(alphabet))
        return table

    table_a, table_b = counts(chars_a), counts(chars_b)
    common = np.empty(len(idx), dtype=np.int64)
    for start in range(0, len(idx), _PAIRS_PER_CHUNK):
        part = slice(start, start + _PAIRS_PER_CHUNK)
        common[part] = np.minimum(table_a[row_of[part]], table_b[col_of[part]]).sum(axis=1)
    ok[idx] = 2.0 * common / total[idx] >= threshold - _MARGIN
    return ok


def _source_may_match(a: CellList, b: CellList, ia: np.ndarray, jb: np.ndarray, threshold: float) -> np.ndarray:
    """Pairs whose sources may pass nbdime's ``compare_text_strict`` / ``_approximate``."""
    la, lb = a.length[ia], b.length[jb]
    maybe: np.ndarray = np.asarray(a.source[ia] == b.source[jb])
    if threshold == _APPROXIMATE:
        # compare_text_approximate: one empty and one not never match; two short strings always do.
        same_emptiness = (la > 0) == (lb > 0)
        maybe |= same_emptiness & (la < _SHORT) & (lb < _SHORT)
        rest = np.flatnonzero(~maybe & same_emptiness & (la > 0))
    else:
        rest = np.flatnonzero(~maybe & (la > 0) & (lb > 0))
    if len(rest):
        maybe[rest] = _ratio_bound_ok(a, b, ia[rest], jb[rest], threshold)
    return maybe


def _streams_may_match(
    a: CellList, b: CellList, ia: np.ndarray, jb: np.ndarray, level: int, keep: np.ndarray
) -> np.ndarray:
    """Of the pairs selected by ``keep``, those whose first streams may pass the output
    predicates: exactly equal texts for the strict level (``compare_output_strict`` compares every
    key but ``data``), otherwise texts either equal or within difflib's length bound of the
    approximate threshold (``compare_strings_approximate``; an empty and a non-empty one never
    match). Returns a mask shaped like ``keep``."""
    result = np.zeros(len(keep), dtype=bool)
    if not len(ia):
        return result
    text_a, text_b = a.stream_text[ia], b.stream_text[jb]
    same = text_a == text_b  # also true where neither has a stream there
    if level == 2:
        ok = same.all(axis=1)
    else:
        la, lb = a.stream_length[ia], b.stream_length[jb]
        near = 2.0 * np.minimum(la, lb) / np.maximum(la + lb, 1) >= _APPROXIMATE - _MARGIN
        ok = (same | ((la > 0) & (lb > 0) & near)).all(axis=1)
        bound, floor = similarity.ratio_bound, _APPROXIMATE - _MARGIN
        for n in np.flatnonzero(ok & ~same.all(axis=1)).tolist():
            texts_a, texts_b = a.streams[int(ia[n])], b.streams[int(jb[n])]
            ok[n] = all(x == y or bound(x, y) >= floor for x, y in zip(texts_a, texts_b, strict=True))
    result[np.flatnonzero(keep)] = ok
    return result


def _grid(a: CellList, b: CellList, rect: tuple[int, int, int, int], level: int, compare: Any) -> np.ndarray:
    """``G[i, j] == compare(A[i0 + i], B[j0 + j])`` for nbdime's cell predicate of ``level``."""
    i0, j0, i1, j1 = rect
    rows, cols = slice(i0, i1), slice(j0, j1)
    a.ensure(i0, i1)
    b.ensure(j0, j1)
    same: np.ndarray = np.asarray(a.key[rows, None] == b.key[None, cols])
    candidate = ~same & (a.kind[rows, None] == b.kind[None, cols])
    code = a.is_code[rows, None]
    if level > 0:
        # Both levels pair every output in order: equal counts, types, key sets, stream names.
        candidate &= ~code | (a.output_shape[rows, None] == b.output_shape[None, cols])
    threshold = _STRICT if level == 2 else _APPROXIMATE
    ia, jb = np.nonzero(candidate)
    if len(ia):
        keep = _source_may_match(a, b, ia + i0, jb + j0, threshold)
        if level > 0:
            keep &= _streams_may_match(a, b, ia[keep] + i0, jb[keep] + j0, level, keep)
        ia, jb = ia[keep], jb[keep]
        decided = _decided(a, b, ia + i0, jb + j0, level)
        same[ia[decided], jb[decided]] = True
        ia, jb = ia[~decided], jb[~decided]
    for i, j in zip(ia.tolist(), jb.tolist(), strict=True):
        same[i, j] = bool(compare(a.cell(i + i0), b.cell(j + j0)))
    return same


def _decided(a: CellList, b: CellList, ia: np.ndarray, jb: np.ndarray, level: int) -> np.ndarray:
    """Candidate pairs (same cell type, equal output shapes above level 0) that the predicate of
    ``level`` accepts on the arrays alone: equal sources (or, for the approximate source test,
    two short ones of the same emptiness) and, above level 0, outputs that are plain streams with
    equal texts (then ``compare_output_strict`` holds for each)."""
    source = a.source[ia] == b.source[jb]
    if level < 2:
        la, lb = a.length[ia], b.length[jb]
        source |= ((la > 0) == (lb > 0)) & (la < _SHORT) & (lb < _SHORT)
    if level == 0:
        return np.asarray(source)
    code = a.is_code[ia]
    streams = a.plain_outputs[ia] & b.plain_outputs[jb] & (a.stream_text[ia] == b.stream_text[jb]).all(axis=1)
    return np.asarray(source & (~code | streams))


def _id_rows(a: CellList, b: CellList, rect: tuple[int, int, int, int]) -> list[int]:
    """Row ``i`` of nbdime's by-id grid as a bit mask over the rect's columns."""
    i0, j0, i1, j1 = rect
    columns: dict[Any, int] = {}
    for j, cell_id in enumerate(b.ids[j0:j1]):
        if cell_id is not NO_ID:
            columns[cell_id] = columns.get(cell_id, 0) | (1 << j)
    return [0 if cell_id is NO_ID else columns.get(cell_id, 0) for cell_id in a.ids[i0:i1]]


def _id_snakes(a: CellList, b: CellList, rect: tuple[int, int, int, int]) -> list[tuple[int, int, int]]:
    """The by-id level's LCS snakes. Where each side's ids are unique, a cell of a run of equal
    ids at the start or the end matches no other cell, so the grid is block diagonal there and
    nbdime's walk back takes those runs whole: only the cells between go through the LCS."""
    i0, j0, i1, j1 = rect
    ids_a, ids_b = a.ids[i0:i1], b.ids[j0:j1]
    head = tail = 0
    if len(set(ids_a)) == len(ids_a) and len(set(ids_b)) == len(ids_b):
        limit = min(len(ids_a), len(ids_b))
        while head < limit and ids_a[head] is not NO_ID and ids_a[head] == ids_b[head]:
            head += 1
        while tail < limit - head and ids_a[-1 - tail] is not NO_ID and ids_a[-1 - tail] == ids_b[-1 - tail]:
            tail += 1
    middle = (i0 + head, j0 + head, i1 - tail, j1 - tail)
    rows = _id_rows(a, b, middle)
    snakes = [(i + middle[0], j + middle[1], k) for i, j, k in similarity.lcs_snakes(rows, middle[3] - middle[1])]
    return [*([(i0, j0, head)] if head else []), *snakes, *([(middle[2], middle[3], tail)] if tail else [])]


def _grid_rows(grid: np.ndarray) -> list[int]:
    if grid.shape[1] == 0:
        return [0] * grid.shape[0]
    packed = np.packbits(grid, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def _snakes(
    a: CellList, b: CellList, compares: Sequence[Any], rect: tuple[int, int, int, int], level: int
) -> list[tuple[int, int, int]]:
    """nbdime's ``compute_snakes_multilevel``, with grids from ``_grid``."""
    i0, j0, i1, j1 = rect
    if level == 3:
        snakes = _id_snakes(a, b, rect)
    else:
        rows = _grid_rows(_grid(a, b, rect, level, compares[level]))
        snakes = [(i + i0, j + j0, k) for i, j, k in similarity.lcs_snakes(rows, j1 - j0)]
    if level == 0:
        return snakes
    merged = [(0, 0, 0)]
    for i, j, k in [*snakes, (i1, j1, 0)]:
        if i > i0 and j > j0:
            merged += _snakes(a, b, compares, (i0, j0, i, j), level - 1)
        if k > 0:
            li, lj, ln = merged[-1]
            if li + ln == i and lj + ln == j:
                merged[-1] = (li, lj, ln + k)
            else:
                merged.append((i, j, k))
        i0, j0 = i + k, j + k
    if merged[0][2] == 0:
        merged.pop(0)
    return merged


def _nbdime_cell_predicates() -> list[Any] | None:
    """nbdime's four cell predicates (three of them as ``similarity`` decides them), or None if
    nbdime's were reconfigured (then nbdime decides)."""
    from nbdime.diffing import notebooks as nbd

    expected = [
        nbd.compare_cell_approximate, nbd.compare_cell_moderate, nbd.compare_cell_strict, nbd.compare_cell_by_ids,
    ]  # fmt: skip
    if list(nbd.notebook_predicates["/cells"]) != expected:
        return None
    # The moderate predicate runs nbdime's configured outputs diff, so it is only mirrored while
    # that diff is the stock one (``nbdiff --ignore-outputs`` replaces it).
    outputs = [nbd.compare_output_approximate, nbd.compare_output_strict]
    if nbd.notebook_differs["/cells/*/outputs"] is not nbd.diff_sequence_multilevel:
        return None
    if list(nbd.notebook_predicates["/cells/*/outputs"]) != outputs:
        return None
    return [
        similarity.cell_approximate, similarity.cell_moderate, similarity.cell_strict, nbd.compare_cell_by_ids,
    ]  # fmt: skip


def cells_diff(
    cells_a: Sequence[Any] | CellList,
    cells_b: Sequence[Any] | CellList,
) -> Diff:
    """The ``/cells`` part of nbdime's notebook diff of two cell lists (dicts, nodes, or
    ``CellList``s that load cells on demand)."""
    from nbdime.diffing import notebooks as nbd

    a = cells_a if isinstance(cells_a, CellList) else CellList.of(cells_a)
    b = cells_b if isinstance(cells_b, CellList) else CellList.of(cells_b)
    compares = _nbdime_cell_predicates()
    if compares is None:
        import nbformat

        return list(nbd.notebook_differs["/cells"](
            [nbformat.from_dict(c) for c in a[:]], [nbformat.from_dict(c) for c in b[:]],
            path="/cells", config=nbd.notebook_config,
        ))  # fmt: skip
    codes: dict[Any, int] = {}
    a.bind(codes)
    b.bind(codes)
    snakes = _snakes(a, b, compares, (0, 0, len(a), len(b)), len(compares) - 1)
    differ = CellDiffer(copy.copy(nbd.notebook_config))
    return list(_diff_from_snakes(a, b, snakes, differ))


def _diff_from_snakes(a: CellList, b: CellList, snakes: list[tuple[int, int, int]], differ: CellDiffer) -> Any:
    """nbdime's ``compute_diff_from_snakes`` for cells; pairs with equal keys are not diffed."""
    out: list[Any] = []
    i0, j0 = 0, 0
    # Cells held in memory are compared and diffed as held (the differ joins split strings).
    raw_a, raw_b = a._raw or (), b._raw or ()
    held = a.keys is None and b.keys is None and a._raw is not None and b._raw is not None
    for i, j, k in [*snakes, (len(a), len(b), 0)]:
        sequence_gap(out, i0, i - i0, b[j0:j] if j > j0 else [])
        for n in range(k):
            if held:
                # The differ returns nothing for equal cells, and comparing first would walk most
                # changed cells twice.
                diff = differ(raw_a[i + n], raw_b[j + n])
            else:
                diff = None if a.same(i + n, b, j + n) else differ(a.diffable(i + n), b.diffable(j + n))
            if diff:
                out.append(entry(op="patch", key=i + n, diff=diff))
        i0, j0 = i + k, j + k
    return out


def _cells_part(diff: Diff) -> tuple[Diff, Diff]:
    """Split a notebook diff into its cells entries and everything else."""
    cells: Diff = []
    rest: Diff = []
    for item in diff:
        if item.get("key") == "cells" and item.get("op") == "patch":
            cells = item["diff"]
        else:
            rest.append(item)
    return cells, rest


def _header(notebook: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in notebook.items() if k != "cells"}


def header_diff(a: dict[str, Any], b: dict[str, Any]) -> Diff:
    """Differences outside the cells (notebook metadata, nbformat version), in nbdime's format."""
    if _header(a) == _header(b):
        return []
    import nbdime
    import nbformat

    return _cells_part(
        nbdime.diff_notebooks(nbformat.from_dict({**a, "cells": []}), nbformat.from_dict({**b, "cells": []}))
    )[1]


def diff_notebooks(a: dict[str, Any], b: dict[str, Any]) -> Diff:
    """The nbdime diff of notebook ``a`` to ``b`` (nbformat dicts or nodes), computed fast.

    Returns:
        A list of nbdime diff entries; ``nbdime``'s renderers accept it with ``a`` as the base.
    """
    if not (isinstance(a, dict) and isinstance(b, dict)):
        raise TypeError(f"Expected inputs to be dicts, got {type(a).__name__} and {type(b).__name__}")
    cells_a, cells_b = a.get("cells"), b.get("cells")
    if type(cells_a) is not list or type(cells_b) is not list:
        from nbdime.diffing import notebooks as nbd
        from nbdime.diffing.generic import diff

        config = copy.copy(nbd.notebook_config)
        config.differs["/cells"] = lambda x, y, path="", config=None: cells_diff(x, y)
        return list(diff(dict(a), dict(b), path="", config=config))
    # nbdime's dict diff: entries sorted by key, the cells one a patch when they differ.
    cells = cells_diff(cells_a, cells_b)
    found = [entry(op="patch", key="cells", diff=cells)] if cells else []
    return sorted([*found, *header_diff(a, b)], key=lambda e: e["key"])


def summarize(diff: Diff, cells_a: int) -> dict[str, int]:
    """Counts of cells added, removed and changed by a notebook diff."""
    cells, _ = _cells_part(diff)
    added = sum(len(e["valuelist"]) for e in cells if e["op"] == "addrange")
    removed = sum(e["length"] for e in cells if e["op"] == "removerange")
    changed = sum(1 for e in cells if e["op"] == "patch")
    return {"added": added, "removed": removed, "changed": changed, "unchanged": cells_a - removed - changed}
