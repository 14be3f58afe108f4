"""The diff of two aligned cells, entry for entry what nbdime's cell differ returns.

Re-executed notebooks give nbdime one changed cell per code cell, and each costs it a dict diff
that recurses into every key, a multilevel alignment of the outputs and a line then character
diff of every changed text, all through pure-Python difflib. Here:
- a key whose values are equal is skipped before anything is compared (nbdime's differs return
  nothing for equal values, so this cannot change the result);
- sources and stream texts get nbdime's line-wise diff (lines aligned exactly, then roughly,
  changed lines diffed by character) on ``similarity``'s matcher and cached ratios;
- outputs are aligned with ``similarity``'s output predicates by nbdime's multilevel rule;
- everything rarer (rich outputs, metadata, attachments) goes to nbdime's own differ.
Entries are nbdime's ``DiffEntry`` objects, built in the order nbdime's builders leave them
(its builders re-sort every entry on insertion; walking left to right makes that order directly).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

from . import joined as join
from . import similarity

Compare = Callable[[Any, Any], bool]


# nbdime's ``DiffEntry`` (a dict with attribute access) and ``DiffConfig.is_atomic``, bound when
# the first ``CellDiffer`` is made: importing nbdime costs seconds, and nothing here builds an
# entry before a differ exists.
_Entry: Any = None
_stock_is_atomic: Any = None


def _bind_entry() -> Any:
    global _Entry, _stock_is_atomic
    if _Entry is None:
        from nbdime.diff_format import DiffEntry
        from nbdime.diffing.config import DiffConfig

        _Entry, _stock_is_atomic = DiffEntry, DiffConfig.is_atomic
    return _Entry


def entry(**fields: Any) -> Any:
    """An nbdime ``DiffEntry``."""
    return _bind_entry()(**fields)


def sequence_gap(out: list[Any], key: int, removed: int, added: Any) -> None:
    """Entries for a gap at ``key``: nbdime's builder puts an ``addrange`` before a
    ``removerange`` at the same key."""
    if added:
        out.append(_Entry(op="addrange", key=key, valuelist=added))
    if removed:
        out.append(_Entry(op="removerange", key=key, length=removed))


def multilevel_snakes(
    a: Any,
    b: Any,
    compares: list[Compare],
    rect: tuple[int, int, int, int] | None = None,
    level: int | None = None,
) -> list[tuple[int, int, int]]:
    """nbdime's ``compute_snakes_multilevel`` for short lists: LCS with the strictest predicate,
    then the looser ones in the gaps, contiguous snakes merged."""
    if level is None:
        level = len(compares) - 1
    if rect is None:
        if len(a) == 1 or len(b) == 1:
            # One row or column: a match leaves no gap with both rows and columns, so the answer
            # is the strictest level's match (nbdime's walk back: the last one).
            for compare in reversed(compares):
                snakes = similarity.one_line_snakes(a, b, compare)
                if snakes:
                    return snakes
            return []
        rect = (0, 0, len(a), len(b))
    i0, j0, i1, j1 = rect
    snakes = [(i + i0, j + j0, k) for i, j, k in similarity.small_lcs_snakes(a[i0:i1], b[j0:j1], compares[level])]
    if level == 0:
        return snakes
    merged = [(0, 0, 0)]
    for i, j, k in [*snakes, (i1, j1, 0)]:
        if i > i0 and j > j0:
            merged += multilevel_snakes(a, b, compares, (i0, j0, i, j), level - 1)
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


def _from_snakes(a: Any, b: Any, snakes: list[tuple[int, int, int]], pair_diff: Callable[[Any, Any], Any]) -> Any:
    """nbdime's ``compute_diff_from_snakes``: ranges between snakes removed/added, pairs patched."""
    out: list[Any] = []
    i0, j0 = 0, 0
    for i, j, k in [*snakes, (len(a), len(b), 0)]:
        sequence_gap(out, i0, i - i0, b[j0:j])
        for n in range(k):
            x, y = a[i + n], b[j + n]
            if x != y:
                diff = pair_diff(x, y)
                if diff:
                    out.append(_Entry(op="patch", key=i + n, diff=diff))
        i0, j0 = i + k, j + k
    return out


def chars_diff(a: str, b: str) -> Any:
    """nbdime's ``diff_strings_by_char`` (difflib opcodes as range entries)."""
    out: list[Any] = []
    if a == b:
        return out
    for tag, a0, a1, b0, b1 in similarity.opcodes(a, b):
        if tag != "equal":
            sequence_gap(out, a0, a1 - a0 if tag != "insert" else 0, b[b0:b1] if tag != "delete" else "")
    return out


_LINE_COMPARES: list[Compare] = [similarity.strings_similar, operator.eq]


