"""A team's store: SQLite or PostgreSQL for rows, a real S3 API (moto's server on loopback) for
blobs, credentials from the usual AWS variables. Tracking, snapshots, the registry, monitoring and
store health on ``s3://``; uploads killed midway leave nothing visible; two processes see each
other's blobs; the credentials are never written anywhere in the store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import jupyter_mlm as mlm
from jupyter_mlm.store import Store, open_store
from jupyter_mlm.store.health import fsck, gc
from jupyter_mlm.store.objects import FsspecObjectStore
from jupyter_mlm.tracking import SESSION

from ..conftest import S3_SECRET


@pytest.fixture
def team_store(store_uri: str, s3_objects: str) -> Any:
    store = open_store(store_uri, s3_objects)
    assert isinstance(store.objects, FsspecObjectStore)
    SESSION.use_store(store)
    yield store
    SESSION.use_store(None)
    store.close()


def _notebook(text: str) -> dict[str, Any]:
    cells = [{"cell_type": "code", "id": f"c{i}", "source": f"x = {i}\n{text}", "metadata": {}, "execution_count": i,
              "outputs": [{"output_type": "stream", "name": "stdout", "text": "y" * (30_000 if i == 0 else 3)}]}
             for i in range(3)]  # fmt: skip
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


def test_tracking_snapshots_registry_and_monitoring_on_s3(team_store: Store, tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlm.capture.notebook import NotebookWriter, load_notebook
    from jupyter_mlm.capture.snapshot import store_live_notebook
    from jupyter_mlm.registry import register

    store = team_store
    (tmp_path / "weights.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # a multipart-sized upload
    run = mlm.start_run("on-s3")
    for i in range(2_000):
        mlm.log_metric("loss", 1 / (i + 1), step=i)
    mlm.log_param("C", 0.5)
    mlm.log_artifact(tmp_path / "weights.bin")
    mlm.end_run()
    artifact = store.get_artifact(run.id, "weights.bin")
    assert store.objects.get(artifact.digest) == (tmp_path / "weights.bin").read_bytes()
    assert len(store.get_metric_series(run.id, "loss")) == 2_000

    writer = NotebookWriter(store.objects)
    first = store_live_notebook(store, writer, "kernel-s3", "server", "train.ipynb", _notebook("a"))
    assert first["stored"]
    second = _notebook("b")
    store_live_notebook(store, writer, "kernel-s3", "server", "train.ipynb", second)
    live = store.live_notebook("kernel-s3")
    assert live is not None
    assert load_notebook(store.objects, live.manifest_digest)["cells"] == second["cells"]

    X = np.random.default_rng(1).normal(size=(200, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    record = register(store, model, "churn", run_id=run.id, actor="tester", reference_data=X)
    mlm.transition("churn", record.version, "staging")
    loaded = mlm.load_model("churn@staging", trusted=True)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    assert mlm.verify_audit().ok

    logged = mlm.monitor.log("churn@staging", X[:50], predictions=model.predict(X[:50]),
                             ids=[f"r{i}" for i in range(50)])  # fmt: skip
    mlm.monitor.log_labels("churn", [f"r{i}" for i in range(50)], y[:50].tolist())
    assert logged.rows == 50

    report = fsck(store)
    assert report.ok, report.problems
    assert report.referenced == report.objects == report.verified
    orphan = store.objects.put_bytes(b"nothing refers to this")
    assert [o.digest for o in fsck(store, verify=False).orphans] == [orphan]
    assert [o.digest for o in gc(store, apply=True, grace_seconds=0).blobs] == [orphan]
    assert not store.objects.exists(orphan) and fsck(store).ok


def test_an_upload_killed_midway_leaves_no_object(team_store: Store, s3_objects: str) -> None:
    """Killed after s3fs has begun a multipart upload (past its 50 MiB block): the parts sent are
    no object, under the blob's name or the temporary's."""
    assert isinstance(team_store.objects, FsspecObjectStore)
    fs, bucket = team_store.objects.fs, s3_objects.removeprefix("s3://").split("/")[0]
    before = {o.digest for o in team_store.objects.listing()}
    script = textwrap.dedent(f"""
        import time
        from jupyter_mlm.store.objects import open_object_store
        objects = open_object_store({s3_objects!r})
        def chunks():
            for i in range(3):
                yield bytes([i]) * (25 * 1024 * 1024)
            print("uploading", flush=True)
            time.sleep(60)
            yield b"never"
        objects._write_new(chunks())
    """)
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    assert writer.stdout is not None and writer.stdout.readline().strip() == "uploading"
    assert fs.list_multipart_uploads(bucket), "the upload should be under way when the writer is killed"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(30)
    assert {o.digest for o in team_store.objects.listing()} == before  # no partial blob
    assert list(team_store.objects.temporaries()) == []  # nor a partial temporary
    assert fsck(team_store, verify=False).ok


def test_a_second_process_sees_blobs_at_once(team_store: Store, s3_objects: str) -> None:
    objects = team_store.objects
    list(objects.listing())  # this process has listed the prefixes
    put = subprocess.run(
        [sys.executable, "-c", f"from jupyter_mlm.store.objects import open_object_store as o; "
                               f"print(o({s3_objects!r}).put_bytes(b'from another server'))"],
        capture_output=True, text=True, env=os.environ.copy(), check=True, timeout=120,
    )  # fmt: skip
    digest = put.stdout.strip()
    assert objects.exists(digest) and objects.get(digest) == b"from another server"


def test_credentials_are_never_written_into_the_store(team_store: Store, store_uri: str, tmp_path: Path) -> None:
    from jupyter_mlm.capture.environment import capture_environment

    environment = capture_environment(str(tmp_path))
    mlm.start_run("secret-check")
    mlm.log_metric("x", 1.0)
    mlm.end_run()
    assert S3_SECRET not in repr(environment)
    objects = team_store.objects
    for stored in objects.listing():
        assert S3_SECRET.encode() not in objects.get(stored.digest), stored.digest
    if team_store.location.backend == "sqlite":
        database = Path(team_store.location.db_url.removeprefix("sqlite:///"))
        for path in database.parent.iterdir():
            assert S3_SECRET.encode() not in path.read_bytes(), path
    else:
        from sqlalchemy import text

        with team_store._read() as conn:
            tables = [r[0] for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))]
            for table in tables:
                dump = conn.execute(text(f'SELECT CAST(t AS text) FROM "{table}" t')).all()
                assert not any(S3_SECRET in row[0] for row in dump), table
