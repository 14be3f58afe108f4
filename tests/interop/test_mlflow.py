"""MLflow in and out against real MLflow SQLite stores: import, export, round trip, and an
exported model folder that MLflow itself loads and predicts with."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest

from jupyter_mlm.cli import main as cli
from jupyter_mlm.store import Store


def _data() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    return X.iloc[:, :6], y


def _source(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """An MLflow store as a team would have it: two experiments, runs with params, stepped
    metrics, tags and artifacts, a failed run, and a model with two versions, a stage and an alias."""
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    uri = f"sqlite:///{tmp_path / 'source.db'}"
    client = MlflowClient(uri, uri)
    X, y = _data()
    expected: dict[str, Any] = {"runs": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        for experiment in ("churn", "fraud"):
            eid = client.create_experiment(
                experiment, artifact_location=str(tmp_path / "source-artifacts" / experiment)
            )
            for c in (0.1, 1.0):
                run = client.create_run(eid, run_name=f"{experiment}-C{c}", tags={"team": "risk", "note": "α β"},
                                        start_time=1_700_000_000_000)  # fmt: skip
                rid = run.info.run_id
                client.log_param(rid, "C", str(c))
                client.log_param(rid, "solver", "lbfgs")
                for step in range(5):
                    client.log_metric(rid, "loss", 1.0 / (step + 1) * c, timestamp=1_700_000_000_000 + step, step=step)
                client.log_metric(rid, "auc", 0.9 + c / 100, timestamp=1_700_000_001_000, step=0)
                report = tmp_path / f"{experiment}-{c}.txt"
                report.write_text(f"report for {experiment} C={c}")
                client.log_artifact(rid, str(report), artifact_path="reports")
                status = "FAILED" if (experiment, c) == ("fraud", 0.1) else "FINISHED"
                client.set_terminated(rid, status=status, end_time=1_700_000_002_000)
                expected["runs"][f"{experiment}-C{c}"] = {"status": status.lower(), "artifact": report.read_bytes()}
        with mlflow.start_run(experiment_id=client.get_experiment_by_name("churn").experiment_id, run_name="model"):
            for c in (0.5, 2.0):
                model = LogisticRegression(C=c, max_iter=2000).fit(X, y)
                mlflow.sklearn.log_model(model, name="model", registered_model_name="churn",
                                         signature=mlflow.models.infer_signature(X, model.predict(X)))  # fmt: skip
                expected.setdefault("models", []).append(model)
        client.transition_model_version_stage("churn", "1", "Production")
        client.set_registered_model_alias("churn", "challenger", "2")
    return uri, expected


def test_import_then_export_round_trips_an_mlflow_store(session: Store, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    store = session
    source, expected = _source(tmp_path)
    args = ["--store", _store_arg(store, tmp_path), "--objects", str(tmp_path / "objects")]
    assert cli([*args, "import-mlflow", "--tracking-uri", source]) == 0
    out = capsys.readouterr().out
    assert "imported 2 experiment(s), 5 run(s)" in out and "2 model version(s), 1 alias(es)" in out, out

    runs, total = store.search_runs(limit=100)
    by_name = {r.info.name: r for r in runs}
    assert total == 5, [(r.info.name, r.info.experiment, r.tags) for r in runs]
    for name, facts in expected["runs"].items():
        run = by_name[name]
        assert run.info.status == facts["status"] and run.info.start_ms == 1_700_000_000_000
        assert run.info.end_ms == 1_700_000_002_000
        assert run.params["solver"] == "lbfgs" and run.tags["team"] == "risk" and run.tags["note"] == "α β"
        loss = store.get_metric_series(run.info.id, "loss")
        assert list(loss.steps) == [0, 1, 2, 3, 4] and list(loss.timestamps) == [
            1_700_000_000_000 + s for s in range(5)
        ]
        artifact = store.get_artifact(run.info.id, "reports/" + name.replace("-C", "-") + ".txt")
        assert store.objects.get(artifact.digest) == facts["artifact"]
    versions = store.list_versions("churn")
    assert [v.version for v in versions] == [1, 2] and versions[0].stage == "production"
    assert "challenger" in versions[1].aliases and versions[0].run_id == by_name["model"].info.id
    X, _ = _data()
    import jupyter_mlm as mlm

    loaded = mlm.load_model("churn@challenger", trusted=True)
    assert np.array_equal(loaded.predict(X), expected["models"][1].predict(X))

    assert cli([*args, "import-mlflow", "--tracking-uri", source]) == 0  # again: nothing doubles
    assert "0 run(s) (5 copied before)" in capsys.readouterr().out and store.search_runs(limit=100)[1] == 5

    target = f"sqlite:///{tmp_path / 'target.db'}"
    assert cli([*args, "export-mlflow", "--tracking-uri", target, "--artifact-root", str(tmp_path / "target-art"),
                "--trusted"]) == 0  # fmt: skip
    assert "exported 2 experiment(s), 5 run(s)" in capsys.readouterr().out
    from mlflow.tracking import MlflowClient

    theirs, original = MlflowClient(target, target), MlflowClient(source, source)
    for experiment in ("churn", "fraud"):
        a = {
            r.info.run_name: r
            for r in original.search_runs([original.get_experiment_by_name(experiment).experiment_id])
        }
        b = {r.info.run_name: r for r in theirs.search_runs([theirs.get_experiment_by_name(experiment).experiment_id])}
        assert a.keys() == b.keys()
        for name in a:
            ra, rb = a[name], b[name]
            assert ra.data.params == rb.data.params and ra.data.metrics == rb.data.metrics
            assert (ra.info.status, ra.info.start_time, ra.info.end_time) == (rb.info.status, rb.info.start_time,
                                                                              rb.info.end_time)  # fmt: skip
            assert {k: v for k, v in ra.data.tags.items() if not k.startswith("mlflow.")} == {
                k: v for k, v in rb.data.tags.items() if not k.startswith(("mlflow.", "mlm."))}  # fmt: skip
            history = [(m.step, m.value, m.timestamp) for m in theirs.get_metric_history(rb.info.run_id, "loss")]
            assert history == [
                (m.step, m.value, m.timestamp) for m in original.get_metric_history(ra.info.run_id, "loss")
            ]
            assert sorted(f.path for f in theirs.list_artifacts(rb.info.run_id, "reports")) == sorted(
                f.path for f in original.list_artifacts(ra.info.run_id, "reports"))  # fmt: skip
    exported = {str(v.version): v for v in theirs.search_model_versions("name='churn'")}
    assert sorted(exported) == ["1", "2"] and exported["1"].current_stage == "Production"
    assert {k: str(v) for k, v in theirs.get_registered_model("churn").aliases.items()} == {"challenger": "2"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.set_tracking_uri(target)
        again = mlflow.pyfunc.load_model("models:/churn@challenger")
    assert np.array_equal(np.asarray(again.predict(X)), expected["models"][1].predict(X))


def test_export_writes_a_model_folder_mlflow_serves(session: Store, tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    import jupyter_mlm as mlm

    X, y = _data()
    model = RandomForestClassifier(20, random_state=0).fit(X, y)
    version = mlm.register_model(model, "fraud", reference_data=X)
    mlm.transition("fraud", version.version, "production")
    args = ["--store", _store_arg(session, tmp_path), "--objects", str(tmp_path / "objects")]
    folder = tmp_path / "exported"
    assert cli([*args, "export", "fraud@production", "--format", "mlflow", "-o", str(folder)]) == 0
    assert {"MLmodel", "requirements.txt", "conda.yaml", "python_env.yaml"} <= {p.name for p in folder.iterdir()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        served = mlflow.pyfunc.load_model(str(folder))
    assert [c.name for c in served.metadata.get_input_schema().inputs] == list(X.columns)
    assert np.array_equal(np.asarray(served.predict(X)), model.predict(X))
    assert cli([*args, "export", "fraud@production", "-o", str(folder)]) == 1  # never over an existing folder
    assert cli([*args, "export", "fraud@production", "--format", "onnx", "-o", str(tmp_path / "x")]) == 1


def _store_arg(store: Store, tmp_path: Path) -> str:
    return str(tmp_path / "store") if store.location.backend == "sqlite" else store.location.db_url
