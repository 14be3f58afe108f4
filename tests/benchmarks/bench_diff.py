"""Diff speed, side by side with nbdime, in one run.

Measures, on this machine:
  1. notebook diff of 2,000 code cells with 5 % edited and a few cells inserted and deleted:
     ``mlm.diff_notebooks`` vs ``nbdime.diff_notebooks`` on the same pair (and that they agree);
  2. the whole ``mlm.diff`` of two runs whose snapshots hold 2,000-cell notebooks, 500 packages
     and 1,000 data files.

Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import copy
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbdime
import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from jupyter_mlm.capture.snapshot import SnapshotWriter
from jupyter_mlm.diffs.notebooks import diff_notebooks
from jupyter_mlm.diffs.runs import diff_runs
from jupyter_mlm.store import open_store


def pair(cells: int = 2000, seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = random.Random(seed)
    a = json.loads(json.dumps(new_notebook(cells=[
        new_code_cell(f"result_{i} = model.step({i})\nprint(result_{i})", execution_count=i,
                      outputs=[new_output("stream", text=f"step {i}: {rng.random():.5f}\n")])
        for i in range(cells)
    ])))  # fmt: skip
    b = copy.deepcopy(a)
    for i in rng.sample(range(cells), cells // 20):
        b["cells"][i]["source"] += "\n# tuned"
    for i in sorted(rng.sample(range(cells - 50), 5), reverse=True):
        del b["cells"][i]
    for i in rng.sample(range(cells - 50), 5):
        b["cells"].insert(i, dict(new_code_cell(f"inserted_{i}()")))
    return a, b


def reexecuted(notebook: dict[str, Any], offset: int) -> dict[str, Any]:
    """The notebook as a second execution leaves it: every cell has new execution counts and
    timing metadata (nbclient, papermill, JupyterLab's recordTiming), so no cell digest repeats."""
    again = copy.deepcopy(notebook)
    for n, cell in enumerate(again["cells"]):
        cell["execution_count"] = n + offset
        cell["metadata"]["execution"] = {
            "iopub.execute_input": f"2026-11-23T09:{n % 60:02d}:00.{offset:06d}Z",
            "shell.execute_reply": f"2026-11-23T09:{n % 60:02d}:01.{offset:06d}Z",
        }
    return again


def timed(func: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    print("jupyter_mlm diff benchmark (this machine, one run; nbdime measured alongside)\n")
    a, b = pair()
    ours = timed(lambda: diff_notebooks(a, b), 5)
    na, nb = nbformat.from_dict(copy.deepcopy(a)), nbformat.from_dict(copy.deepcopy(b))
    theirs = timed(lambda: nbdime.diff_notebooks(na, nb), 1)
    same = json.dumps(diff_notebooks(a, b), sort_keys=True) == json.dumps(
        json.loads(json.dumps(nbdime.diff_notebooks(na, nb))), sort_keys=True
    )
    print("notebook diff, 2,000 cells, 5 % edited, 5 inserted, 5 deleted:")
    print(f"  mlm.diff_notebooks   : {ours * 1000:8.1f} ms (target ≤ 50 ms)")
    print(f"  nbdime.diff_notebooks: {theirs * 1000:8.1f} ms")
    print(f"  → {theirs / ours:.0f}× faster; identical diff: {same}\n")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = open_store(str(root / "store"))
        exp = store.get_or_create_experiment("bench")
        writer = SnapshotWriter(store)
        rng = random.Random(1)
        files = []
        for i in range(1000):
            path = root / "data" / f"part-{i:04d}.csv"
            path.parent.mkdir(exist_ok=True)
            path.write_text(f"{i},{rng.random()}\n")
            files.append(str(path))
        packages = {f"package-{i}": f"1.{i}.0" for i in range(500)}
        runs = []
        for name, notebook in (("a", a), ("b", b), ("b-again", reexecuted(b, 5000))):
            if name == "b":  # "b-again" re-runs b on the same data and packages
                for i in rng.sample(range(1000), 50):
                    Path(files[i]).write_text(f"changed {i}\n")
                packages = {**packages, **{f"package-{i}": f"2.{i}.0" for i in range(0, 500, 25)}}
            run = store.create_run(exp.id, name)
            store.log_params(run.id, {f"p{i}": i * (2 if name == "b" else 1) for i in range(50)})
            store.log_metric_batch(run.id, {f"m{i}": ([0], [rng.random()], [0]) for i in range(50)})
            executions: list[Any] = []
            writer.take(run, "end", notebook=notebook, notebook_source="disk", executions=executions, sources={},
                        data_files=files, environment={"python": {"version": "3.11.7"}, "packages": packages})  # fmt: skip
            store.end_run(run.id)
            runs.append(run.id)
        whole = timed(lambda: diff_runs(store, runs[0], runs[1]), 5)
        result = diff_runs(store, runs[0], runs[1])
        assert result.notebook is not None
        print("whole mlm.diff of two runs (2,000-cell notebooks, 500 packages, 1,000 data files):")
        print(
            f"  {whole * 1000:.1f} ms (target ≤ 150 ms): {len(result.data['changed'])} files, "
            f"{len(result.environment['packages']['changed'])} packages, {result.notebook['summary']['changed']} cells changed"
        )
        # The same pair, but b executed once more: every cell digest differs (timings, counts), so
        # each cell is read once to see past its volatile fields; keys are then remembered.
        cold_start = time.perf_counter()
        cold_result = diff_runs(store, runs[0], runs[2])
        cold = time.perf_counter() - cold_start
        assert cold_result.notebook is not None
        warm = timed(lambda: diff_runs(store, runs[0], runs[2]), 5)
        print("the same, b re-executed (new execution counts and timings in every cell):")
        print(
            f"  {cold * 1000:.1f} ms first diff, {warm * 1000:.1f} ms after (target ≤ 150 ms): "
            f"{cold_result.notebook['summary']['changed']} cells changed"
        )


if __name__ == "__main__":
    main()
