"""Notebook diffs on re-executed histories, side by side with nbdime, in one run.

The case ``bench_diff.py`` does not cover: consecutive versions of a notebook that was re-run
between commits, so most cells carry new outputs (regenerated numbers and images) while only a
few sources were edited and a cell or two moved. Identical-cell alignment finds little to skip
there. Generates ``VERSIONS`` such versions of a 120-cell notebook, diffs every consecutive pair
with ``mlm.diff_notebooks`` and with nbdime, checks the diffs are identical and prints the total
and median ratios (see ``run`` for the two ways it times them). Prints figures; asserts nothing.
(Issue 12, item 7: the goal is ≥ 10× in total.)
"""

from __future__ import annotations

import copy
import itertools
import random
import statistics
import time
from typing import Any

CELLS = 120
VERSIONS = 25


def base_notebook(rng: random.Random) -> dict[str, Any]:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    nb = new_notebook()
    for i in range(CELLS):
        if i % 8 == 0:
            nb.cells.append(new_markdown_cell(f"## Step {i // 8}\n\nWhat this part does."))
            continue
        source = "\n".join(f"x_{i}_{j} = f({i}, {j})" for j in range(rng.randint(2, 8)))
        nb.cells.append(new_code_cell(source, outputs=[new_output("stream", text="0\n")], execution_count=i))
    normalized = nbformat.validator.normalize(nb)[1] if hasattr(nbformat.validator, "normalize") else nb
    notebook: dict[str, Any] = nbformat.from_dict(normalized)
    return notebook


def reexecuted(previous: dict[str, Any], rng: random.Random, version: int) -> dict[str, Any]:
    """The next version: re-run (new outputs in ~90 % of code cells), 3 sources edited, 1 cell moved."""
    from nbformat.v4 import new_output

    nb = copy.deepcopy(previous)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for count, cell in enumerate(code, 1):
        cell["execution_count"] = count
        if rng.random() < 0.9:
            numbers = "\n".join(f"loss={rng.random():.6f}" for _ in range(rng.randint(1, 6)))
            outputs = [new_output("stream", text=numbers + "\n")]
            if rng.random() < 0.15:
                image = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/") for _ in range(4000))
                outputs.append(new_output("display_data", data={"image/png": image, "text/plain": "<Figure>"}))
            cell["outputs"] = outputs
    for cell in rng.sample(code, 3):
        cell["source"] = cell["source"] + f"\nx = tune({version})"
    cells = nb["cells"]
    moved = cells.pop(rng.randrange(1, len(cells)))
    cells.insert(rng.randrange(1, len(cells)), moved)
    return nb


def without_ids(nb: dict[str, Any]) -> dict[str, Any]:
    """The same notebook as nbformat 4.4 saved it (no cell ids): most notebooks in public
    repositories' histories, and the case where nbdime aligns every cell by content."""
    nb = copy.deepcopy(nb)
    nb["nbformat_minor"] = 4
    for cell in nb["cells"]:
        cell.pop("id", None)
    return nb


def run(history: list[dict[str, Any]], label: str, passes: int = 1) -> None:
    """Two ways, both printed.

    As a user diffs a history: each tool diffs every pair back to back, the tools taking turns
    over the whole history ``passes`` times (which goes first alternates, each pass starts with
    nothing remembered), and the ratio of the median totals.

    Pair by pair: each pair diffed by ours and then by nbdime, once over the history; this pass
    also checks the diffs are identical. Each of our diffs then runs right after an nbdime diff
    of the pair before, whose allocations have evicted our data and code from the CPU caches
    (touching 1.6 MB of unrelated memory between our diffs costs ours the same ~15 %), a
    condition no user meets; it is printed as the cold-cache figure."""
    import json

    import nbdime

    from jupyter_mlm.diffs import similarity
    from jupyter_mlm.diffs.notebooks import diff_notebooks

    pairs = list(itertools.pairwise(history))
    similarity.forget()
    ours_times, theirs_times, equal = [], [], 0
    for a, b in pairs:
        start = time.perf_counter()
        ours = diff_notebooks(a, b)
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = nbdime.diff_notebooks(a, b)
        theirs_times.append(time.perf_counter() - start)
        equal += json.dumps(ours, sort_keys=True) == json.dumps(theirs, sort_keys=True)
    ratios = sorted(t / o for t, o in zip(theirs_times, ours_times, strict=True))
    print(f"{label}: identical to nbdime (entry for entry) {equal} of {len(pairs)}")
    print(f"  pair by pair (each of ours right after an nbdime diff): ours {sum(ours_times) * 1000:.0f} ms, "
          f"nbdime {sum(theirs_times) * 1000:.0f} ms → {sum(theirs_times) / sum(ours_times):.1f}×; per pair median "
          f"{statistics.median(ratios):.1f}×, slowest tenth ≤ {ratios[max(0, len(pairs) // 10 - 1)]:.1f}×")  # fmt: skip

    def whole_history(differ: Any) -> float:
        similarity.forget()
        start = time.perf_counter()
        for a, b in pairs:
            differ(a, b)
        return time.perf_counter() - start

    ours_totals, theirs_totals = [], []
    for number in range(passes):
        if number % 2 == 0:
            ours_totals.append(whole_history(diff_notebooks))
            theirs_totals.append(whole_history(nbdime.diff_notebooks))
        else:
            theirs_totals.append(whole_history(nbdime.diff_notebooks))
            ours_totals.append(whole_history(diff_notebooks))
    ours_total, theirs_total = statistics.median(ours_totals), statistics.median(theirs_totals)
    per_pass = sorted(t / o for t, o in zip(theirs_totals, ours_totals, strict=True))
    print(f"  whole history, tools taking turns, {passes} passes: ours {ours_total * 1000:.0f} ms, nbdime "
          f"{theirs_total * 1000:.0f} ms (medians) → {theirs_total / ours_total:.1f}× (goal ≥ 10×; passes "
          f"{per_pass[0]:.1f}–{per_pass[-1]:.1f}×)")  # fmt: skip


def main() -> None:
    import nbdime

    from jupyter_mlm.diffs import similarity
    from jupyter_mlm.diffs.notebooks import diff_notebooks

    rng = random.Random(12)
    history = [base_notebook(rng)]
    for version in range(1, VERSIONS + 1):
        history.append(reexecuted(history[-1], rng, version))
    diff_notebooks(history[0], history[1])  # imports, on both sides, outside the timings
    nbdime.diff_notebooks(history[0], history[1])
    print("jupyter_mlm notebook diff on re-executed histories (this machine, one run; nbdime alongside)")
    print(f"{VERSIONS} consecutive pairs of a {CELLS}-cell notebook, ~90 % of outputs regenerated, 3 sources "
          f"edited and 1 cell moved per version; matcher: {vars(similarity)['SequenceMatcher'].__module__}\n")  # fmt: skip
    run(history, "nbformat 4.5 (cell ids)", passes=7)
    run([without_ids(nb) for nb in history], "nbformat 4.4 (no ids)", passes=3)


if __name__ == "__main__":
    main()