def lines_diff(a: str, b: str) -> Any:
    """nbdime's ``diff_strings_linewise``."""
    if a == b:
        return []
    lines_a, lines_b = a.splitlines(True), b.splitlines(True)
    return _from_snakes(lines_a, lines_b, multilevel_snakes(lines_a, lines_b, _LINE_COMPARES), chars_diff)


_UNKNOWN: Any = object()
_APPROXIMATE = similarity.APPROXIMATE
_STREAM_CAP = similarity.STREAM_MAX_COMPARE_LENGTH


def mapping_diff(
    a: Any,
    b: Any,
    path: str,
    config: Any,
    value_diff: Callable[[str, Any, Any, str], Any],
    joins: Mapping[str, Callable[[Any], Any]] | None = None,
    joins_added: Mapping[str, Callable[[Any], Any]] | None = None,
) -> Any:
    """nbdime's ``diff_dicts``, with equal values skipped and ``value_diff(key, x, y, subpath)``
    deciding the others that nbdime would recurse into. ``joins`` joins the values of its keys
    that differ, ``joins_added`` those of added keys, as ``nbformat.read`` would have. Entries
    come sorted by key, as nbdime's builder returns them."""
    out: list[Any] = []
    # DiffConfig.is_atomic inlined (a call per key otherwise); a config that redefines it is asked.
    atomic_paths = config._atomic_paths if type(config).is_atomic is _stock_is_atomic else None
    same_keys = a.keys() == b.keys()
    for key in sorted(a) if same_keys else sorted(a.keys() | b.keys()):
        if not same_keys:
            if key not in b:
                out.append(_Entry(op="remove", key=key))
                continue
            if key not in a:
                value = b[key]
                if joins_added is not None and key in joins_added:
                    value = joins_added[key](value)
                out.append(_Entry(op="add", key=key, value=value))
                continue
        x, y = a[key], b[key]
        if x == y:
            continue
        if joins is not None and key in joins:
            x, y = joins[key](x), joins[key](y)
            if x == y:
                continue
        subpath = f"{path}/{key}"
        if type(x) is not type(y):
            atomic = True
        elif atomic_paths is None:
            atomic = config.is_atomic(x, path=subpath)
        else:
            atomic = atomic_paths.get(subpath, _UNKNOWN)
            if atomic is _UNKNOWN:
                atomic = not isinstance(x, (str, list, dict))
        if not atomic:
            diff = value_diff(key, x, y, subpath)
            if diff:
                out.append(_Entry(op="patch", key=key, diff=diff))
        else:
            out.append(_Entry(op="replace", key=key, value=y))
    return out


def _node(value: Any) -> Any:
    """An nbformat node (nbdime's output differ reads attributes and pops keys in place), copied
    so that the caller's dict is never touched."""
    import nbformat

    return nbformat.from_dict(value)


