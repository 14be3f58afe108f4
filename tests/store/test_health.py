"""``jupyter mlm fsck`` and ``jupyter mlm gc`` on both backends: every reference found, damage
named with the path that leads to it, orphans listed, unreferenced blobs collected only past the
grace period and never while a run that may refer to them is running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from jupyter_mlm.cli import main as cli
from jupyter_mlm.errors import StoreError
from jupyter_mlm.store import Store
from jupyter_mlm.store.health import fsck, gc

OLD = 3 * 3600  # seconds: past the default grace period


def _notebook(outputs: int) -> dict[str, Any]:
    big = "x" * 200_000  # large outputs are kept as blobs of their own beside the cell
    cells = [{"cell_type": "code", "id": f"c{i}", "source": f"print({i})", "metadata": {}, "execution_count": i,
              "outputs": [{"output_type": "execute_result", "execution_count": i, "metadata": {},
                           "data": {"text/plain": big + str(i) if i < outputs else str(i)}}]}
             for i in range(4)]  # fmt: skip
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


def _fill(store: Store, tmp_path: Path) -> dict[str, Any]:
    """A run with an artifact and a live snapshot, a registered model with its reference profile,
    a monitoring batch with outputs: one of each kind of reference."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlm.capture.notebook import NotebookWriter
    from jupyter_mlm.capture.snapshot import store_live_notebook
    from jupyter_mlm.monitoring.service import Monitor
    from jupyter_mlm.registry import register

    experiment = store.get_or_create_experiment("health")
    run = store.create_run(experiment.id, name="r", kernel_id="kernel-1")
    (tmp_path / "report.txt").write_text("a report")
    digest = store.objects.put_file(tmp_path / "report.txt")
    store.add_artifact(run.id, "report.txt", digest, 8)
    writer = NotebookWriter(store.objects)
    store_live_notebook(store, writer, "kernel-1", "server", "train.ipynb", _notebook(outputs=2))
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    register(store, model, "churn", run_id=run.id, actor="tester", reference_data=X)
    Monitor(store, "tester").log("churn", X[:20], predictions=model.predict(X[:20]), ids=[f"r{i}" for i in range(20)],
                                 version=1)  # fmt: skip
    store.end_run(run.id, "finished")
    return {"run": run, "artifact": digest}


def _age_everything(objects_root: Path, seconds: float) -> None:
    then = time.time() - seconds
    for folder, _, files in os.walk(objects_root):
        for name in files:
            os.utime(os.path.join(folder, name), (then, then))


@pytest.fixture
def filled(store: Store, tmp_path: Path) -> dict[str, Any]:
    return _fill(store, tmp_path)


def test_a_healthy_store_checks_clean(store: Store, filled: dict[str, Any]) -> None:
    report = fsck(store)
    assert report.ok, report.problems
    kinds = {where.split(" of ")[0].split(" →")[0] for where in _walk_wheres(store)}
    assert {"artifact 'report.txt'", "live notebook", "model churn/1", "reference profile", "monitoring batch profile",
            "monitoring batch outputs"} <= kinds, kinds  # fmt: skip
    assert report.referenced == report.verified == report.objects and report.orphans == []
    assert report.audit.ok and report.audit.events >= 1


def _walk_wheres(store: Store) -> list[str]:
    from jupyter_mlm.store.health import walk

    return list(walk(store)[0].values())


def test_a_missing_cell_and_a_corrupted_output_are_named_by_the_path_to_them(store: Store, filled: dict[str, Any],
                                                                           tmp_path: Path) -> None:  # fmt: skip
    from jupyter_mlm.store.health import walk

    wheres = walk(store)[0]
    cell = next(d for d, w in wheres.items() if w.endswith("→ cell"))
    output = next(d for d, w in wheres.items() if w.endswith("→ cell → leaf"))
    objects = Path(tmp_path / "objects")
    os.unlink(objects / cell[:2] / cell[2:])
    damaged = objects / output[:2] / output[2:]
    os.chmod(damaged, 0o644)
    damaged.write_bytes(b"not what was stored")
    report = fsck(store)
    found = {(p.kind, p.digest) for p in report.problems}
    assert ("missing", cell) in found and ("corrupt", output) in found
    assert any("live notebook of kernel kernel-1" in p.where for p in report.problems)
    with pytest.raises(StoreError, match="fsck"):  # what the damaged manifest named cannot be known
        gc(store, apply=True, grace_seconds=0)


def test_orphans_are_listed_and_collected_only_past_the_grace_period(store: Store, filled: dict[str, Any],
                                                                     tmp_path: Path) -> None:  # fmt: skip
    orphan = store.objects.put_bytes(b"an upload nothing refers to")
    report = fsck(store)
    assert report.ok and [o.digest for o in report.orphans] == [orphan]
    young = gc(store, apply=True)  # default grace: one hour
    assert young.blobs == [] and young.kept_young == 1 and store.objects.exists(orphan)
    _age_everything(tmp_path / "objects", OLD)
    dry = gc(store)
    assert [o.digest for o in dry.blobs] == [orphan] and not dry.applied and store.objects.exists(orphan)
    done = gc(store, apply=True)
    assert [o.digest for o in done.blobs] == [orphan] and not store.objects.exists(orphan)
    after = fsck(store)
    assert after.ok and after.orphans == [] and after.referenced == after.objects


