"""The model registry through the Python API, on SQLite and PostgreSQL."""

from __future__ import annotations

import pickle
import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import jupyter_mlm as mlm
from jupyter_mlm.capture.data import RECORDER
from jupyter_mlm.entities import ApprovalRequest
from jupyter_mlm.errors import Conflict, IntegrityError, NotFound, PermissionDenied, UsageError
from jupyter_mlm.registry import Governance
from jupyter_mlm.store import Store, open_store


@pytest.fixture
def recording(session: Store) -> Iterator[Store]:
    """Data reads recorded, as after `%load_ext jupyter_mlm` in a kernel."""
    RECORDER.install()
    RECORDER.take()
    yield session
    RECORDER.recording = False


@pytest.fixture
def training() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "tenure": rng.integers(1, 60, 400),
        "usage": rng.normal(10, 3, 400),
        "plan": rng.choice(["basic", "pro", "team"], 400),
    })  # fmt: skip
    return frame, (frame.tenure < 12).astype(int)


def tiny_onnx() -> object:
    from onnx import TensorProto, helper

    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph(
        [node], "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
    )  # fmt: skip
    return helper.make_model(graph)


def fitted(training: tuple[pd.DataFrame, pd.Series], c: float = 1.0) -> LogisticRegression:
    frame, target = training
    return LogisticRegression(C=c).fit(frame[["tenure", "usage"]], target)


def train_and_register(training: tuple[pd.DataFrame, pd.Series], tmp_path: Path, c: float = 1.0) -> mlm.ModelVersion:
    data = tmp_path / "train.csv"
    training[0].to_csv(data, index=False)
    with mlm.start_run(f"train-c{c}", experiment="churn"):
        frame = pd.read_csv(data)
        mlm.log_param("C", c)
        mlm.log_metric("auc", 0.8 + c / 100)
        model = fitted(training, c)
    return mlm.register_model(model, "churn", reference_data=frame, description=f"C={c}")


def test_register_numbers_versions_and_links_lineage(
    recording: Store, training: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    v1 = train_and_register(training, tmp_path)
    v2 = train_and_register(training, tmp_path, c=0.5)
    assert (v1.version, v2.version) == (1, 2)
    assert v1.flavor == "sklearn" and v1.stage == "none" and len(v1.digest) == 64
    assert recording.objects.exists(v1.digest)
    chain = v1.lineage()
    assert chain.run is not None and chain.run["name"] == "train-c1.0" and chain.run["params"] == {"C": "1.0"}
    assert [Path(d["path"]).name for d in chain.data] == ["train.csv"]
    assert chain.notebook is not None and chain.notebook["manifest"]
    assert chain.environment is not None and chain.environment["packages"] > 10
    assert chain.to_dict()["version"]["digest"] == v1.digest
    profile = v1.profile
    assert profile is not None and profile["rows"] == 400
    assert profile["columns"]["plan"]["type"] == "categorical"
    assert set(profile["columns"]["plan"]["frequencies"]) == {"basic", "pro", "team"}
    assert profile["columns"]["usage"]["histogram"]["counts"] and "0.5" in profile["columns"]["usage"]["quantiles"]
    assert v1.signature == {
        "inputs": [{"name": "tenure", "type": "integer"}, {"name": "usage", "type": "float"},
                   {"name": "plan", "type": "categorical"}]
    }  # fmt: skip


def test_version_numbers_are_never_reused(session: Store, training: tuple[pd.DataFrame, pd.Series]) -> None:
    for _ in range(2):
        mlm.register_model(fitted(training), "churn")
    mlm.delete_model_version("churn", 2, comment="bad features")
    assert mlm.register_model(fitted(training), "churn").version == 3
    with pytest.raises(NotFound, match="no version 2"):
        mlm.load_model("churn/2")


def test_flavors_from_objects_and_files(
    session: Store, training: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    import joblib
    import skops.io

    model = fitted(training)
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(model))
    joblib.dump(model, tmp_path / "m.joblib")
    skops.io.dump(model, tmp_path / "m.skops")
    onnx_model = tiny_onnx()
    (tmp_path / "m.onnx").write_bytes(onnx_model.SerializeToString())
    folder = tmp_path / "saved"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"w" * 100)
    (folder / "sub" / "config.json").write_text("{}")
    cases = {
        "obj": (model, "sklearn"), "dict": ({"weights": [1, 2, 3]}, "pickle"),
        "pkl": (tmp_path / "m.pkl", "pickle"), "joblib": (str(tmp_path / "m.joblib"), "joblib"),
        "skops": (tmp_path / "m.skops", "skops"), "onnx": (tmp_path / "m.onnx", "onnx"),
        "folder": (folder, "directory"), "onnx-obj": (onnx_model, "onnx"),
    }  # fmt: skip
    for name, (source, flavor) in cases.items():
        version = mlm.register_model(source, f"m-{name}")
        assert version.flavor == flavor, name
    predict = model.predict(training[0][["tenure", "usage"]])
    for name in ("obj", "pkl", "joblib", "skops"):
        loaded = mlm.load_model(f"m-{name}/1", trusted=True)
        assert (loaded.predict(training[0][["tenure", "usage"]]) == predict).all(), name
    assert mlm.load_model("m-dict/1") == {"weights": [1, 2, 3]}
    for name in ("onnx", "onnx-obj"):
        assert mlm.load_model(f"m-{name}/1") == onnx_model, name
    restored = Path(mlm.load_model("m-folder/1"))
    assert (restored / "weights.bin").read_bytes() == b"w" * 100 and (restored / "sub" / "config.json").is_file()
    # The same folder gives the same digest: its tar is reproducible.
    assert mlm.register_model(folder, "m-folder").digest == mlm.get_model_version("m-folder/1").digest


