"""Tracking across real processes: exits, crashes, kill -9, and concurrent writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jupyter_mlm.store import open_store


def run_python(code: str, store_uri: str, objects: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLM_STORE_URI": store_uri, "MLM_OBJECTS_URI": objects}
    return subprocess.run(  # type: ignore[call-overload,no-any-return]
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=120, **kwargs
    )


def test_run_left_open_at_exit_is_killed_with_all_points(store_uri: str, tmp_path: Path) -> None:
    result = run_python(
        """
        import jupyter_mlm as mlm
        mlm.start_run("left-open")
        for i in range(12345):
            mlm.log_metric("x", float(i))
        """,
        store_uri,
        str(tmp_path / "objects"),
    )
    assert result.returncode == 0, result.stderr
    store = open_store(store_uri, str(tmp_path / "objects"))
    run = store.resolve_run("left-open")
    assert run.status == "killed" and run.end_ms is not None
    assert len(store.get_metric_series(run.id, "x")) == 12345


def test_kill_9_loses_at_most_the_last_interval_and_the_run_is_marked_crashed(store_uri: str, tmp_path: Path) -> None:
    objects = str(tmp_path / "objects")
    env = {**os.environ, "MLM_STORE_URI": store_uri, "MLM_OBJECTS_URI": objects}
    code = """
        import sys, time
        import jupyter_mlm as mlm
        mlm.start_run("victim")
        for i in range(1000):
            mlm.log_metric("x", float(i))
        time.sleep(2.5)          # longer than the 1 s flush interval: these points are on disk
        for i in range(1000, 1010):
            mlm.log_metric("x", float(i))
        print("ready", flush=True)
        time.sleep(60)
    """
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    store = open_store(store_uri, objects)
    run = store.resolve_run("victim")
    assert run.status == "running"
    points = len(store.get_metric_series(run.id, "x"))
    assert 1000 <= points <= 1010
    # The next process to track on this host notices the dead pid.
    result = run_python("import jupyter_mlm as mlm; mlm.log_metric('y', 1.0)", store_uri, objects)
    assert result.returncode == 0, result.stderr
    assert store.get_run_record(run.id).status == "crashed"


WRITER = """
import sys
import jupyter_mlm as mlm
mlm.start_run(f"writer-{sys.argv[1]}", experiment="concurrency")
for i in range(50_000):
    mlm.log_metric("loss", i * 0.5)
    if i % 5_000 == 0:
        mlm.flush()          # many small transactions interleave with the other writers
mlm.log_param("worker", sys.argv[1])
mlm.end_run()
"""


@pytest.mark.timeout(300)
def test_four_processes_logging_at_once_lose_nothing(store_uri: str, tmp_path: Path) -> None:
    objects = str(tmp_path / "objects")
    open_store(store_uri, objects).close()
    env = {**os.environ, "MLM_STORE_URI": store_uri, "MLM_OBJECTS_URI": objects}
    processes = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(n)], env=env, stderr=subprocess.PIPE, text=True)
        for n in range(4)
    ]
    errors = [p.communicate(timeout=240)[1] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0, 0], errors
    assert not any("locked" in e for e in errors), errors
    store = open_store(store_uri, objects)
    runs, total = store.search_runs("concurrency")
    assert total == 4
    for data in runs:
        assert data.info.status == "finished"
        series = store.get_metric_series(data.info.id, "loss")
        assert len(series) == 50_000
        assert list(series.steps) == list(range(50_000))
        assert data.metrics["loss"].value == 49_999 * 0.5