def test_a_put_that_finds_an_old_orphan_refreshes_it(store: Store, tmp_path: Path) -> None:
    orphan = store.objects.put_bytes(b"same bytes, logged again later")
    _age_everything(tmp_path / "objects", OLD)
    assert store.objects.put_bytes(b"same bytes, logged again later") == orphan  # about to be referenced
    assert gc(store, apply=True).blobs == [] and store.objects.exists(orphan)


def test_nothing_written_during_a_running_run_is_collected(store: Store, tmp_path: Path) -> None:
    experiment = store.get_or_create_experiment("live")
    run = store.create_run(experiment.id, name="long")
    with store._write() as conn:  # the run started three hours ago and is still running
        conn.execute(text("UPDATE runs SET start_ms = start_ms - :ms"), {"ms": OLD * 1000})
    pending = store.objects.put_bytes(b"an artifact whose row is not written yet")
    _age_everything(tmp_path / "objects", OLD - 600)  # older than the grace period, newer than the run
    assert gc(store, apply=True).blobs == [] and store.objects.exists(pending)
    store.end_run(run.id, "finished")
    assert [o.digest for o in gc(store, apply=True).blobs] == [pending]


def test_an_upload_killed_midway_leaves_a_temporary_that_gc_removes(store: Store, tmp_path: Path) -> None:
    objects = tmp_path / "objects"
    script = textwrap.dedent(f"""
        import sys, time
        from jupyter_mlm.store.objects import LocalObjectStore
        def chunks():
            yield b"half of a large upload"
            print("writing", flush=True)
            time.sleep(60)
            yield b"never"
        LocalObjectStore({str(objects)!r})._write_new(chunks())
    """)
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(10)
    report = fsck(store)
    assert report.ok and len(report.temporaries) == 1 and report.temporaries[0].digest.startswith("put-")
    assert gc(store, apply=True).temporaries == []  # it may still be a live upload: young
    _age_everything(objects, OLD)
    removed = gc(store, apply=True)
    assert [t.digest for t in removed.temporaries] == [report.temporaries[0].digest]
    assert list(store.objects.temporaries()) == []


def test_the_cli_exits_1_on_a_problem_and_lists_orphans(store: Store, filled: dict[str, Any], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    args = ["--store", _store_arg(store, tmp_path), "--objects", str(tmp_path / "objects")]
    orphan = store.objects.put_bytes(b"orphan for the cli")
    assert cli([*args, "fsck"]) == 0
    out = capsys.readouterr().out
    assert f"orphan      {orphan}" in out and "chain verified" in out and out.rstrip().endswith("ok")
    _age_everything(tmp_path / "objects", OLD)
    assert cli([*args, "gc"]) == 0
    assert f"would remove blob {orphan}" in capsys.readouterr().out and store.objects.exists(orphan)
    assert cli([*args, "gc", "--apply", "--json"]) == 0 and not store.objects.exists(orphan)
    os.unlink(tmp_path / "objects" / filled["artifact"][:2] / filled["artifact"][2:])
    assert cli([*args, "fsck", "--quick"]) == 1
    assert f"PROBLEM     missing {filled['artifact']} (artifact 'report.txt' of run" in capsys.readouterr().out
    assert cli([*args, "gc", "--grace", "-1"]) == 1  # a clear refusal, not a traceback


def _store_arg(store: Store, tmp_path: Path) -> str:
    return str(tmp_path / "store") if store.location.backend == "sqlite" else store.location.db_url


def test_a_rewritten_audit_event_fails_the_check(store: Store, filled: dict[str, Any]) -> None:
    with store._write() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = (SELECT MIN(seq) FROM audit_events)"))
    report = fsck(store, verify=False)
    assert not report.ok and any(p.kind == "audit" for p in report.problems)


def test_status_reads_object_usage_from_the_database_not_a_listing(store: Store, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    first = store.status()  # counts once (nothing kept yet), then keeps the figures
    assert (first.objects, first.object_bytes) == store.objects.stats()
    _fill(store, tmp_path)
    store.objects.put_bytes(b"x" * 1234)  # not yet followed by a write: still counted
    expected = store.objects.stats()

    def no_listing() -> Any:
        raise AssertionError("status listed the objects store")

    monkeypatch.setattr(store.objects, "listing", no_listing)
    monkeypatch.setattr(store.objects, "stats", no_listing)
    status = store.status()
    assert (status.objects, status.object_bytes) == expected
    monkeypatch.undo()

    _age_everything(tmp_path / "objects", OLD)
    collected = gc(store, apply=True)
    assert len(collected.blobs) == 1
    assert (store.status().objects, store.status().object_bytes) == store.objects.stats()
    lost = next(o for o in store.objects.listing())
    os.unlink(tmp_path / "objects" / lost.digest[:2] / lost.digest[2:])  # behind the store's back
    assert store.status().objects == store.objects.stats()[0] + 1  # the kept count cannot know
    fsck(store, verify=False)  # a full count: exact again
    assert (store.status().objects, store.status().object_bytes) == store.objects.stats()
