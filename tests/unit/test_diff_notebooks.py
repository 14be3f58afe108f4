"""mlm.diff_notebooks must report what nbdime.diff_notebooks reports: the same changed cells with
the same inner diffs, on inserts, deletes, moves, output-only and metadata changes, and on old
notebooks without cell ids."""

from __future__ import annotations

import copy
import itertools
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
    assert json.dumps(ours, sort_keys=True) == json.dumps(theirs, sort_keys=True)  # entry for entry, in order
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
    assert json.dumps(mlm.diff_notebooks(a, b), sort_keys=True) == json.dumps(theirs, sort_keys=True)


def _random_output(rng: random.Random, count: int) -> dict[str, Any]:
    kind = rng.random()
    if kind < 0.55:
        lines = "".join(
            f"{rng.choice(['loss', 'acc', 'epoch'])}={rng.random():.{rng.randint(1, 6)}f}\n"
            for _ in range(rng.randint(1, 5))
        )
        return dict(new_output("stream", name=rng.choice(["stdout", "stdout", "stderr"]), text=lines))
    if kind < 0.7:
        image = "".join(
            rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789+/") for _ in range(rng.choice([64, 400, 2000]))
        )
        return dict(
            new_output("display_data", data={"image/png": image, "text/plain": "<Figure size 640x480 with 1 Axes>"})
        )
    if kind < 0.8:
        table = (
            "<table>"
            + "".join(f"<tr><td>{rng.randint(0, 99)}</td></tr>\n" for _ in range(rng.randint(1, 6)))
            + "</table>"
        )
        return dict(
            new_output(
                "execute_result",
                data={"text/html": table, "text/plain": f"df {rng.randint(0, 9)}"},
                execution_count=count,
            )
        )
    if kind < 0.9:
        return dict(
            new_output(
                "execute_result",
                data={"text/plain": f"<object at 0x{rng.getrandbits(40):010x}>"},
                execution_count=count,
            )
        )
    return dict(
        new_output(
            "error",
            ename="ValueError",
            evalue=rng.choice(["bad", "worse"]),
            traceback=[f"line {rng.randint(1, 9)}", "ValueError: bad"],
        )
    )


def _history(seed: int, ids: bool, versions: int = 6) -> list[Notebook]:
    """Versions of one notebook as it is re-run and edited: most outputs regenerated, sources
    edited, cells moved, inserted, deleted and duplicated, some fields split into line lists
    the way they sit in .ipynb files."""
    rng = random.Random(seed)
    nb = base(rng.randint(8, 45), ids=ids)
    history = [nb]
    for version in range(versions):
        nb = copy.deepcopy(nb)
        cells = nb["cells"]
        for count, cell in enumerate(cells, 1):
            if cell["cell_type"] == "code":
                cell["execution_count"] = count
                if rng.random() < 0.85:
                    cell["outputs"] = [_random_output(rng, count) for _ in range(rng.choice([0, 1, 1, 1, 2, 3]))]
        for _ in range(rng.randint(0, 4)):
            cell = rng.choice(cells)
            choice = rng.random()
            if choice < 0.5:
                cell["source"] += f"\nx = tune({version})"
            elif choice < 0.7:
                cell["source"] = cell["source"].replace("(", "[", 1)
            else:
                cell["source"] = ""
        for _ in range(rng.randint(0, 2)):
            cells.insert(rng.randrange(len(cells) + 1), cells.pop(rng.randrange(len(cells))))
        if rng.random() < 0.3:
            added = dict(new_code_cell(f"added_{version}()"))
            if not ids:
                added.pop("id")
            cells.insert(rng.randrange(len(cells) + 1), added)
        if rng.random() < 0.3 and len(cells) > 3:
            cells.pop(rng.randrange(len(cells)))
        if rng.random() < 0.2:
            twin = copy.deepcopy(rng.choice(cells))
            twin.pop("id", None)
            if ids:
                twin["id"] = f"twin-{version}"
            cells.insert(rng.randrange(len(cells) + 1), twin)
        if rng.random() < 0.2:
            cells[rng.randrange(len(cells))]["metadata"]["tags"] = ["parameters"]
        history.append(nb)
    for nb in history[::2]:
        for cell in nb["cells"]:
            cell["source"] = cell["source"].splitlines(True)
    # Outputs' texts split too, in versions that alternate with the split sources above, so that
    # pairs split on one side, the other, both and neither all occur.
    for nb in history[1::3]:
        for cell in nb["cells"]:
            for output in cell.get("outputs", []):
                if "text" in output:
                    output["text"] = output["text"].splitlines(True)
                for mime, value in output.get("data", {}).items():
                    output["data"][mime] = value.splitlines(True)
    return history