class CellDiffer:
    """nbdime's differ for ``/cells/*`` under ``config`` (a copy of nbdime's notebook config)."""

    def __init__(self, config: Any) -> None:
        from nbdime.diffing import notebooks as nbd

        _bind_entry()
        self.config = config
        differs, predicates = config.differs, config.predicates
        # Only nbdime's stock rules are mirrored; reconfigured ones are left to nbdime.
        self.fast_source = differs["/cells/*/source"] is nbd.diff_string_lines
        self.fast_outputs = (
            differs["/cells/*/outputs"] is nbd.diff_sequence_multilevel
            and differs["/cells/*/outputs/*"] is nbd.diff_single_outputs
            and list(predicates["/cells/*/outputs"]) == [nbd.compare_output_approximate, nbd.compare_output_strict]
        )
        # Outputs are joined by ``outputs`` itself, only where the texts it reads are split.
        self.joins = {key: j for key, j in join.CELL_KEYS.items() if key != "outputs" or not self.fast_outputs}
        self.nbdime_cell = differs["/cells/*"]
        self.enabled = self.nbdime_cell is nbd.diff
        self.single_output = nbd.diff_single_outputs
        self.generic = nbd.diff
        # Two aligned plain streams differ only in their text: the stream's dict diff is then one
        # patch of "/text" by nbdime's line-wise rule, unless the config says otherwise there.
        self.stream_text_lines = (
            type(config).is_atomic is _stock_is_atomic
            and "/text" not in config._atomic_paths
            and config.differs["/text"] is nbd.diff
        )
        # Cells with the same keys follow a plan made once per key order (``_plan``), unless the
        # config decides atomicity its own way.
        self.plans: dict[tuple[str, ...], list[tuple[str, Any, Any, Callable[[Any, Any], Any]]]] | None = (
            {} if type(config).is_atomic is _stock_is_atomic else None
        )

    def __call__(self, x: Any, y: Any, path: str = "/cells/*", config: Any = None) -> Any:
        """The diff of two cells; strings split into lists of lines are joined where they differ."""
        if not self.enabled:
            if x == y:
                return []
            return self.nbdime_cell(_node(join.cell(x)), _node(join.cell(y)), path=path, config=self.config)
        if self.plans is not None:
            keys = tuple(x)
            if keys == tuple(y):
                plan = self.plans.get(keys)
                if plan is None:
                    plan = self.plans[keys] = self._plan(keys)
                return self._planned(x, y, plan)
        return mapping_diff(x, y, "/cells/*", self.config, self._cell_value, self.joins, join.CELL_KEYS)

    def _plan(self, keys: tuple[str, ...]) -> list[tuple[str, Any, Any, Callable[[Any, Any], Any]]]:
        """What ``mapping_diff`` decides for each key of cells with these keys, decided once: the
        keys in nbdime's order, each with its join, whether the config makes it atomic
        (``_UNKNOWN``: by the value's type) and the differ of its values."""
        atomic_paths = self.config._atomic_paths
        plan: list[tuple[str, Any, Any, Callable[[Any, Any], Any]]] = []
        for key in sorted(keys):
            subpath = f"/cells/*/{key}"
            value_diff: Callable[[Any, Any], Any] = functools.partial(self._cell_value, key, subpath=subpath)
            if key == "outputs" and self.fast_outputs:
                value_diff = self.outputs
            plan.append((key, self.joins.get(key), atomic_paths.get(subpath, _UNKNOWN), value_diff))
        return plan

    def _planned(self, x: Any, y: Any, plan: list[tuple[str, Any, Any, Callable[[Any, Any], Any]]]) -> Any:
        """``mapping_diff`` of two cells with the same keys, following ``plan``."""
        out: list[Any] = []
        for key, joiner, atomic, value_diff in plan:
            vx, vy = x[key], y[key]
            if vx == vy:
                continue
            if joiner is not None:
                vx, vy = joiner(vx), joiner(vy)
                if vx == vy:
                    continue
            if type(vx) is not type(vy):
                atomic = True
            elif atomic is _UNKNOWN:
                atomic = not isinstance(vx, (str, list, dict))
            if atomic:
                out.append(_Entry(op="replace", key=key, value=vy))
                continue
            diff = value_diff(vx, vy)
            if diff:
                out.append(_Entry(op="patch", key=key, diff=diff))
        return out

    def _cell_value(self, key: str, x: Any, y: Any, subpath: str) -> Any:
        if key == "source" and self.fast_source and isinstance(x, str):
            return lines_diff(x, y)
        if key == "outputs" and self.fast_outputs:
            return self.outputs(x, y)
        return self.config.differs[subpath](x, y, path=subpath, config=self.config)

    def outputs(self, a: Any, b: Any) -> Any:
        """The diff of two cells' differing outputs, which may hold texts split into lists of
        lines."""
        if len(a) == 1 and len(b) == 1:
            # One output each (the usual case), and they differ (equal lists are never diffed):
            # the multilevel alignment pairs them when either predicate holds, strict first.
            x, y = a[0], b[0]
            tx, ty = x.get("text"), y.get("text")
            # Three keys, among them output_type, name and text: a plain stream.
            if (
                type(tx) is str
                and type(ty) is str
                and len(x) == 3
                and len(y) == 3
                and x.get("output_type") == "stream"
                and y.get("output_type") == "stream"
                and "name" in x
                and "name" in y
            ):
                # Two plain streams that differ: the strict predicate is then plain equality
                # (false), the approximate one the same name and similar texts.
                aligned = x["name"] == y["name"] and similarity.strings_similar(tx, ty, _APPROXIMATE, _STREAM_CAP)
                if aligned and self.stream_text_lines:
                    text = lines_diff(tx, ty)
                    return [_Entry(op="patch", key=0, diff=[_Entry(op="patch", key="text", diff=text)])] if text else []
            else:
                x, y = join.output(x), join.output(y)
                if x == y:
                    return []
                aligned = similarity.output_strict(x, y) or similarity.output_approximate(x, y)
            if aligned:
                diff = self._output(x, y)
                return [_Entry(op="patch", key=0, diff=diff)] if diff else []
            return [_Entry(op="addrange", key=0, valuelist=[y]), _Entry(op="removerange", key=0, length=1)]
        a, b = join.outputs(a), join.outputs(b)
        snakes = multilevel_snakes(a, b, [similarity.output_approximate, similarity.output_strict])
        return _from_snakes(a, b, snakes, self._output)

    def _output(self, x: Any, y: Any) -> Any:
        if x["output_type"] == "stream":
            # nbdime diffs non-rich outputs with the notebook config at the root path.
            return mapping_diff(x, y, "", self.config, self._stream_value)
        return self.single_output(_node(x), _node(y), path="/cells/*/outputs/*", config=self.config)

    def _stream_value(self, key: str, x: Any, y: Any, subpath: str) -> Any:
        differ = self.config.differs[subpath]
        if isinstance(x, str) and differ is self.generic:
            return lines_diff(x, y)
        return differ(x, y, path=subpath, config=self.config)