def test_lightgbm_native_format(session: Store, training: tuple[pd.DataFrame, pd.Series]) -> None:
    import lightgbm

    frame, target = training
    booster = lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(frame[["tenure", "usage"]], target),
                             num_boost_round=5)  # fmt: skip
    version = mlm.register_model(booster, "gbm")
    assert version.flavor == "lightgbm"
    loaded = mlm.load_model("gbm/1")
    assert np.allclose(loaded.predict(frame[["tenure", "usage"]]), booster.predict(frame[["tenure", "usage"]]))


def test_stages_one_production_archive_and_rollback(session: Store, training: tuple[pd.DataFrame, pd.Series]) -> None:
    for _ in range(3):
        mlm.register_model(fitted(training), "churn")
    mlm.transition("churn", 1, "staging")
    mlm.transition("churn", 1, "production", comment="first release")
    mlm.transition("churn", 2, "production")
    assert [v.stage for v in mlm.list_model_versions("churn")] == ["archived", "production", "none"]
    mlm.transition("churn", 3, "production")
    assert mlm.get_model_version("churn@production").version == 3
    back = mlm.rollback("churn", comment="latency regression")
    assert back.version == 2 and mlm.get_model_version("churn/3").stage == "archived"
    assert mlm.rollback("churn").version == 1
    with pytest.raises(Conflict, match="no earlier production version"):
        mlm.rollback("churn")
    events = mlm.audit_log("churn")
    assert events[0].action == "restore" and events[1].action == "rollback"
    assert events[1].after == {"version": 2, "stage": "archived", "rolled_back_to": 1}