@pytest.mark.parametrize("ids", [True, False], ids=["with-ids", "no-ids"])
@pytest.mark.parametrize("seed", range(12))
def test_reexecuted_histories_equal_nbdime_entry_for_entry(seed: int, ids: bool) -> None:
    history = _history(seed, ids)
    for a, b in itertools.pairwise(history):
        theirs = nbdime.diff_notebooks(nbformat.reads(json.dumps(a), 4), nbformat.reads(json.dumps(b), 4))
        assert json.dumps(mlm.diff_notebooks(a, b), sort_keys=True) == json.dumps(theirs, sort_keys=True)


def test_reconfigured_nbdime_is_followed() -> None:
    """nbdime's own ignore settings (e.g. ``nbdiff --ignore-outputs``) apply to our diffs too."""
    from nbdime.diffing.notebooks import reset_notebook_differ, set_notebook_diff_targets

    a, b = _history(3, True, versions=1)
    set_notebook_diff_targets(outputs=False, metadata=False)
    try:
        theirs = nbdime.diff_notebooks(nbformat.reads(json.dumps(a), 4), nbformat.reads(json.dumps(b), 4))
        assert json.dumps(mlm.diff_notebooks(a, b), sort_keys=True) == json.dumps(theirs, sort_keys=True)
    finally:
        reset_notebook_differ()


def test_atomic_paths_and_key_orders_are_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cells are diffed by a plan made once per key order: paths nbdime's config makes atomic
    are replaced whole, and cells whose keys come in another order are diffed all the same."""
    from nbdime.diffing import notebooks as nbd

    for seed in range(4):
        history = _history(seed, True, versions=3)
        for nb in history[1::2]:
            nb["cells"] = [dict(reversed(list(cell.items()))) for cell in nb["cells"]]
        for a, b in itertools.pairwise(history):
            theirs = nbdime.diff_notebooks(nbformat.reads(json.dumps(a), 4), nbformat.reads(json.dumps(b), 4))
            assert json.dumps(mlm.diff_notebooks(a, b), sort_keys=True) == json.dumps(theirs, sort_keys=True)
    atomic = {**nbd.notebook_config._atomic_paths, "/cells/*/source": True, "/cells/*/metadata": True}
    monkeypatch.setattr(nbd.notebook_config, "_atomic_paths", atomic)
    a, b = _history(5, True, versions=1)
    theirs = nbdime.diff_notebooks(nbformat.reads(json.dumps(a), 4), nbformat.reads(json.dumps(b), 4))
    ours = mlm.diff_notebooks(a, b)
    assert json.dumps(ours, sort_keys=True) == json.dumps(theirs, sort_keys=True)
    assert any(e["op"] == "replace" and e["key"] == "source" for c in ours[0]["diff"] for e in c.get("diff", []))


def test_matcher_gives_difflibs_ratios_and_opcodes() -> None:
    """The compiled matcher (cydifflib) must agree with difflib on every ratio and opcode."""
    import difflib

    from jupyter_mlm.diffs import similarity

    rng = random.Random(5)
    alphabet = "ab cd_=()\n0123456789é"
    for _ in range(1500):
        x = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))
        y = list(x)
        for _ in range(rng.randint(0, 8)):
            if y:
                y[rng.randrange(len(y))] = rng.choice(alphabet)
        other = "".join(y) if rng.random() < 0.7 else "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))
        ours = similarity.SequenceMatcher(None, x, other, autojunk=False)
        plain = difflib.SequenceMatcher(None, x, other, autojunk=False)
        assert (ours.ratio(), ours.quick_ratio(), ours.get_opcodes()) == (
            plain.ratio(),
            plain.quick_ratio(),
            plain.get_opcodes(),
        )


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


@pytest.mark.parametrize("ids", ["unique", "duplicated", "none"])
def test_stored_snapshots_diff_like_nbdime_on_their_steady_cells(tmp_path: Any, ids: str) -> None:
    """Snapshot diffs read stored cells lazily and align cells whose digest both snapshots share
    by that digest when both manifests vouch for unique ids. Moved, duplicated and id-less cells
    must still give nbdime's diff of the two steady notebooks."""
    from jupyter_mlm.capture.notebook import NotebookWriter
    from jupyter_mlm.diffs.stored import notebook_diff, steady_notebook
    from jupyter_mlm.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'mlm.db'}", str(tmp_path / "objects"))
    writer = NotebookWriter(store.objects)
    for seed in range(4):
        history = _history(seed + 40, ids != "none", versions=4)
        if ids == "duplicated":
            for nb in history:
                nb["cells"][-1]["id"] = nb["cells"][0]["id"]
        manifests = [writer.store(nb, f"nb-{seed}") for nb in history]
        for first, second in itertools.pairwise(manifests):
            for strict in (False, True):
                ours = notebook_diff(store, first, second, strict=strict)["diff"]
                a = nbformat.from_dict(steady_notebook(store, first, strict))
                b = nbformat.from_dict(steady_notebook(store, second, strict))
                assert json.dumps(ours, sort_keys=True) == json.dumps(nbdime.diff_notebooks(a, b), sort_keys=True)
    store.close()


