"""Multi-line strings as ``nbformat.read`` gives them: joined.

In an ``.ipynb`` file a cell's source, a stream's text and a mime bundle's text values may be
lists of lines; ``nbformat.read`` joins them, and nbdime diffs the joined strings. Notebooks held
in memory (a live model, a dict built by hand) may still carry the lists. Everything here returns
its argument itself when nothing is split (the common case: no copy) and never modifies it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def text(value: Any) -> Any:
    """A string split into a list of lines, joined; any other value as it is."""
    return "".join(value) if type(value) is list else value


def _bundle_split(bundle: Any) -> bool:
    # A loop, not any(...) over a generator: this runs for every rich output a diff reads.
    if isinstance(bundle, dict):
        for mime, value in bundle.items():
            if isinstance(value, list) and not mime.endswith("json"):
                return True
    return False


def bundle(value: Any) -> Any:
    """A mime bundle with its text values joined (JSON values stay lists)."""
    if not _bundle_split(value):
        return value
    return {
        mime: "".join(data) if isinstance(data, list) and not mime.endswith("json") else data
        for mime, data in value.items()
    }


def attachments(value: Any) -> Any:
    """A cell's attachments (name → mime bundle), each bundle joined."""
    if isinstance(value, dict) and any(_bundle_split(a) for a in value.values()):
        return {name: bundle(a) for name, a in value.items()}
    return value


def output(value: dict[str, Any]) -> dict[str, Any]:
    """One output with its text, or its bundle's text values, joined."""
    if value.get("output_type") in ("execute_result", "display_data"):
        data = value.get("data")
        return {**value, "data": bundle(data)} if _bundle_split(data) else value
    found = value.get("text")
    return {**value, "text": "".join(found)} if isinstance(found, list) else value


def outputs(value: Any) -> Any:
    """A list of outputs, each joined."""
    if not isinstance(value, list):
        return value
    for n, item in enumerate(value):
        # ``output(item) is not item``, inlined: this runs for every output list a diff aligns.
        kind = item.get("output_type")
        if kind == "execute_result" or kind == "display_data":
            if not _bundle_split(item.get("data")):
                continue
        elif not isinstance(item.get("text"), list):
            continue
        return [*value[:n], *(output(o) for o in value[n:])]
    return value


def _split_anywhere(cell: dict[str, Any]) -> bool:
    """Whether any string of the cell may be split into a list (false for every cell that
    ``nbformat.read`` gave): checked inline, as this runs for every cell a grid level reads."""
    if type(cell.get("source")) is not str or "attachments" in cell:
        return True
    found = cell.get("outputs")
    if found:
        for item in found:
            stream = item.get("text")
            if stream is None:
                data = item.get("data")
                if data:
                    if not isinstance(data, dict):
                        return True
                    for value in data.values():
                        if type(value) is list:
                            return True
            elif type(stream) is not str:
                return True
    return False


def cell(value: dict[str, Any]) -> dict[str, Any]:
    """A cell with every multi-line string joined."""
    if not _split_anywhere(value):
        return value
    changes: dict[str, Any] = {}
    if isinstance(value.get("source"), list):
        changes["source"] = "".join(value["source"])
    if "attachments" in value and attachments(value["attachments"]) is not value["attachments"]:
        changes["attachments"] = attachments(value["attachments"])
    if value.get("cell_type") == "code":
        found = value.get("outputs") or []
        if outputs(found) is not found:
            changes["outputs"] = outputs(found)
    return {**value, **changes} if changes else value


def cells(values: list[Any]) -> list[Any]:
    """Cells with every multi-line string joined, which nbdime expects."""
    return [cell(c) for c in values]


# What joins each key of a cell that may hold split strings.
CELL_KEYS: dict[str, Callable[[Any], Any]] = {"source": text, "attachments": attachments, "outputs": outputs}