def test_transitions_that_make_no_sense_are_refused(session: Store, training: tuple[pd.DataFrame, pd.Series]) -> None:
    mlm.register_model(fitted(training), "churn")
    mlm.register_model(fitted(training), "churn")
    mlm.transition("churn", 1, "production")
    mlm.transition("churn", 2, "production")
    with pytest.raises(Conflict, match="is archived; move it to another stage first"):
        mlm.transition("churn", 1, "production")
    with pytest.raises(UsageError, match="unknown stage 'prod'; stages are none, staging, production, archived"):
        mlm.transition("churn", 2, "prod")
    with pytest.raises(NotFound, match=r"model 'churn' has no version 9 \(versions: \[1, 2\]\)"):
        mlm.transition("churn", 9, "staging")
    with pytest.raises(NotFound, match="no registered model 'nope'"):
        mlm.transition("nope", 1, "staging")
    with pytest.raises(Conflict, match="already in production"):
        mlm.transition("churn", 2, "production")
    with pytest.raises(UsageError, match="version must be a positive whole number"):
        mlm.transition("churn", True, "staging")  # type: ignore[arg-type]
    with pytest.raises(Conflict, match="is in production"):
        mlm.delete_model_version("churn", 2)
    mlm.transition("churn", 1, "staging")
    assert mlm.transition("churn", 1, "production").stage == "production"  # re-reviewed: fine


def test_aliases(session: Store, training: tuple[pd.DataFrame, pd.Series]) -> None:
    mlm.register_model(fitted(training), "churn")
    mlm.register_model(fitted(training, 0.3), "churn")
    mlm.set_alias("churn", "champion", 1)
    mlm.set_alias("churn", "challenger", 2)
    assert mlm.get_model_version("churn@champion").version == 1
    mlm.set_alias("churn", "champion", 2)  # moves
    assert mlm.get_model_version("churn/2").aliases == ("challenger", "champion")
    assert mlm.get_model_version("churn/1").aliases == ()
    mlm.delete_alias("churn", "challenger")
    with pytest.raises(NotFound, match="no stage or alias 'challenger'"):
        mlm.load_model("churn@challenger")
    with pytest.raises(UsageError, match="is a stage name"):
        mlm.set_alias("churn", "production", 1)
    with pytest.raises(UsageError, match="alias must be"):
        mlm.set_alias("churn", "bad alias!", 1)
    assert [e.action for e in mlm.audit_log("churn", limit=4)] == ["delete_alias", "alias", "alias", "alias"]


def acting_as(monkeypatch: pytest.MonkeyPatch, user: str) -> None:
    """Act as another person, as JupyterHub does for each user's server and kernels."""
    monkeypatch.setenv("JUPYTERHUB_USER", user)


def test_approvals_request_then_another_user_approves(
    session: Store, training: tuple[pd.DataFrame, pd.Series], monkeypatch: pytest.MonkeyPatch
) -> None:
    acting_as(monkeypatch, "ana")
    mlm.set_registry_policy(require_approval_for=["production"], comment="four eyes")
    mlm.register_model(fitted(training), "churn")
    request = mlm.transition("churn", 1, "production", comment="ready")
    assert isinstance(request, ApprovalRequest) and request.status == "pending" and request.requested_by == "ana"
    assert mlm.get_model_version("churn/1").stage == "none"
    with pytest.raises(Conflict, match="already has a pending request"):
        mlm.transition("churn", 1, "production")
    with pytest.raises(PermissionDenied, match="ana requested this transition and cannot also approve"):
        mlm.approve("churn", 1)
    with pytest.raises(PermissionDenied, match="needs named approvers"):
        mlm.approve("churn", 1, approver="bo")  # claiming to be someone else is refused
    acting_as(monkeypatch, "bo")
    decided = mlm.approve("churn", 1, comment="looks good")
    assert decided.status == "approved" and decided.decided_by == "bo"
    assert mlm.get_model_version("churn@production").version == 1
    acting_as(monkeypatch, "cy")
    with pytest.raises(Conflict, match="was already approved by bo"):
        mlm.approve(request=request.id)
    staged = mlm.transition("churn", 1, "staging")  # not gated: happens at once
    assert not isinstance(staged, ApprovalRequest) and staged.stage == "staging"
    card = mlm.get_model_version("churn/1").card()
    assert [a["status"] for a in card["approvals"]] == ["approved"]
    actions = [e.action for e in reversed(mlm.audit_log("churn"))]
    assert actions == ["register", "request", "approve", "transition", "transition"]