def test_base64_check_is_nbdimes() -> None:
    """The regex-free base64 test decides every string as nbdime's regex does, padding and
    case-folding characters (Kelvin sign, long s) included."""
    from nbdime.diffing.notebooks import _is_base64 as nbdime_is_base64

    from jupyter_mlm.diffs import similarity

    rng = random.Random(3)
    alphabet = "ABCxyz019+/=\n\r -é\u212a\u017f"
    ascii_alphabet = "ABCxyz019+/=\n\r\x0b\x0c\x1c\x1d\x1e\t -"
    cases = ["A" * 64, "A" * 62 + "==", "A" * 63 + "=", "A" * 61 + "===", "A" * 60 + "=A==", "A" * 64 + "\n", "=" * 64]
    cases += ["".join(rng.choice(alphabet) for _ in range(rng.randint(60, 90))) for _ in range(3000)]
    cases += ["".join(rng.choice(ascii_alphabet) for _ in range(rng.randint(60, 90))) for _ in range(3000)]
    cases += [
        "A" * 4 * n + breaks + "A" * 4 * n + pad
        for n in (8, 9)
        for breaks in ("\n", "\r\n", "\x0b", "\x1e", "\t")
        for pad in ("", "=", "==")
    ]
    cases += [
        "".join(rng.choice("ABab09+/\u212a") for _ in range(4 * rng.randint(15, 25))) + rng.choice(["", "=", "=="])
        for _ in range(3000)
    ]
    for text in cases:
        assert similarity._is_base64(text) == bool(nbdime_is_base64(text)), repr(text)


def test_ratio_bound_never_below_difflibs_ratio() -> None:
    """Rejections use an upper bound of difflib's ratio (the LCS similarity): it must never be
    lower than the ratio itself, or a pair nbdime aligns would be rejected."""
    import difflib

    from jupyter_mlm.diffs import similarity

    rng = random.Random(8)
    for _ in range(3000):
        x = "".join(rng.choice("ab c=.0123\n") for _ in range(rng.randint(1, 150)))
        y = "".join(rng.choice("ab c=.0123\n") for _ in range(rng.randint(1, 150)))
        ratio = difflib.SequenceMatcher(None, x, y, autojunk=False).ratio()
        assert similarity.ratio_bound(x, y) >= ratio - 1e-12


