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


def test_a_process_in_another_pid_namespace_does_not_bury_a_live_run(store_uri: str, tmp_path: Path) -> None:
    """Containers with host networking share the hostname, not the PIDs: a process started with
    ``unshare --pid --fork`` cannot see this one, and must judge its run by the heartbeat."""
    import shutil

    import jupyter_mlm as mlm
    from jupyter_mlm.store.runs import STALE_AFTER_MS
    from jupyter_mlm.tracking import SESSION
    from jupyter_mlm.tracking.context import current_host

    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare or "unshare", "--pid", "--fork", "true"], capture_output=True, check=False)
    if unshare is None or probe.returncode != 0:
        pytest.fail(f"this test needs `unshare --pid --fork` (util-linux, root or user namespaces): {probe.stderr!r}")
    objects = str(tmp_path / "objects")
    store = open_store(store_uri, objects)
    SESSION.use_store(store)
    try:
        run = mlm.start_run("long-training")
        for i in range(500):
            mlm.log_metric("loss", float(i))
        mlm.flush()
        code = textwrap.dedent("""
            import os, jupyter_mlm as mlm
            print(os.getpid(), os.readlink("/proc/self/ns/pid"), flush=True)
            with mlm.start_run("elsewhere"):   # opening the store judges the running runs
                mlm.log_metric("y", 1.0)
        """)
        env = {**os.environ, "MLM_STORE_URI": store_uri, "MLM_OBJECTS_URI": objects}
        other = subprocess.run([unshare or "unshare", "--pid", "--fork", sys.executable, "-c", code], env=env,
                               capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert other.returncode == 0, other.stderr
        pid, namespace = other.stdout.split()[:2]
        assert pid == "1" and namespace != os.readlink("/proc/self/ns/pid")  # really another namespace
        assert store.get_run_record(run.id).status == "running"  # our PID is invisible there, our heartbeat fresh
        for i in range(500, 1000):
            mlm.log_metric("loss", float(i))
        mlm.end_run()
        assert store.get_run_record(run.id).status == "finished"
        assert len(store.get_metric_series(run.id, "loss")) == 1000  # nothing lost

        # A run of that other namespace whose writer fell silent is found by its heartbeat...
        silent = store.create_run(store.get_or_create_experiment(None).id, "silent", host=current_host(),
                                  pid=os.getpid(), pid_namespace=namespace)  # fmt: skip
        assert store.mark_crashed(current_host(), lambda _: True, os.readlink("/proc/self/ns/pid")) == []
        with store._write() as conn:
            from sqlalchemy import text

            conn.execute(text("UPDATE runs SET heartbeat_ms = heartbeat_ms - :ms WHERE id = :id"),
                         {"ms": STALE_AFTER_MS + 1000, "id": silent.id})  # fmt: skip
        assert store.mark_crashed(current_host(), lambda _: True, os.readlink("/proc/self/ns/pid")) == [silent.id]
        # ...and one taken for crashed whose writer speaks again is running again.
        store.heartbeat([silent.id])
        assert store.get_run_record(silent.id).status == "running" and store.get_run_record(silent.id).end_ms is None
    finally:
        SESSION.use_store(None)
        store.close()
