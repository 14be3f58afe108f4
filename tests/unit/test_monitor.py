"""mlm.monitor on a real store (SQLite and PostgreSQL): batches against a registered version's
reference, labels that arrive later, reports, series, rules firing alerts that are audited, the
input forms (pandas, polars, pyarrow, numpy) and bad input refused with nothing written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression

import jupyter_mlm as mlm
from jupyter_mlm.cli import main as cli
from jupyter_mlm.store import Store

HOUR = 3_600_000
T0 = 1_767_000_000_000  # a fixed morning, in ms


def customers(n: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "tenure": rng.normal(30 + 15 * shift, 10, n), "usage": rng.exponential(5 + 5 * shift, n),
        "plan": rng.choice(["basic", "pro"], n, p=[0.7 - 0.4 * shift, 0.3 + 0.4 * shift]),
    })  # fmt: skip


def churned(frame: pd.DataFrame, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ((frame["tenure"] < 25) ^ (rng.random(len(frame)) < 0.1)).astype(int).to_numpy()


@pytest.fixture
def production(session: Store) -> LogisticRegression:
    train = customers(3000, seed=1)
    clf = LogisticRegression().fit(train[["tenure", "usage"]], churned(train, 2))
    mlm.register_model(clf, "churn", reference_data=train)
    mlm.transition("churn", 1, "production")
    return clf


def test_batches_labels_report_and_alerts(
    production: LogisticRegression, session: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    mlm.monitor.add_rule("churn", "roc_auc < 0.78")
    mlm.monitor.add_rule("churn", "drift_share >= 0.5 per 2h")
    healthy = customers(2000, seed=3)
    scores = production.predict_proba(healthy[["tenure", "usage"]])[:, 1]
    ids = [f"h{i}" for i in range(2000)]
    batch = mlm.monitor.log("churn", healthy, predictions=(scores > 0.5).astype(int), scores=scores, ids=ids,
                            latency_ms=np.full(2000, 3.0), timestamp=T0)  # fmt: skip
    assert batch.version == 1 and batch.rows == 2000 and batch.alerts == []
    fired = mlm.monitor.log_labels("churn", ids, churned(healthy, 4))
    assert fired == []  # the model is good on healthy traffic
    report = mlm.monitor.report("churn", window="all")
    assert report.drift is not None and report.drift["dataset_drift"] is False
    labels = churned(healthy, 4)
    assert report.performance["metrics"]["roc_auc"] == skm.roc_auc_score(labels, scores)
    assert report.latency["p50"] == pytest.approx(3.0, rel=0.02)

    drifted = customers(2000, shift=1.0, seed=5)
    drift_scores = production.predict_proba(drifted[["tenure", "usage"]])[:, 1]
    drift_ids = [f"d{i}" for i in range(2000)]
    batch = mlm.monitor.log("churn", drifted, predictions=(drift_scores > 0.5).astype(int), scores=drift_scores,
                            ids=drift_ids, timestamp=T0 + 2 * HOUR)  # fmt: skip
    assert [a.expression for a in batch.alerts] == ["drift_share >= 0.5 per 2h"]
    rng = np.random.default_rng(6)
    flipped = rng.integers(0, 2, 2000)  # labels arrive later; the model is now no better than chance
    fired = mlm.monitor.log_labels("churn", drift_ids, flipped)
    assert [a.expression for a in fired] == ["roc_auc < 0.78"] and fired[0].value < 0.78
    assert mlm.monitor.log_labels("churn", drift_ids[:10], flipped[:10]) == []  # no second alert for the same stretch
    assert {a.expression for a in mlm.monitor.alerts("churn")} == {"roc_auc < 0.78", "drift_share >= 0.5 per 2h"}
    actions = [e.action for e in session.audit_events(None) if e.entity_type == "monitor"]
    assert actions.count("add_rule") == 2 and actions.count("alert") == 2
    assert mlm.monitor.status("churn")["status"] == "alert"

    window = mlm.monitor.report("churn", window="1h", segment_by=["plan"])
    # The one-hour window ending now holds no batch (they were in the past): logging picks its own end.
    assert window.rows == 0
    recent = mlm.monitor.report("churn", window="all", segment_by=["plan"])
    assert set(recent.performance["segments"]["plan"]["segments"]) == {"basic", "pro"}
    assert "tenure" in recent._repr_html_() and "<svg" in recent._repr_html_()
    series = mlm.monitor.series("churn", "drift_share", every="1h")
    assert list(series.columns) == ["time", "value", "rows", "version"]
    assert series["rows"].tolist() == [2000, 0, 2000] and series["value"].iloc[2] >= 0.5

    where = ["--store", session.location.db_url, "--objects", session.objects.uri]
    assert cli([*where, "monitor", "churn", "--window", "all"]) == 0
    assert cli([*where, "alerts", "--model", "churn"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "churn/1: 4,000 rows in 2 batch(es), window all"
    assert "performance on 4,000 labelled rows: accuracy" in out
    assert "roc_auc < 0.78" in out and "drift_share >= 0.5 per 2h" in out


def test_input_forms_and_bad_input(production: LogisticRegression, session: Store) -> None:
    import polars as pl
    import pyarrow as pa

    data = customers(300, seed=7)
    for form in (data, pl.from_pandas(data), pa.Table.from_pandas(data)):
        assert mlm.monitor.log("churn", form, timestamp=T0).rows == 300
    array = data[["tenure", "usage"]].to_numpy()
    with pytest.raises(mlm.UsageError, match="the model's signature names 3"):
        mlm.monitor.log("churn", array)
    before = len(session.batches("churn"))
    for bad, message in [
        (data.drop(columns=["usage"]), "column 'usage' of churn/1's signature is missing"),
        (data.assign(tenure=data["tenure"].astype(str)), "column 'tenure' must be numeric"),
        (data.iloc[:0], "the batch has no rows"),
    ]:
        with pytest.raises(mlm.UsageError, match=message):
            mlm.monitor.log("churn", bad)
    with pytest.raises(mlm.UsageError, match="one value per row"):
        mlm.monitor.log("churn", data, predictions=[1, 0])
    with pytest.raises(mlm.UsageError, match="ids must be unique"):
        mlm.monitor.log("churn", data, ids=["same"] * 300)
    with pytest.raises(mlm.NotFound, match="no production version"):
        mlm.monitor.log("other", data) if mlm.register_model({"a": 1}, "other") else None
    assert len(session.batches("churn")) == before  # nothing written
    with pytest.raises(mlm.UsageError, match="unknown metric"):
        mlm.monitor.add_rule("churn", "auc < 0.7")
    assert session.rules("churn") == []


def test_profiles_from_partitions_and_parquet(production: LogisticRegression, session: Store, tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = customers(8000, shift=0.2, seed=8)
    bins = mlm.monitor.reference_bins("churn")
    parts = [mlm.monitor.profile(data.iloc[i::4], reference=bins) for i in range(4)]
    merged = mlm.monitor.merge_profiles(parts)
    logged = mlm.monitor.log_profile("churn", merged, timestamp=T0)
    assert logged.rows == 8000
    path = tmp_path / "big.parquet"
    pq.write_table(pa.Table.from_pandas(data), path, row_group_size=1000)
    streamed = mlm.monitor.log_parquet("churn", str(path), timestamp=T0 + HOUR, batch_rows=1500)
    assert streamed.rows == 8000
    report = mlm.monitor.report("churn", window="all")
    whole = mlm.monitor.profile(data, reference=bins)
    merged_tenure = next(c for c in report.drift["columns"] if c["column"] == "tenure")
    assert merged_tenure["current_rows"] == 16_000
    assert whole["columns"]["tenure"]["sketch"] == merged["columns"]["tenure"]["sketch"]


def test_keep_rows_and_a_profile_that_travels_to_workers(production: LogisticRegression, session: Store) -> None:
    import io
    import pickle

    data = customers(400, seed=9)
    batch = mlm.monitor.log("churn", data, keep_rows=True, timestamp=T0)
    (row,) = [b for b in session.batches("churn") if b.id == batch.id]
    assert row.rows_digest is not None
    kept = pd.read_parquet(io.BytesIO(session.objects.get(row.rows_digest)))
    pd.testing.assert_frame_equal(kept, data)
    # What a Dask or Spark task needs: the function and its result survive pickling.
    profile_fn = pickle.loads(pickle.dumps(mlm.monitor.profile))
    result = profile_fn(data, reference=mlm.monitor.reference_bins("churn"))
    assert pickle.loads(pickle.dumps(result)) == result and result["rows"] == 400
    assert mlm.monitor.log("churn", data, timestamp=T0).rows == 400
    assert [b.rows_digest is None for b in session.batches("churn")] == [False, True]  # rows kept only when asked