def test_rejection_and_approver_list(
    session: Store, training: tuple[pd.DataFrame, pd.Series], monkeypatch: pytest.MonkeyPatch
) -> None:
    acting_as(monkeypatch, "ana")
    mlm.set_registry_policy(require_approval_for=["production", "staging"], approvers=["lead"])
    mlm.register_model(fitted(training), "churn")
    mlm.transition("churn", 1, "staging")
    acting_as(monkeypatch, "bo")
    with pytest.raises(PermissionDenied, match="bo is not an approver"):
        mlm.approve("churn", 1)
    acting_as(monkeypatch, "lead")
    rejected = mlm.reject("churn", 1, comment="missing fairness report")
    assert rejected.status == "rejected" and mlm.get_model_version("churn/1").stage == "none"
    with pytest.raises(NotFound, match="no pending request"):
        mlm.approve("churn", 1)
    for malformed in ("%", "a_b", "²", "x" * 33):
        with pytest.raises(UsageError, match="request id must be an id or a unique prefix"):
            Governance(session, "lead").decide(request=malformed, approve=True)


def test_named_approvers_are_an_audited_opt_in(session: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shared accounts: with named approvers on, an approver says who they are, and the log
    keeps who said it."""
    acting_as(monkeypatch, "shared")
    mlm.set_registry_policy(require_approval_for=["production"], named_approvers=True)
    mlm.register_model({"a": 1}, "m")
    mlm.transition("m", 1, "production")
    with pytest.raises(PermissionDenied, match="shared requested this transition"):
        mlm.approve("m", 1, approver="shared")
    decided = mlm.approve("m", 1, approver="lead")
    assert decided.decided_by == "lead"
    approval = next(e for e in mlm.audit_log("m") if e.action == "approve")
    assert approval.actor == "lead" and approval.after["named_by"] == "shared"
    policy_events = session.audit_events(None)
    assert any(e.action == "policy" and e.after["named_approvers"] for e in policy_events)


def test_policy_misconfiguration_is_reported(session: Store) -> None:
    with pytest.raises(UsageError, match="require_approval_for names unknown stages"):
        mlm.set_registry_policy(require_approval_for=["prod"])
    with pytest.raises(UsageError, match="unknown policy setting"):
        mlm.set_registry_policy(approval=["production"])
    assert mlm.registry_policy().require_approval_for == ()


def test_the_policy_is_the_stores_not_the_processes(session: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment variables of one kernel no longer change the rules (they used to)."""
    mlm.set_registry_policy(require_approval_for=["production"])
    monkeypatch.setenv("MLM_REQUIRE_APPROVAL_FOR", "")
    monkeypatch.setenv("MLM_APPROVERS", "me")
    mlm.register_model({"a": 1}, "m")
    assert isinstance(mlm.transition("m", 1, "production"), ApprovalRequest)
    assert mlm.registry_policy().approvers == ()


def test_custom_stage_names(session: Store) -> None:
    mlm.set_registry_policy(stages=["dev", "qa", "live", "retired"], production="live", archived="retired")
    mlm.register_model({"a": 1}, "x")
    mlm.register_model({"a": 2}, "x")
    assert mlm.get_model_version("x/1").stage == "dev"
    mlm.transition("x", 1, "live")
    mlm.transition("x", 2, "live")
    assert mlm.get_model_version("x/1").stage == "retired"
    assert mlm.load_model("x@live") == {"a": 2}
    with pytest.raises(Conflict, match="which the new policy drops"):
        mlm.set_registry_policy(stages=["none", "staging", "production", "archived"], production="production",
                                archived="archived")  # fmt: skip


def test_load_verifies_the_digest_before_deserialising(
    session: Store, training: tuple[pd.DataFrame, pd.Series]
) -> None:
    from jupyter_mlm.store.objects import FsspecObjectStore

    version = mlm.register_model(fitted(training), "churn")
    malicious = b"cos\nsystem\n(S'echo pwned'\ntR."  # a malicious pickle in place of the model
    if isinstance(session.objects, FsspecObjectStore):  # a bucket written behind the store's back
        session.objects.fs.pipe(session.objects._path(version.digest), malicious)
    else:
        blob = Path(session.objects._path(version.digest))  # type: ignore[attr-defined]
        blob.chmod(0o644)
        blob.write_bytes(malicious)
    with pytest.raises(IntegrityError, match=version.digest):
        mlm.load_model("churn/1")


def test_pickle_warning_every_time_for_versions_someone_else_registered(
    session: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    acting_as(monkeypatch, "ana")
    monkeypatch.setenv("MLM_USER", "bo")  # a claim, not an identity: ignored
    version = mlm.register_model({"w": 1}, "shared")
    assert version.created_by == "ana"
    mlm.register_model({"w": 2}, "shared")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mlm.load_model("shared/1") == {"w": 1}  # her own: silent
    acting_as(monkeypatch, "bo")

    def pickle_warnings(*refs: str, **kwargs: bool) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for ref in refs:
                mlm.load_model(ref, **kwargs)
        return [str(w.message) for w in caught if "pickle module is not secure" in str(w.message)]

    messages = pickle_warnings("shared/1", "shared/1", "shared/2")
    assert len(messages) == 3 and all("registered by ana, not by you (bo)" in m for m in messages)
    assert pickle_warnings("shared/1", trusted=True) == []
    monkeypatch.setenv("MLM_TRUSTED_PUBLISHERS", "ana")
    assert pickle_warnings("shared/2") == []
    assert mlm.get_model_version("shared/1").card()["safe_to_load"] is False


def test_references_and_bad_input(session: Store) -> None:
    mlm.register_model({"a": 1}, "m")
    assert mlm.get_model_version("m/latest").version == 1
    for ref, message in [
        ("m", "say which version of 'm'"), ("m/0", "positive whole number"), ("m/²", "positive whole number"), ("m@", "say which stage or alias"),
        ("bad name/1", "model name must be"), ("", "model reference must be"),
    ]:  # fmt: skip
        with pytest.raises(UsageError, match=message):
            mlm.load_model(ref)
    with pytest.raises(UsageError, match="needs a model object or the path"):
        mlm.register_model(None, "m")
    with pytest.raises(NotFound, match="no such file or folder"):
        mlm.register_model("/nonexistent/model.pkl", "m")
    with pytest.raises(UsageError, match="reference_data must be"):
        mlm.register_model({"a": 1}, "m", reference_data=42)
    with pytest.raises(UsageError, match="cannot pickle"):
        mlm.register_model(lambda x: x, "m")
    assert len(mlm.list_model_versions("m")) == 1  # nothing half-written


def test_audit_chain_detects_an_edited_row(tmp_path: Path) -> None:
    from jupyter_mlm.tracking import SESSION

    store = open_store(str(tmp_path / "store"))
    SESSION.use_store(store)
    try:
        mlm.register_model({"a": 1}, "m")
        mlm.register_model({"a": 2}, "m")
        mlm.transition("m", 1, "production")
        mlm.transition("m", 2, "production")
        report = mlm.verify_audit()
        assert report.ok and report.events == 5
        with sqlite3.connect(tmp_path / "store" / "mlm.db") as db:
            db.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
        report = mlm.verify_audit()
        assert not report.ok and report.first_bad_seq == 3 and report.problem == "event 3 was altered"
        with sqlite3.connect(tmp_path / "store" / "mlm.db") as db:  # a forger recomputing the row's own hash
            db.execute("UPDATE audit_events SET hash = 'f' || substr(hash, 2) WHERE seq = 3")
        report = mlm.verify_audit()
        assert not report.ok and report.first_bad_seq == 3
    finally:
        SESSION.use_store(None)
        store.close()


def test_audit_chain_detects_a_deleted_row_and_a_truncated_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mlm.tracking import SESSION

    store = open_store(str(tmp_path / "store"))
    SESSION.use_store(store)
    try:
        for value in range(4):
            mlm.register_model({"a": value}, "m")
        with sqlite3.connect(tmp_path / "store" / "mlm.db") as db:
            db.execute("DELETE FROM audit_events WHERE seq = 2")
        report = mlm.verify_audit()
        assert (report.ok, report.first_bad_seq, report.problem) == (False, 2, "event 2 is missing")
    finally:
        SESSION.use_store(None)
        store.close()
    store = open_store(str(tmp_path / "other"))
    SESSION.use_store(store)
    try:
        for value in range(3):
            mlm.register_model({"a": value}, "m")
        with sqlite3.connect(tmp_path / "other" / "mlm.db") as db:
            db.execute("DELETE FROM audit_events WHERE seq = 3")
        report = mlm.verify_audit()
        assert (report.ok, report.first_bad_seq) == (False, 3) and "missing" in (report.problem or "")
    finally:
        SESSION.use_store(None)
        store.close()


def test_model_card_html_and_text(recording: Store, training: tuple[pd.DataFrame, pd.Series], tmp_path: Path) -> None:
    version = train_and_register(training, tmp_path)
    mlm.transition("churn", 1, "staging", comment="for shadow traffic")
    html = version._repr_html_()
    assert "churn v1" in html and "staging" in html and "auc" in html and "train.csv" in html
    text = version.card_text()
    assert "source run: train-c1.0" in text and "metrics: auc=0.81" in text and "for shadow traffic" in text
    assert "environment: Python" in text


def test_concurrent_registrations_and_promotions_keep_the_rules(store: Store) -> None:
    """Four writers at once: version numbers stay unique, one production version, an unbroken chain."""
    import threading

    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        governance = Governance(store, f"w{worker}")
        try:
            for i in range(8):
                digest = store.objects.put_bytes(f"{worker}-{i}".encode())
                record = governance.add_version(
                    "busy", digest=digest, size=3, flavor="file", serializer="file", filename="m", run_id=None,
                    signature=None, profile_digest=None, description="",
                )  # fmt: skip
                governance.transition("busy", record.version, "production")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    versions = store.list_versions("busy")
    assert sorted(v.version for v in versions) == list(range(1, 33))
    assert [v.stage for v in versions].count("production") == 1
    report = store.verify_audit()
    assert report.ok and report.events == 32 + 32 + 31  # register, promote, archive-by-promotion


def test_xgboost_native_format(session: Store, training: tuple[pd.DataFrame, pd.Series]) -> None:
    import xgboost

    frame, target = training
    features = frame[["tenure", "usage"]]
    classifier = xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(features, target)
    booster = xgboost.train({"max_depth": 2}, xgboost.DMatrix(features, label=target), num_boost_round=3)
    for name, model in (("xgb-sk", classifier), ("xgb-booster", booster)):
        version = mlm.register_model(model, name)
        assert (version.flavor, session.get_version(name, 1).serializer) == ("xgboost", "xgboost")
    loaded = mlm.load_model("xgb-sk/1")
    assert type(loaded) is xgboost.XGBClassifier
    assert (loaded.predict(features) == classifier.predict(features)).all()
    again = mlm.load_model("xgb-booster/1")
    assert np.allclose(again.predict(xgboost.DMatrix(features)), booster.predict(xgboost.DMatrix(features)))


@pytest.mark.parametrize("flavor", ["xgboost", "lightgbm", "onnx", "pytorch"])
def test_a_flavor_that_does_not_fit_or_is_missing_says_so(session: Store, flavor: str) -> None:
    """%mlm_register clf x --flavor onnx (and the API) on a scikit-learn model: one line, nothing stored."""
    import importlib.util

    from sklearn.linear_model import LogisticRegression

    import jupyter_mlm as mlm

    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    missing = importlib.util.find_spec({"pytorch": "torch"}.get(flavor, flavor)) is None
    expected = "is not installed here" if missing else f"is not an? {flavor} model"
    with pytest.raises(mlm.UsageError, match=expected):
        mlm.register_model(model, "mismatch", flavor=flavor)
    assert mlm.list_models() == [] or "mismatch" not in [m.name for m in mlm.list_models()]
