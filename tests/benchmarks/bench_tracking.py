"""Tracking speed, side by side with MLflow (SQLite tracking URI), in one run.

Measures, on this machine:
  1. ``mlm.log_metric`` vs ``mlflow.log_metric``: µs per call (amortised, flushes included);
  2. batch ingestion into SQLite: a 1,000,000-point batch through the store vs
     ``MlflowClient.log_batch`` (1,000 metrics per call, its limit): points/s;
  3. ``%load_ext jupyter_mlm`` vs ``import mlflow``: wall time and resident memory added,
     each in a fresh interpreter;
  4. 10,000,000 ``log_metric`` calls in one run: the largest number of points the buffer held
     and the resident memory added (the buffer must stay bounded).

Run: ``make bench`` (installs the ``bench`` extra) or ``.venv/bin/python tests/benchmarks/bench_tracking.py``.
Prints figures and ratios; asserts nothing (the tests never time anything).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from array import array
from pathlib import Path


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def fresh_python(code: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, check=True, env={**os.environ, **(env or {})},
    )  # fmt: skip
    return result.stdout.strip()


def bench_load_ext(workdir: Path) -> tuple[tuple[float, float], tuple[float, float]]:
    mlm = fresh_python(
        """
        import os, time
        from IPython.core.interactiveshell import InteractiveShell
        def rss():
            return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 1e6
        shell = InteractiveShell.instance()
        before = rss(); start = time.perf_counter()
        shell.run_line_magic('load_ext', 'jupyter_mlm')
        print(time.perf_counter() - start, rss() - before)
        """,
        {"MLM_STORE_URI": str(workdir / "loadext")},
    )
    mlflow = fresh_python(
        """
        import os, time
        from IPython.core.interactiveshell import InteractiveShell
        def rss():
            return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 1e6
        shell = InteractiveShell.instance()
        before = rss(); start = time.perf_counter()
        import mlflow
        print(time.perf_counter() - start, rss() - before)
        """
    )
    a, b = (tuple(map(float, line.split())) for line in (mlm, mlflow))
    return (a[0], a[1]), (b[0], b[1])


def bench_log_metric(workdir: Path, calls: int, mlflow_calls: int) -> tuple[float, float]:
    import mlflow

    import jupyter_mlm as mlm
    from jupyter_mlm.store import open_store
    from jupyter_mlm.tracking import SESSION

    SESSION.use_store(open_store(str(workdir / "mlm-store")))
    mlm.start_run("bench")
    start = time.perf_counter()
    for i in range(calls):
        mlm.log_metric("loss", 1.0 / (i + 1))
    mlm.end_run()  # includes the final flush
    ours = (time.perf_counter() - start) / calls * 1e6

    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    mlflow.start_run()
    mlflow.log_metric("warmup", 0.0)
    start = time.perf_counter()
    for i in range(mlflow_calls):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    theirs = (time.perf_counter() - start) / mlflow_calls * 1e6
    mlflow.end_run()
    return ours, theirs


def bench_batch(workdir: Path, points: int, mlflow_points: int) -> tuple[float, float]:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    from jupyter_mlm.store import open_store

    store = open_store(str(workdir / "batch-store"))
    run = store.create_run(store.get_or_create_experiment("bench").id, "batch")
    steps = array("q", range(points))
    values = array("d", (i * 0.5 for i in range(points)))
    stamps = array("q", [1_700_000_000_000]) * points
    start = time.perf_counter()
    store.log_metric_batch(run.id, {"loss": (steps, values, stamps)})
    ours = points / (time.perf_counter() - start)

    client = MlflowClient(f"sqlite:///{workdir / 'mlflow-batch.db'}")
    run_id = client.create_run(client.create_experiment("bench")).info.run_id
    metrics = [Metric("loss", i * 0.5, 1_700_000_000_000, i) for i in range(mlflow_points)]
    start = time.perf_counter()
    for offset in range(0, mlflow_points, 1000):
        client.log_batch(run_id, metrics=metrics[offset : offset + 1000])
    theirs = mlflow_points / (time.perf_counter() - start)
    return ours, theirs


def bench_bounded_buffer(workdir: Path, calls: int) -> tuple[int, float, float]:
    import jupyter_mlm as mlm
    from jupyter_mlm.store import open_store
    from jupyter_mlm.tracking import SESSION

    SESSION.use_store(open_store(str(workdir / "big-store")))
    mlm.start_run("ten-million")
    before = rss_mb()
    peak_pending, peak_rss = 0, before
    start = time.perf_counter()
    for i in range(calls):
        mlm.log_metric("loss", 1.0 / (i + 1))
        if i % 50_000 == 0:
            peak_pending = max(peak_pending, SESSION.buffer.pending)
            peak_rss = max(peak_rss, rss_mb())
    mlm.end_run()
    elapsed = time.perf_counter() - start
    return peak_pending, peak_rss - before, elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        print("jupyter_mlm tracking benchmark (this machine, one run; MLflow measured alongside)\n")

        (ours_t, ours_mb), (mlflow_t, mlflow_mb) = bench_load_ext(workdir)
        print(f"%load_ext jupyter_mlm : {ours_t * 1000:8.1f} ms  {ours_mb:6.1f} MB added")
        print(f"import mlflow         : {mlflow_t * 1000:8.1f} ms  {mlflow_mb:6.1f} MB added")
        print(f"  → {mlflow_t / ours_t:.0f}× faster to load, {mlflow_mb / max(ours_mb, 0.1):.0f}× less memory\n")

        ours_us, mlflow_us = bench_log_metric(workdir, calls=1_000_000, mlflow_calls=300)
        print(f"mlm.log_metric        : {ours_us:10.2f} µs/call (1,000,000 calls, flushes included)")
        print(f"mlflow.log_metric     : {mlflow_us:10.2f} µs/call (300 calls)")
        print(f"  → {mlflow_us / ours_us:,.0f}× faster\n")

        ours_pps, mlflow_pps = bench_batch(workdir, points=1_000_000, mlflow_points=10_000)
        print(f"store batch, 1M points: {ours_pps:12,.0f} points/s")
        print(f"MlflowClient.log_batch: {mlflow_pps:12,.0f} points/s (10,000 points)")
        print(f"  → {ours_pps / mlflow_pps:,.0f}× faster\n")

        pending, added, elapsed = bench_bounded_buffer(workdir, calls=10_000_000)
        print(f"10,000,000 log_metric calls in {elapsed:.1f} s: buffer peaked at {pending:,} points, "
              f"resident memory +{added:.1f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