@pytest.mark.parametrize("ids", [True, False], ids=["with-ids", "no-ids"])
def test_equal_to_nbdime_without_rapidfuzz(monkeypatch: pytest.MonkeyPatch, ids: bool) -> None:
    """Where rapidfuzz is missing, rejections fall back to difflib's own bounds (character
    counts): slower, the same diffs."""
    from jupyter_mlm.diffs import similarity

    monkeypatch.setattr(similarity, "_Indel", None)
    monkeypatch.setattr(similarity, "_cdist", None)
    for seed in (1, 4):
        history = _history(seed, ids)
        for a, b in itertools.pairwise(history):
            theirs = nbdime.diff_notebooks(nbformat.reads(json.dumps(a), 4), nbformat.reads(json.dumps(b), 4))
            assert json.dumps(mlm.diff_notebooks(a, b), sort_keys=True) == json.dumps(theirs, sort_keys=True)


def test_id_level_trims_runs_of_equal_ids_without_changing_the_alignment() -> None:
    """Cells moved, inserted, deleted, without an id or with a duplicated id: the by-id snakes
    with the equal runs at both ends trimmed pair the same cells as the LCS over every cell."""
    from jupyter_mlm.diffs import notebooks, similarity

    def pairs(snakes: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
        return [(i + n, j + n) for i, j, k in snakes for n in range(k)]

    rng = random.Random(7)
    for case in range(3000):
        ids_a: list[Any] = [f"c{n}" for n in range(rng.randint(0, 15))]
        ids_b = list(ids_a)
        for _ in range(rng.randint(0, 3)):
            if ids_b:
                ids_b.insert(rng.randrange(len(ids_b) + 1), ids_b.pop(rng.randrange(len(ids_b))))
        if rng.random() < 0.3:
            ids_b.insert(rng.randrange(len(ids_b) + 1), f"new{case}")
        if rng.random() < 0.3 and ids_b:
            ids_b.pop(rng.randrange(len(ids_b)))
        if rng.random() < 0.2 and ids_b:
            ids_b[rng.randrange(len(ids_b))] = notebooks.NO_ID
        if rng.random() < 0.1 and ids_b:
            ids_b.insert(0, ids_b[-1])
        a, b = notebooks.CellList(None, ids_a, None, []), notebooks.CellList(None, ids_b, None, [])
        rect = (0, 0, len(ids_a), len(ids_b))
        everything = similarity.lcs_snakes(notebooks._id_rows(a, b, rect), len(ids_b))
        assert pairs(notebooks._id_snakes(a, b, rect)) == pairs(everything), (ids_a, ids_b)


def test_lazy_lcs_asks_only_what_it_needs_and_finds_the_same_snakes() -> None:
    from jupyter_mlm.diffs import similarity

    rng = random.Random(5)
    for _ in range(3000):
        n, m = rng.randint(1, 9), rng.randint(1, 9)
        density = rng.random()
        grid = [[rng.random() < density for _ in range(m)] for _ in range(n)]
        asked: list[tuple[int, int]] = []

        def compare(i: int, j: int, grid: list[list[bool]] = grid, asked: list[tuple[int, int]] = asked) -> bool:
            asked.append((i, j))
            return grid[i][j]

        rows = [sum(1 << j for j in range(m) if grid[i][j]) for i in range(n)]
        assert similarity.lazy_lcs_snakes(list(range(n)), list(range(m)), compare) == similarity.lcs_snakes(rows, m)
        assert len(asked) == len(set(asked)) <= n * m
    # Every line like every other: about one question per row, not one per pair.
    asked.clear()
    similarity.lazy_lcs_snakes(list(range(6)), list(range(8)), lambda i, j: asked.append((i, j)) or True)
    assert len(asked) <= 6 + 8
