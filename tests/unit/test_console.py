"""A run keeps what it printed, the exception that failed it and the kernel's system metrics."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest

import jupyter_mlm as mlm
from jupyter_mlm.store import Store
from jupyter_mlm.tracking import console


def artifact_text(store: Store, run_id: str, path: str) -> str:
    return store.objects.get(store.get_artifact(run_id, path).digest).decode()


def test_stdout_stderr_and_the_failing_exception_are_kept(session: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_API_TOKEN", "tok-3f9a27c1")
    original = sys.stdout
    with pytest.raises(ValueError, match="learning rate"), mlm.start_run("noisy") as run:
        print("epoch 1 loss=0.5")
        print("token is tok-3f9a27c1")
        print("warning: slow", file=sys.stderr)
        raise ValueError("learning rate must be positive")
    assert sys.stdout is original  # the tee is gone once no run is active
    stdout = artifact_text(session, run.id, "mlm/stdout.txt")
    assert "epoch 1 loss=0.5" in stdout and "tok-3f9a27c1" not in stdout and "[redacted $MY_API_TOKEN]" in stdout
    assert artifact_text(session, run.id, "mlm/stderr.txt") == "warning: slow\n"
    exception = artifact_text(session, run.id, "mlm/exception.txt")
    assert exception.startswith("Traceback (most recent call last):") and "raise ValueError" in exception
    assert run.status == "failed"
    assert run.tags[console.EXCEPTION_TAG] == "ValueError: learning rate must be positive"


def test_a_finished_run_keeps_output_but_no_exception_and_a_silent_run_stores_nothing(session: Store) -> None:
    with mlm.start_run("quiet") as quiet:
        pass
    with mlm.start_run("chatty") as chatty:
        print("done")
    assert not [a for a in quiet.artifacts if a.startswith("mlm/")]
    assert chatty.artifacts == ["mlm/stdout.txt"] and console.EXCEPTION_TAG not in chatty.tags


def test_nested_runs_share_output_and_long_output_keeps_its_end(
    session: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "MAX_CHARS", 50)
    with mlm.start_run("parent") as parent:
        print("before child")
        with mlm.start_run("child", parent=parent) as child:
            print("inside child")
        print("x" * 80)
    assert artifact_text(session, child.id, "mlm/stdout.txt") == "inside child\n"
    kept = artifact_text(session, parent.id, "mlm/stdout.txt")
    assert kept.startswith("[… 57 earlier characters not kept …]\n") and kept.endswith("x" * 49 + "\n")
    assert len(kept.split("\n", 1)[1]) == 50


def test_capture_can_be_turned_off(session: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLM_CAPTURE_OUTPUT", "0")
    original = sys.stdout
    with mlm.start_run("off") as run:
        assert sys.stdout is original
        print("not kept")
    assert run.artifacts == []


def test_writes_from_other_threads_and_binary_attributes_pass_through(session: Store) -> None:
    import threading

    with mlm.start_run("threads") as run:
        assert sys.stdout.isatty() in (True, False) and hasattr(sys.stdout, "flush")
        worker = threading.Thread(target=lambda: print("from a thread"))
        worker.start()
        worker.join()
    assert "from a thread" in artifact_text(session, run.id, "mlm/stdout.txt")


def test_system_metrics_are_logged_while_a_run_is_active(session: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_mlm.tracking import SESSION
    from jupyter_mlm.tracking.system import Sampler

    monkeypatch.setenv("MLM_SYSTEM_METRICS_SECONDS", "0.1")
    # The session's sampler may already run at the default interval: a fresh one for this test.
    sampler = Sampler(SESSION._log_system, lambda: bool(SESSION.stack))
    monkeypatch.setattr(SESSION, "sampler", sampler)
    with mlm.start_run("busy") as run:
        # Busy until three samples are stored (a loaded machine may take longer than 0.3 s).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(session.get_metric_series(run.id, "system/cpu_percent")) < 3:
            sum(i * i for i in range(50_000))
    sampler.stop()
    metrics = run.metrics
    assert {"system/cpu_percent", "system/memory_rss_mb", "system/memory_percent", "system/threads"} <= set(metrics)
    assert metrics["system/memory_rss_mb"] > 10 and 0 <= metrics["system/memory_percent"] <= 100
    series = session.get_metric_series(run.id, "system/cpu_percent")
    assert len(series) >= 3 and max(series.values) > 20  # the loop kept a core busy


def test_bad_interval_is_a_clear_error(session: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLM_SYSTEM_METRICS_SECONDS", "often")
    with pytest.raises(mlm.UsageError, match="MLM_SYSTEM_METRICS_SECONDS must be a number"):
        mlm.start_run("x")
    assert mlm.active_run() is None


def test_gpus_are_read_from_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_mlm.tracking.system import Sampler

    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\nprintf '37, 1024\\n[N/A], 2048\\n'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    metrics = Sampler(lambda m: None, lambda: True).sample()
    assert metrics["system/gpu0_utilization_percent"] == 37 and metrics["system/gpu0_memory_mb"] == 1024
    assert "system/gpu1_utilization_percent" not in metrics and metrics["system/gpu1_memory_mb"] == 2048


def test_runs_left_behind_by_a_store_switch_leave_no_tee(session: Store) -> None:
    from jupyter_mlm.tracking import SESSION

    original = sys.stdout
    mlm.start_run("abandoned")
    assert sys.stdout is not original
    SESSION.use_store(session)  # a notebook switching stores: the open run is left, not ended
    assert sys.stdout is original
    with mlm.start_run("next") as run:
        print("only mine")
    assert artifact_text(session, run.id, "mlm/stdout.txt") == "only mine\n"
