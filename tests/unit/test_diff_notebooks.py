"""mlm.diff_notebooks must report what nbdime.diff_notebooks reports: the same changed cells with
the same inner diffs, on inserts, deletes, moves, output-only and metadata changes, and on old
notebooks without cell ids."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

import nbdime
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import jupyter_mlm as mlm

Notebook = dict[str, Any]


def base(n: int = 40, ids: bool = True) -> Notebook:
    rng = random.Random(n)
    cells = []
    for i in range(n):
        if i % 7 == 0:
            cells.append(new_markdown_cell(f"## Part {i}\nNotes about step {i}."))
        else:
            outputs = [new_output("stream", text=f"{i}: {rng.random():.6f}\n")]
            if i % 9 == 4:
                outputs.append(new_output("execute_result", data={"text/plain": f"<{i}>"}, execution_count=i))
            cells.append(new_code_cell(f"x{i} = compute({i})\nprint(x{i})", outputs=outputs, execution_count=i))
    nb = json.loads(json.dumps(new_notebook(cells=cells)))
    if not ids:
        nb["nbformat_minor"] = 4
        for cell in nb["cells"]:
            cell.pop("id", None)
    return nb


def edit(nb: Notebook, i: int) -> None:
    nb["cells"][i]["source"] += "\n# tuned"


EDITS: dict[str, Callable[[Notebook], None]] = {
    "insert--middle": lambda nb: nb["cells"].insert(10, dict(new_code_cell("brand_new = 1"))),
    "insert--start-and-end": lambda nb: (nb["cells"].insert(0, dict(new_markdown_cell("# Title"))), nb["cells"].append(dict(new_code_cell("tail()")))),
    "delete--one": lambda nb: nb["cells"].pop(12),
    "delete--range": lambda nb: nb["cells"].__delitem__(slice(5, 9)),
    "move--cell-down": lambda nb: nb["cells"].insert(30, nb["cells"].pop(3)),
    "edit--sources": lambda nb: [edit(nb, i) for i in (2, 17, 33)],
    "outputs--only": lambda nb: nb["cells"][5]["outputs"][0].__setitem__("text", "5: changed\n"),
    "outputs--cleared": lambda nb: nb["cells"][9].__setitem__("outputs", []),
    "metadata--cell": lambda nb: nb["cells"][6]["metadata"].__setitem__("tags", ["parameters"]),
    "metadata--notebook": lambda nb: nb["metadata"].__setitem__("kernelspec", {"name": "python3", "display_name": "Python 3"}),
    "mixed--everything": lambda nb: (edit(nb, 3), nb["cells"].pop(20), nb["cells"].insert(8, dict(new_code_cell("inserted()"))),
                                     nb["cells"][25]["outputs"].clear(), nb["metadata"].__setitem__("x", 1)),
    "identical--same": lambda nb: None,
}  # fmt: skip


def normalise(diff: list[dict[str, Any]]) -> tuple[set[Any], str]:
    """The set of (op, position, content) of the cells part, and the rest as canonical JSON."""
    changes = set()
    rest = []
    for entry in diff:
        if entry["key"] != "cells":
            rest.append(entry)
            continue
        for cell in entry["diff"]:
            if cell["op"] == "addrange":
                changes.add(("add", cell["key"], json.dumps(cell["valuelist"], sort_keys=True)))
            elif cell["op"] == "removerange":
                changes.add(("remove", cell["key"], cell["length"]))
            else:
                changes.add(("patch", cell["key"], json.dumps(cell["diff"], sort_keys=True)))
    return changes, json.dumps(rest, sort_keys=True)


@pytest.mark.parametrize("ids", [True, False], ids=["with-ids", "nbformat-4.4-no-ids"])
@pytest.mark.parametrize("case", sorted(EDITS))
def test_same_changes_as_nbdime(case: str, ids: bool) -> None:
    a = base(ids=ids)
    b = copy.deepcopy(a)
    EDITS[case](b)
    ours = mlm.diff_notebooks(a, b)
    theirs = nbdime.diff_notebooks(nbformat.from_dict(copy.deepcopy(a)), nbformat.from_dict(copy.deepcopy(b)))
    assert normalise(ours) == normalise(json.loads(json.dumps(theirs)))
    if case == "identical--same":
        assert ours == []


def test_large_notebook_with_scattered_edits_matches_nbdime() -> None:
    rng = random.Random(7)
    a = base(400)
    b = copy.deepcopy(a)
    for i in rng.sample(range(400), 20):
        edit(b, i)
    for i in sorted(rng.sample(range(380), 3), reverse=True):
        b["cells"].pop(i)
    for i in rng.sample(range(380), 3):
        b["cells"].insert(i, dict(new_code_cell(f"new_{i}()")))
    theirs = nbdime.diff_notebooks(nbformat.from_dict(copy.deepcopy(a)), nbformat.from_dict(copy.deepcopy(b)))
    assert normalise(mlm.diff_notebooks(a, b)) == normalise(json.loads(json.dumps(theirs)))


def test_diff_applies_with_nbdime_patch() -> None:
    from nbdime import patch_notebook
    from nbdime.diff_utils import to_diffentry_dicts

    a = base()
    b = copy.deepcopy(a)
    EDITS["mixed--everything"](b)
    as_json = json.loads(json.dumps(mlm.diff_notebooks(a, b)))  # what travels over REST
    patched = patch_notebook(nbformat.from_dict(copy.deepcopy(a)), to_diffentry_dicts(as_json))
    assert json.loads(json.dumps(patched)) == b


def test_bad_input() -> None:
    with pytest.raises(mlm.UsageError, match="two nbformat notebooks"):
        mlm.diff_notebooks({"cells": []}, "not a notebook")
