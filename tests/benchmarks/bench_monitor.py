"""Monitoring speed, side by side with Evidently, in one run.

Measures, on this machine:
  1. profiling 1,000,000 rows × 50 numeric columns and computing drift against a 100,000-row
     reference (target ≤ 1 s), and the same for 100,000 current rows;
  2. ``mlm.monitor.log`` of a 1,000-row batch into a real store (target ≤ 5 ms), median of 50;
  3. peak memory added while profiling the 1M-row batch, against the batch's own size
     (target ≤ 2×);
  4. Evidently 0.7's DataDriftPreset on the same 100,000-row current data (``MLM_BENCH_FULL=1``:
     also the 1,000,000-row one, minutes), and whether both flag the same columns.

Evidently runs from its own virtual environment (``.venv-evidently``, made by ``make bench``):
it needs pandas < 3. Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
EVIDENTLY = REPO / ".venv-evidently" / "bin" / "python"
COLUMNS = 50
DRIFTED = 10  # the first ten columns shift by 0.3 standard deviations


def data(rows: int, seed: int, drift: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.normal(0.0, 1.0, (rows, COLUMNS))
    if drift:
        values[:, :DRIFTED] += 0.3
    return pd.DataFrame(values, columns=[f"c{i}" for i in range(COLUMNS)])


def ours(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[float, set[str]]:
    from jupyter_mlm.stats.drift import dataset_drift
    from jupyter_mlm.stats.profiles import profile
    from jupyter_mlm.stats.reference import bins_of, build_reference

    ref = build_reference(reference)  # done once, at registration
    # Imports are a process's cost, not a batch's (Evidently's are not timed either).
    import scipy.spatial.distance
    import scipy.stats  # noqa: F401

    start = time.perf_counter()
    result = dataset_drift(ref, profile(current, reference=bins_of(ref)))
    seconds = time.perf_counter() - start
    return seconds, {c["column"] for c in result["columns"] if c["drifted"]}


def log_batches(workdir: Path) -> float:
    import jupyter_mlm as mlm
    from jupyter_mlm.store import open_store
    from jupyter_mlm.tracking import SESSION

    SESSION.use_store(open_store(str(workdir / "store")))
    train = data(5000, 1, False).iloc[:, :20]
    mlm.register_model({"weights": [1]}, "bench", reference_data=train)
    mlm.transition("bench", 1, "production")
    batch = data(1000, 2, True).iloc[:, :20]
    predictions = np.zeros(1000, dtype=int)
    mlm.monitor.log("bench", batch, predictions=predictions)  # warm caches
    costs = []
    for _ in range(50):
        start = time.perf_counter()
        mlm.monitor.log("bench", batch, predictions=predictions)
        costs.append(time.perf_counter() - start)
    SESSION.use_store(None)
    return statistics.median(costs)


def peak_memory(rows: int) -> tuple[float, float]:
    """(MB added at peak while profiling, MB of the batch itself), in a fresh process."""
    code = textwrap.dedent(
        f"""
        import numpy as np, pandas as pd, resource
        from jupyter_mlm.stats.profiles import profile
        frame = pd.DataFrame(np.random.default_rng(0).normal(size=({rows}, {COLUMNS})))
        frame.columns = [f"c{{i}}" for i in range({COLUMNS})]
        with open("/proc/self/status") as handle:
            before = next(int(l.split()[1]) for l in handle if l.startswith("VmRSS:")) / 1000
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        profile(frame)
        with open("/proc/self/status") as handle:
            peak = next(int(l.split()[1]) for l in handle if l.startswith("VmHWM:")) / 1000
        print(peak - before, frame.memory_usage(index=False).sum() / 1e6)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    added, size = done.stdout.split()
    return float(added), float(size)


EVIDENTLY_RUN = textwrap.dedent(
    """
    import json, sys, time
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset
    reference = pd.read_parquet(sys.argv[1])
    current = pd.read_parquet(sys.argv[2])
    start = time.perf_counter()
    result = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    seconds = time.perf_counter() - start
    scores = {}
    for metric in result.dict()["metrics"]:
        name = str(metric.get("metric_name") or metric.get("metric_id") or "")
        if name.startswith("ValueDrift(") and "column=" in name:
            column = name.split("column=", 1)[1].split(",", 1)[0].rstrip(")")
            scores[column] = metric["value"]
    print(json.dumps({"seconds": seconds, "scores": scores}))
    """
)


def evidently(reference: Path, current: Path) -> tuple[float, set[str]] | None:
    if not EVIDENTLY.exists():
        return None
    done = subprocess.run([str(EVIDENTLY), "-c", EVIDENTLY_RUN, str(reference), str(current)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # Evidently's default for numeric columns with a reference over 1,000 rows: normed
    # Wasserstein, drifted at a score of 0.1 or more.
    return result["seconds"], {c for c, score in result["scores"].items() if score >= 0.1}


def main() -> None:
    print("jupyter_mlm monitoring benchmark (this machine, one run; Evidently measured alongside)\n")
    reference = data(100_000, 0, False)
    big = data(1_000_000, 3, True)
    small = big.iloc[:100_000].reset_index(drop=True)
    seconds_big, drifted_big = ours(reference, big)
    seconds_small, drifted_small = ours(reference, small)
    expected = {f"c{i}" for i in range(DRIFTED)}
    print(f"profile + drift, 1,000,000 × {COLUMNS} vs a 100,000-row reference: {seconds_big:.2f} s (target ≤ 1 s); "
          f"drifted {len(drifted_big)} columns, the shifted ones: {drifted_big == expected}")  # fmt: skip
    print(f"profile + drift,   100,000 × {COLUMNS}: {seconds_small:.2f} s")
    with tempfile.TemporaryDirectory(dir=os.environ.get("MLM_BENCH_DIR", "/tmp")) as tmp:
        workdir = Path(tmp)
        per_batch = log_batches(workdir)
        print(f"mlm.monitor.log of a 1,000-row × 20-column batch (store, rules): {per_batch * 1000:.1f} ms "
              f"(median of 50; target ≤ 5 ms)")  # fmt: skip
        added, size = peak_memory(1_000_000)
        print(f"peak memory added profiling 1,000,000 × {COLUMNS}: +{added:.0f} MB for a {size:.0f} MB batch "
              f"({added / size:.2f}×; target ≤ 2×)")  # fmt: skip
        ref_path, small_path, big_path = workdir / "ref.parquet", workdir / "small.parquet", workdir / "big.parquet"
        try:
            reference.to_parquet(ref_path)
            small.to_parquet(small_path)
        except ImportError:
            print("evidently: skipped (pyarrow is needed to hand it the data)")
            return
        theirs = evidently(ref_path, small_path)
        if theirs is None:
            print("evidently: skipped (run `make bench` to create .venv-evidently)")
            return
        print(f"Evidently DataDriftPreset,   100,000 × {COLUMNS}: {theirs[0]:.2f} s → ours {theirs[0] / seconds_small:.0f}× "
              f"faster; same columns drifted: {theirs[1] == drifted_small} (Evidently {len(theirs[1])}, ours {len(drifted_small)})")  # fmt: skip
        if os.environ.get("MLM_BENCH_FULL") == "1":
            big.to_parquet(big_path)
            full = evidently(ref_path, big_path)
            assert full is not None
            print(f"Evidently DataDriftPreset, 1,000,000 × {COLUMNS}: {full[0]:.1f} s → ours "
                  f"{full[0] / seconds_big:.0f}× faster; same columns: {full[1] == drifted_big}")  # fmt: skip


if __name__ == "__main__":
    main()
