"""The level-3 story end to end, with every part real: a serving process follows production and
shadows the challenger; drifting traffic with delayed labels fires the ROC-AUC rule; the worker
runs the retraining notebook in a kernel; the challenger shadows, wins and is promoted once a
second person approves; the server hot-swaps; a forced regression rolls it back; the audit
chain verifies."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jupyter_mlm.loop.jobs import retrain
from jupyter_mlm.loop.policy import Loop
from jupyter_mlm.monitoring.service import Monitor
from jupyter_mlm.registry import Governance, register
from jupyter_mlm.store import open_store

from .conftest import cancer_data
from .test_loop import training_notebook

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_alert_retrain_shadow_promote_swap_regress_rollback(tmp_path: Path, models: dict[str, Any]) -> None:
    env = {**os.environ, "MLM_STORE_URI": str(tmp_path / "store"), "MLM_OBJECTS_URI": str(tmp_path / "objects"),
           "MLM_CACHE_DIR": str(tmp_path / "cache"), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
    store = open_store(env["MLM_STORE_URI"], env["MLM_OBJECTS_URI"])
    X, y = cancer_data()
    owner, approver = Governance(store, "ana"), Governance(store, "risk-lead")
    owner.set_policy(require_approval_for=["production"])
    register(store, models["champion"], "cancer", run_id=None, actor="ana", reference_data=X)
    owner.transition("cancer", 1, "production")
    approver.decide("cancer", 1, approve=True)
    training_notebook(tmp_path)
    Monitor(store, "ana").add_rule("cancer", "roc_auc < 0.9", retrain("train.ipynb", parameters={"C": 1.0}))
    Loop(store, "ana").set_policy("cancer", {
        "promote_if": "challenger.roc_auc >= champion.roc_auc - 0.05", "min_rows": 100,
        "rollback_if": "roc_auc < previous.roc_auc - 0.2 within 1d",
    })  # fmt: skip

    port = _free_port()
    server = subprocess.Popen(
        [str(BIN / "jupyter-mlm"), "serve", "cancer@production", "--shadow", "@challenger", "--port", str(port),
         "--poll", "0.2", "--keep-rows", "--trusted"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    rng = np.random.default_rng(3)

    def ask(rows: range) -> list[str]:
        """One request per row (as callers would), answered by whatever production is."""
        versions = []
        for i in rows:
            body = json.dumps({"dataframe_split": {"columns": list(X.columns), "data": [X.iloc[i].tolist()]}}).encode()
            request = urllib.request.Request(f"{url}/predict", body, {"Content-Type": "application/json",
                                                                     "X-Request-Id": f"q{i}"})  # fmt: skip
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200
                versions.append(response.headers["X-MLM-Model-Version"])
        return versions

    def labels(rows: range, flipped: float) -> None:
        truth = y.iloc[list(rows)].to_numpy()
        flip = rng.random(len(truth)) < flipped
        Monitor(store, "labeller").log_labels("cancer", [f"q{i}" for i in rows], np.where(flip, 1 - truth, truth))

    def logged(version: int, source: str) -> int:
        return sum(b.rows for b in store.batches("cancer") if b.version == version and b.source == source)

    def health() -> dict[str, Any]:
        with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
            return dict(json.loads(response.read()))

    try:
        _until(lambda: _ready(url), "the server to be ready")
        # 1. Drifting traffic; labels arrive later, many of them contradicting the model.
        assert set(ask(range(0, 150))) == {"1"}
        _until(lambda: logged(1, "serve") >= 150, "the answers in monitoring")
        labels(range(0, 150), flipped=0.4)
        [job] = _until(lambda: store.jobs("cancer"), "the ROC-AUC rule to queue a retraining job")
        assert job.alert_id == store.alerts("cancer")[0].id
        # 2. The worker runs the retraining notebook in a kernel; it registers the challenger.
        worker = subprocess.run([str(BIN / "jupyter-mlm"), "worker", "--once", "--root", str(tmp_path)], env=env,
                                capture_output=True, text=True, timeout=300)  # fmt: skip
        assert worker.returncode == 0, worker.stdout + worker.stderr
        assert store.get_job(job.id).status == "succeeded"
        assert store.version_by_alias("cancer", "challenger").version == 2  # type: ignore[union-attr]
        # 3. The server picks the challenger up as its shadow; it predicts on a copy of the traffic.
        _until(lambda: (health()["shadow"] or {}).get("version") == 2, "the shadow to load")
        assert set(ask(range(150, 330))) == {"1"}  # the shadow never answers
        _until(lambda: logged(2, "shadow") >= 180 and logged(1, "serve") >= 330, "shadow rows in monitoring")
        labels(range(150, 330), flipped=0.0)
        # 4. The challenger wins on the labeled shadow traffic: a request, until a person approves.
        decisions = Loop(store, "mlm-loop").evaluate("cancer")
        assert [d["action"] for d in decisions] == ["promotion_requested"]
        approver.decide("cancer", 2, approve=True)
        # 5. The server hot-swaps to the promoted version.
        _until(lambda: ask(range(330, 331)) == ["2"], "the swap to version 2")
        ask(range(331, 480))
        _until(lambda: logged(2, "serve") >= 150, "version 2's answers in monitoring")
        # 6. A forced regression (labels contradict version 2) rolls back automatically.
        labels(range(330, 480), flipped=0.9)
        rolled = [e for e in store.loop_events("cancer") if e.action == "rolled_back"]
        if not rolled:
            Loop(store, "mlm-loop").evaluate("cancer")
            rolled = [e for e in store.loop_events("cancer") if e.action == "rolled_back"]
        assert rolled and rolled[-1].after["to"] == 1
        _until(lambda: ask(range(480, 481)) == ["1"], "the swap back to version 1")
        assert health()["serving"][0]["swaps"] == 2
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "now serving cancer/2" in output and "now serving cancer/1" in output
    actions = [e.action for e in store.loop_events("cancer")]
    for step in ("job_queued", "job_started", "job_succeeded", "compare", "promotion_requested", "rolled_back"):
        assert step in actions, (step, actions)
    assert actions.index("job_succeeded") < actions.index("promotion_requested") < actions.index("rolled_back")
    assert store.verify_audit().ok
    store.close()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ready", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status:
                found.append(int(entry.name))
    return found


def test_a_killed_server_leaves_no_monitoring_writer_behind(tmp_path: Path, models: dict[str, Any]) -> None:
    import signal

    store = open_store(str(tmp_path / "store"), str(tmp_path / "objects"))
    X, _ = cancer_data()
    register(store, models["champion"], "cancer", run_id=None, actor="ana", reference_data=X)
    Governance(store, "ana").transition("cancer", 1, "production")
    store.close()
    env = {**os.environ, "MLM_STORE_URI": str(tmp_path / "store"), "MLM_OBJECTS_URI": str(tmp_path / "objects"),
           "MLM_CACHE_DIR": str(tmp_path / "cache")}  # fmt: skip
    port = _free_port()
    server = subprocess.Popen([str(BIN / "jupyter-mlm"), "serve", "cancer", "--port", str(port), "--trusted"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        _until(lambda: _ready(f"http://127.0.0.1:{port}"), "the server to be ready")
        writers = _until(lambda: _children(server.pid), "the monitoring writer process")
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(30)
    # The writer notices its parent is gone within a second or two, and init reaps it.
    _until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in writers), "the writer to exit", 30)


def test_workers_share_the_port(tmp_path: Path, models: dict[str, Any]) -> None:
    """--workers 2: two serving processes under one parent answer on one port."""
    import signal

    store = open_store(str(tmp_path / "store"), str(tmp_path / "objects"))
    X, _ = cancer_data()
    register(store, models["champion"], "cancer", run_id=None, actor="ana", reference_data=X)
    Governance(store, "ana").transition("cancer", 1, "production")
    store.close()
    env = {**os.environ, "MLM_STORE_URI": str(tmp_path / "store"), "MLM_OBJECTS_URI": str(tmp_path / "objects"),
           "MLM_CACHE_DIR": str(tmp_path / "cache")}  # fmt: skip
    port = _free_port()
    server = subprocess.Popen(
        [str(BIN / "jupyter-mlm"), "serve", "cancer", "--port", str(port), "--workers", "2", "--trusted", "--no-monitor"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _ready(url), "a worker to be ready")
        workers = _until(lambda: _children(server.pid) if len(_children(server.pid)) == 2 else None,
                         "two worker processes")  # fmt: skip
        body = json.dumps({"dataframe_split": {"columns": list(X.columns), "data": X.iloc[:3].values.tolist()}})
        for _ in range(10):
            request = urllib.request.Request(f"{url}/invocations", body.encode(), {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200
                assert json.loads(response.read())["predictions"] == models["champion"].predict(X.iloc[:3]).tolist()
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert "jupyter mlm serve: cancer/1 (cancer@production) on http://127.0.0.1" in output
    # Stopping the parent stopped its workers too (none left holding the port).
    _until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), "the workers to stop", 30)
