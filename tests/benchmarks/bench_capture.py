"""Capture overhead, side by side with DVC, in one run.

Measures, on this machine:
  1. the per-cell cost of the execution-log hooks over a 200-cell notebook (median, p95), and the
     first snapshot of a fresh session (environment, package list, local sources);
  2. the run-end snapshot of a 200-cell notebook with a 1 GiB data file that has not changed;
  3. cold hashing of 1 GiB (no cache; file in the page cache) against ``dvc add`` of the same file,
     plus hash-and-store (``objects.put_file``) for comparison with DVC's hash-and-cache;
  4. storage for 100 runs of a 200-cell notebook changing one cell per run, against one full
     notebook plus the changed cells;
  5. peak resident memory while hashing a 4 GiB file.

DVC runs from its own virtual environment (``.venv-dvc``, made by ``make bench``) because its
pins would disturb the test environment. Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DVC = REPO / ".venv-dvc" / "bin" / "dvc"
GIB = 1 << 30


def make_notebook(cells: int) -> dict[str, Any]:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    nb = new_notebook()
    for i in range(cells):
        if i % 10 == 0:
            nb.cells.append(
                new_markdown_cell(f"## Section {i // 10}\n\nWhat this part of the analysis does, in a few words.")
            )
            continue
        source = "\n".join(f"value_{i}_{j} = compute({i}, {j})  # step {j}" for j in range(12))
        outputs = [new_output("stream", text="\n".join(f"epoch {k}: loss={1 / (k + 1):.4f}" for k in range(20)))]
        if i % 25 == 3:
            outputs.append(
                new_output("display_data", data={"image/png": "iVBORw0KGgo" + "A" * 40_000, "text/plain": "<Figure>"})
            )
        nb.cells.append(new_code_cell(source, outputs=outputs, execution_count=i))
    notebook: dict[str, Any] = json.loads(nbformat.writes(nb))
    return notebook


def bench_hooks(cells: int = 200) -> tuple[float, float]:
    from jupyter_mlm import kernel

    sources = [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in make_notebook(cells)["cells"]
    ]
    costs = []
    for index, source in enumerate(sources):
        info = SimpleNamespace(cell_id=f"cell-{index}", raw_cell=source)
        start = time.perf_counter()
        kernel._before_cell(info)
        kernel._after_cell(SimpleNamespace(success=True))
        costs.append((time.perf_counter() - start) * 1000)
    costs.sort()
    return statistics.median(costs), costs[int(len(costs) * 0.95)]


def bench_end_snapshot(workdir: Path, data: Path) -> tuple[float, float]:
    import jupyter_mlm as mlm
    from jupyter_mlm.capture.data import RECORDER
    from jupyter_mlm.store import open_store
    from jupyter_mlm.tracking import SESSION

    notebook = workdir / "analysis.ipynb"
    notebook.write_text(json.dumps(make_notebook(200)))
    os.environ["JPY_SESSION_NAME"] = str(notebook)
    SESSION.use_store(open_store(str(workdir / "snap-store")))
    RECORDER.install()
    mlm.start_run("warm-up")  # fills the environment and file-hash caches, as the first run of a session does
    with open(data, "rb") as handle:
        handle.read(1024)
    start = time.perf_counter()
    mlm.end_run()
    first = time.perf_counter() - start
    mlm.start_run("measured")
    with open(data, "rb") as handle:
        handle.read(1024)
    start = time.perf_counter()
    mlm.end_run()
    return first, time.perf_counter() - start


def bench_first_snapshot(workdir: Path) -> list[float]:
    """The first snapshot of a new session (fresh interpreter): environment, packages, sources,
    a 200-cell notebook. Median of three fresh processes."""
    notebook = workdir / "first.ipynb"
    notebook.write_text(json.dumps(make_notebook(200)))
    code = textwrap.dedent(
        f"""
        import os, time
        os.environ["JPY_SESSION_NAME"] = {str(notebook)!r}
        import jupyter_mlm as mlm
        from jupyter_mlm.store import open_store
        from jupyter_mlm.tracking import SESSION
        SESSION.use_store(open_store({str(workdir / "first-store")!r}))
        start = time.perf_counter()
        mlm.start_run("first")
        print(time.perf_counter() - start)
        mlm.end_run()
        """
    )
    times = []
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return sorted(times)


def bench_hashing(workdir: Path, data: Path) -> tuple[float, float, float | None]:
    from jupyter_mlm.capture.hashing import hash_file
    from jupyter_mlm.store.objects import LocalObjectStore

    hash_file(data)  # page cache warm for everyone alike
    start = time.perf_counter()
    hash_file(data)
    hashing = GIB / (time.perf_counter() - start) / 1e9
    objects = LocalObjectStore(workdir / "put-objects")
    start = time.perf_counter()
    objects.put_file(data)
    put = GIB / (time.perf_counter() - start) / 1e9
    dvc_seconds = None
    if DVC.exists():
        repo = workdir / "dvc-repo"
        repo.mkdir()
        shutil.copy(data, repo / "data.bin")
        subprocess.run([str(DVC), "init", "--no-scm", "-q"], cwd=repo, check=True)
        start = time.perf_counter()
        subprocess.run([str(DVC), "add", "-q", "data.bin"], cwd=repo, check=True)
        dvc_seconds = time.perf_counter() - start
    return hashing, put, dvc_seconds


def bench_storage(workdir: Path, runs: int = 100) -> tuple[int, int, int]:
    from jupyter_mlm.capture.notebook import NotebookWriter
    from jupyter_mlm.store.objects import LocalObjectStore

    def canonical(value: object) -> int:
        return len(json.dumps(value, sort_keys=True, separators=(",", ":")).encode())

    objects = LocalObjectStore(workdir / "storage-objects")
    writer = NotebookWriter(objects)
    notebook = make_notebook(200)
    bound = canonical(notebook)
    for run in range(runs):
        changed = 1 + (run * 7) % 199
        if notebook["cells"][changed]["cell_type"] == "markdown":
            changed += 1
        notebook["cells"][changed]["source"] = f"value = retrain(run={run})"
        notebook["cells"][changed]["outputs"] = [
            {"output_type": "stream", "name": "stdout", "text": f"run {run} done\n"}
        ]
        bound += canonical(notebook["cells"][changed])
        writer.store(notebook, "analysis.ipynb")  # start snapshot
        writer.store(notebook, "analysis.ipynb")  # end snapshot
    return objects.stats()[1], bound, canonical(notebook)


def bench_rss_4gib(workdir: Path) -> float:
    big = workdir / "four.bin"
    block = os.urandom(16 << 20)
    with open(big, "wb") as handle:  # real pages: a sparse file would map the shared zero page
        for _ in range(256):
            handle.write(block)
    # The high-water mark is reset just before hashing (Linux clear_refs 5), so the figure is what
    # hashing adds, not a peak left over from importing the package.
    code = textwrap.dedent(
        f"""
        from jupyter_mlm.capture.hashing import hash_file
        def status(field):
            with open("/proc/self/status") as handle:
                line = next(l for l in handle if l.startswith(field + ":"))
            return int(line.split()[1]) / 1000
        before = status("VmRSS")
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        hash_file({str(big)!r})
        print(status("VmHWM") - before)
        """
    )
    peak = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    big.unlink()
    return float(peak.stdout)


def main() -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("MLM_BENCH_DIR", "/tmp")) as tmp:
        workdir = Path(tmp)
        data = workdir / "data-1gib.bin"
        with open(data, "wb") as handle:
            for _ in range(64):
                handle.write(os.urandom(16 << 20))
        print("jupyter_mlm capture benchmark (this machine, one run; DVC measured alongside)\n")

        median, p95 = bench_hooks()
        print(
            f"execution-log hooks per cell  : median {median * 1000:.1f} µs, "
            f"p95 {p95 * 1000:.1f} µs (200 cells; target ≤ 20 µs median)"
        )

        firsts = bench_first_snapshot(workdir)
        print(f"first snapshot of a session (fresh process, 200 cells): median {firsts[1] * 1000:.1f} ms "
              f"(min {firsts[0] * 1000:.1f}, max {firsts[2] * 1000:.1f}; target ≤ 150 ms)")  # fmt: skip

        first, measured = bench_end_snapshot(workdir, data)
        print(f"run-end snapshot, 200 cells + unchanged 1 GiB file: {measured * 1000:.1f} ms "
              f"(first end snapshot of the session: {first * 1000:.1f} ms; target ≤ 50 ms)")  # fmt: skip

        hashing, put, dvc_seconds = bench_hashing(workdir, data)
        print(f"cold BLAKE3 of 1 GiB           : {hashing:.2f} GB/s ({1 / hashing:.2f} s)")
        print(f"hash + store 1 GiB (put_file)  : {put:.2f} GB/s ({1 / put:.2f} s)")
        if dvc_seconds is not None:
            print(f"dvc add of the same 1 GiB      : {dvc_seconds:.2f} s ({1 / dvc_seconds:.2f} GB/s)")
            print(
                f"  → hashing {dvc_seconds * hashing:.1f}× faster than dvc add; "
                f"hash + store {dvc_seconds * put:.1f}× faster"
            )
        else:
            print("dvc add                        : skipped (run `make bench` to create .venv-dvc)")

        stored, bound, one = bench_storage(workdir)
        print(f"100 runs × 200 cells, one cell changed per run: {stored / 1e6:.2f} MB stored; "
              f"one full notebook + changed cells = {bound / 1e6:.2f} MB → {stored / bound:.2f}× (target ≤ 1.2×; "
              f"one notebook alone {one / 1e6:.2f} MB)")  # fmt: skip

        print(f"peak resident memory hashing 4 GiB: +{bench_rss_4gib(workdir):.1f} MB (target < 100 MB)")


if __name__ == "__main__":
    main()
