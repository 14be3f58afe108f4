"""The level-3 loop's parts: comparisons, the CI gate, durable leased jobs, retraining notebooks
run by the worker (real kernels), c.MLM.job_command hand-off, promotion and rollback policies."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from sklearn.metrics import roc_auc_score

from jupyter_mlm.capture.snapshot import read_snapshot
from jupyter_mlm.errors import UsageError
from jupyter_mlm.loop.compare import compare_models
from jupyter_mlm.loop.jobs import Runner, retrain
from jupyter_mlm.loop.policy import Loop, check_policy, parse_promote, parse_rollback
from jupyter_mlm.monitoring.service import Monitor
from jupyter_mlm.registry import Governance
from jupyter_mlm.store import Store

from .conftest import cancer_data


def test_comparison_equals_scikit_learn_and_is_recorded(served_store: Store, models: dict[str, Any], tmp_path: Path) -> None:  # fmt: skip
    X, y = cancer_data()
    row = compare_models(served_store, "tester", "cancer@champion", "cancer@challenger", X, y.to_numpy(), "roc_auc",
                         tmp_path / "cache", trusted=True)  # fmt: skip
    expect_a = roc_auc_score(y, models["champion"].predict_proba(X)[:, 1])
    expect_b = roc_auc_score(y, models["challenger"].predict_proba(X)[:, 1])
    assert (row.version_a, row.version_b) == (1, 2) and row.rows == len(y)
    assert row.value_a == pytest.approx(expect_a) and row.value_b == pytest.approx(expect_b)
    assert row.delta == pytest.approx(expect_b - expect_a)
    assert row.ci_low is not None and row.ci_low <= row.delta <= row.ci_high
    assert served_store.comparisons("cancer", 2)[-1].id == row.id
    assert [e.action for e in served_store.loop_events("cancer")] == ["compare"]
    accuracy = compare_models(served_store, "tester", "cancer/1", "cancer/2", X, y.to_numpy(), "accuracy",
                              tmp_path / "cache", trusted=True)  # fmt: skip
    assert accuracy.value_a == pytest.approx((models["champion"].predict(X) == y).mean())
    with pytest.raises(UsageError, match="metric must be one of"):
        compare_models(served_store, "tester", "cancer/1", "cancer/2", X, y, "auc", tmp_path, trusted=True)
    with pytest.raises(UsageError, match="one value per row"):
        compare_models(served_store, "tester", "cancer/1", "cancer/2", X, y[:5], "roc_auc", tmp_path, trusted=True)


def test_gate_passes_or_fails_with_the_reason_and_promotes_through_approval(
    served_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from jupyter_mlm.cli import main

    X, y = cancer_data()
    holdout = X.assign(label=y)
    holdout.to_parquet(tmp_path / "holdout.parquet")
    store = ["--store", str(tmp_path / "store"), "--objects", str(tmp_path / "objects")]
    common = ["--data", str(tmp_path / "holdout.parquet"), "--metric", "accuracy", "--trusted"]
    # The weaker challenger (C=0.01) must not beat production by +0.01.
    assert main([*store, "gate", "cancer", "2", "--min-delta", "0.01", *common]) == 1
    assert "FAIL cancer/2 accuracy" in capsys.readouterr().err
    Governance(served_store, "tester").set_policy(require_approval_for=["production"])
    assert main([*store, "gate", "cancer", "2", "--min-delta", "-0.5", "--promote", "--json", *common]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["passed"] and verdict["promotion"] == "requested"
    assert [r.version for r in Governance(served_store, "tester").pending("cancer")] == [2]
    assert main([*store, "gate", "cancer", "2", *common, "--data", str(tmp_path / "nope.parquet")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_jobs_are_leased_retried_once_and_never_run_twice(served_store: Store) -> None:
    job = served_store.enqueue_job("retrain", "cancer", {"notebook": "x.ipynb"}, "tester")
    first = served_store.claim_job("runner-a", 60_000)
    assert first is not None and first.id == job.id and first.attempts == 1
    assert served_store.claim_job("runner-b", 60_000) is None  # leased: nobody else runs it
    assert served_store.renew_lease(job.id, "runner-a", 1)
    time.sleep(0.01)  # runner-a "crashed": its lease ran out
    second = served_store.claim_job("runner-b", 1)
    assert second is not None and second.attempts == 2 and second.lease_owner == "runner-b"
    assert not served_store.finish_job(job.id, "runner-a", True, {}, None, None)  # the old runner lost it
    time.sleep(0.01)
    assert served_store.claim_job("runner-c", 60_000) is None  # two tries: failed for good
    assert served_store.get_job(job.id).status == "failed"
    actions = [e.action for e in served_store.loop_events("cancer")]
    assert actions == ["job_queued", "job_started", "job_started"]


def training_notebook(folder: Path) -> Path:
    """Retrains on the cancer data plus any labeled production rows; registers a challenger."""
    nb = new_notebook()
    nb.cells.append(new_code_cell("C = 1.0\ndata = None", metadata={"tags": ["parameters"]}))
    nb.cells.append(new_code_cell(
        "import jupyter_mlm as mlm\n"
        "from sklearn.datasets import load_breast_cancer\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler\n"
        "X, y = load_breast_cancer(return_X_y=True, as_frame=True)\n"
        "X.columns = [c.replace(' ', '_') for c in X.columns]\n"
        "recent = mlm.monitor.labeled_rows('cancer', window='all')\n"
        "with mlm.start_run(name='retrain'):\n"
        "    mlm.log_param('C', C)\n"
        "    mlm.log_param('production_rows', len(recent))\n"
        "    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500)).fit(X, y)\n"
        "    version = mlm.register_model(model, 'cancer', reference_data=X)\n"
        "    mlm.set_alias('cancer', 'challenger', version.version)\n"
        "print(version.version)"
    ))  # fmt: skip
    path = folder / "train.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_firing_rule_queues_a_retraining_job_the_worker_runs_in_a_kernel(
    served_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    training_notebook(tmp_path)
    monitor = Monitor(served_store, "tester")
    rule = monitor.add_rule("cancer", "rows >= 10", retrain("train.ipynb", parameters={"C": 0.5}))
    X, _ = cancer_data()
    alerts = monitor.log("cancer", X.iloc[:20]).alerts
    assert [a.rule_id for a in alerts] == [rule.id]
    [job] = served_store.jobs("cancer")
    assert job.status == "queued" and job.alert_id == alerts[0].id and job.parameters["parameters"] == {"C": 0.5}
    monkeypatch.setenv("MLM_CACHE_DIR", str(tmp_path / "cache"))
    done = Runner(served_store, tmp_path).run_one()
    assert done is not None and done.status == "succeeded", done and done.result
    data = served_store.get_run(done.run_id)
    assert data.tags["mlm.job"] == job.id and data.tags["mlm.alert"] == alerts[0].id
    assert data.params["C"] == "0.5"
    challenger = served_store.version_by_alias("cancer", "challenger")
    assert challenger is not None and challenger.version == 3 and challenger.run_id == data.info.id
    executed = nbformat.reads(served_store.objects.get(done.log_digest).decode(), 4)
    assert "injected-parameters" in executed.cells[1].metadata["tags"]
    assert [e.action for e in served_store.loop_events("cancer")] == ["job_queued", "job_started", "job_succeeded"]
    # The run's snapshot holds the notebook that ran (with its parameters), written beside the
    # original, which stays as it was; the executed file has the outputs.
    beside = tmp_path / f"train.job-{job.id[:8]}.ipynb"
    assert json.loads(done.result)["executed"] == beside.name and data.info.notebook_path == str(beside)
    snapshot = read_snapshot(served_store, done.run_id)
    assert snapshot.notebook is not None
    assert [c.source for c in snapshot.notebook.cells] == [c.source for c in executed.cells]
    assert not any(
        "injected-parameters" in c.metadata.get("tags", []) for c in nbformat.read(tmp_path / "train.ipynb", 4).cells
    )
    assert any(c.get("outputs") for c in nbformat.read(beside, 4).cells if c.cell_type == "code")


def test_job_command_hands_the_job_to_another_scheduler(
    served_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    training_notebook(tmp_path)
    monkeypatch.setenv("MLM_CACHE_DIR", str(tmp_path / "cache"))
    job = served_store.enqueue_job("retrain", "cancer", {"notebook": "train.ipynb", "parameters": {"C": 2.0}}, "t")
    command = f"{sys.executable} -m jupyter_mlm.cli --store {{store}} --objects {{objects}} job-exec {{job_id}} --root {tmp_path}"  # fmt: skip
    done = Runner(served_store, tmp_path, job_command=command).run_one()
    assert done is not None and done.status == "succeeded" and done.id == job.id
    result = json.loads(done.result or "{}")
    assert result["exit"] == 0 and done.run_id is not None
    assert "job-exec" in served_store.objects.get(done.log_digest).decode()
    failing = served_store.enqueue_job("retrain", "cancer", {"notebook": "missing.ipynb"}, "t")
    failed = Runner(served_store, tmp_path, job_command=command).run_one()
    assert failed is not None and failed.id == failing.id and failed.status == "failed"
    assert "missing.ipynb" in json.loads(failed.result or "{}")["error"]


def test_policy_conditions_are_parsed_never_evaluated() -> None:
    promote = parse_promote("challenger.roc_auc >= champion.roc_auc + 0.01")
    assert promote.holds(0.9, 0.88) and not promote.holds(0.885, 0.88)
    assert parse_promote("challenger.accuracy > 0.9").holds(0.95, None)
    rollback = parse_rollback("roc_auc < previous.roc_auc - 0.02 within 1d")
    assert rollback.holds(0.80, 0.85) and not rollback.holds(0.84, 0.85) and rollback.window == "1d"
    for bad in ("champion.roc_auc > 1", "challenger.roc_auc >= __import__('os')", "challenger.auc > 0.5",
                "challenger.roc_auc > champion.accuracy"):  # fmt: skip
        with pytest.raises(UsageError):
            parse_promote(bad)
    with pytest.raises(UsageError, match="within"):
        parse_rollback("roc_auc < 0.7")
    with pytest.raises(UsageError, match="unknown policy setting"):
        check_policy({"promote_if": "challenger.roc_auc > 0.5", "mystery": 1})


def _traffic(served_store: Store, champion: Any, challenger: Any, rows: range, flip: bool = False) -> None:
    """What serving with --shadow logs: the champion's answers and the challenger's shadow, same ids."""
    X, y = cancer_data()
    part = X.iloc[list(rows)]
    ids = [f"r{i}" for i in rows]
    monitor = Monitor(served_store, "server")
    production = Governance(served_store, "t").policy().production
    version_a = served_store.versions_in_stage("cancer", production)[-1].version
    version_b = served_store.version_by_alias("cancer", "challenger").version  # type: ignore[union-attr]
    monitor.log("cancer", part, predictions=champion.predict(part), scores=champion.predict_proba(part), ids=ids,
                version=version_a, source="serve")  # fmt: skip
    monitor.log("cancer", part, predictions=challenger.predict(part), scores=challenger.predict_proba(part), ids=ids,
                version=version_b, source="shadow")  # fmt: skip
    labels = y.iloc[list(rows)].to_numpy()
    Monitor(served_store, "labeller").log_labels("cancer", ids, 1 - labels if flip else labels)


def test_promotion_waits_for_approval_and_a_regression_rolls_back(served_store: Store, models: dict[str, Any]) -> None:
    governance = Governance(served_store, "tester")
    governance.set_policy(require_approval_for=["production"])
    loop = Loop(served_store, "mlm-loop")
    loop.set_policy("cancer", {"promote_if": "challenger.accuracy >= champion.accuracy - 0.5", "min_rows": 100,
                               "rollback_if": "accuracy < previous.accuracy - 0.2 within 1d"})  # fmt: skip
    _traffic(served_store, models["champion"], models["challenger"], range(0, 60))
    assert loop.evaluate("cancer") == []  # 60 labeled rows < min_rows
    _traffic(served_store, models["champion"], models["challenger"], range(60, 160))
    [decision] = loop.evaluate("cancer")
    assert decision["action"] == "promotion_requested" and decision["version"] == 2
    assert loop.evaluate("cancer") == []  # the loop waits for a person
    Governance(served_store, "risk-lead").decide("cancer", 2, approve=True)
    assert served_store.versions_in_stage("cancer", "production")[-1].version == 2
    # A forced regression: labels arrive flipped for the new production version's answers.
    _traffic(served_store, models["challenger"], models["challenger"], range(200, 330), flip=True)
    [rollback] = loop.evaluate("cancer")
    assert rollback["action"] == "rolled_back" and rollback["version"] == 2 and rollback["to"] == 1
    assert loop.evaluate("cancer") == []  # back on the previous version: nothing more to do
    actions = [e.action for e in served_store.loop_events("cancer")]
    assert actions.count("promotion_requested") == 1 and actions[-1] == "rolled_back"
    assert served_store.verify_audit().ok


def test_a_stored_notebook_name_never_leads_out_of_the_runners_folder(served_store: Store, tmp_path: Path) -> None:
    """The job's notebook name comes from the store: absolute paths, `..` and links out are refused
    (the job fails with the reason, nothing runs), as is such a name given to retrain()."""
    root = tmp_path / "jobs"
    root.mkdir()
    outside = training_notebook(tmp_path)  # tmp_path/train.ipynb, outside the root
    (root / "link.ipynb").symlink_to(outside)
    for name in (str(outside), "../train.ipynb", "link.ipynb"):
        job = served_store.enqueue_job("retrain", "cancer", {"notebook": name}, "mallory")
        done = Runner(served_store, root).run_one(job.id)
        assert done is not None and done.status == "failed" and done.run_id is None
        assert "inside" in (done.result or "") or "leads out" in (done.result or ""), done.result
    for name in ("/etc/train.ipynb", "../x.ipynb"):
        with pytest.raises(UsageError, match="relative to the runner"):
            retrain(name)
    assert served_store.version_by_alias("cancer", "challenger").version == 2  # nothing registered
