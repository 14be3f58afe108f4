"""kill -9 in the middle of writing never leaves the store inconsistent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

import jupyter_mlm.store.tables as t
from jupyter_mlm.store import open_store

# Metrics, artifacts and model versions written as fast as possible: a kill lands in the middle
# of a blob write, a metric flush or a registry transaction.
WRITER = textwrap.dedent(
    """
    import sys
    import jupyter_mlm as mlm
    mlm.start_run(f"victim-{sys.argv[1]}", experiment="crash")
    i = 0
    while True:
        mlm.log_metric("x", float(i))
        if i % 40 == 0:
            mlm.flush()
            mlm.log_text(f"note {i} " + "n" * 4000, f"notes/{i}.txt")
            mlm.register_model({"i": i, "padding": "p" * 50_000}, "crashy", description=f"after {i} points")
            print("tick", flush=True)
        i += 1
    """
)
# Where, after the n-th completed round of writes, the kill lands (seconds).
KILL_DELAYS = (0.0, 0.003, 0.011, 0.027, 0.05)


@pytest.mark.timeout(300)
def test_store_is_consistent_after_writers_are_killed_mid_write(store_uri: str, tmp_path: Path) -> None:
    objects = str(tmp_path / "objects")
    env = {**os.environ, "MLM_STORE_URI": store_uri, "MLM_OBJECTS_URI": objects, "MLM_CAPTURE": "0"}
    for victim, delay in enumerate(KILL_DELAYS):
        process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(victim)], env=env, stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None
        for _ in range(2 + victim):
            assert process.stdout.readline().strip() == "tick", f"writer {victim} died on its own"
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    store = open_store(store_uri, objects)
    if store.location.backend == "sqlite":
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
    with store.engine.connect() as conn:
        digests = [d for (d,) in conn.execute(select(t.artifacts.c.digest))]
        digests += [d for (d,) in conn.execute(select(t.model_versions.c.digest))]
        numbers = sorted(v for (v,) in conn.execute(select(t.model_versions.c.version)))
    for digest in digests:  # every row the database holds points at a whole, verified blob
        store.objects.verify(digest)
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= sum(2 + v for v in range(5))
    report = store.verify_audit()
    assert report.ok, report.problem
    assert report.events == len(numbers)
    for victim in range(len(KILL_DELAYS)):
        run = store.resolve_run(f"victim-{victim}")
        values = list(store.get_metric_series(run.id, "x").values)
        assert values == [float(i) for i in range(len(values))]  # a prefix: nothing reordered or torn
        assert len(values) >= 40 * (1 + victim)

    # The next writer finds a working store: dead runs are marked, numbering continues.
    after = subprocess.run(
        [sys.executable, "-c", "import jupyter_mlm as mlm; print(mlm.register_model({'ok': 1}, 'crashy').version)"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert after.returncode == 0, after.stderr
    assert int(after.stdout.strip()) == len(numbers) + 1
    assert {store.resolve_run(f"victim-{v}").status for v in range(len(KILL_DELAYS))} == {"crashed"}
    assert store.verify_audit().ok
    store.close()
