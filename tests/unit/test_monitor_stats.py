"""Monitoring statistics against the libraries they must agree with: profiles merge to the
profile of the whole, drift tests equal scipy's (exact where the values are kept, within the
documented tolerance from sketches), performance equals scikit-learn's."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance
from sklearn import metrics as skm

from jupyter_mlm.errors import UsageError
from jupyter_mlm.monitoring.rules import parse_rule, window_ms
from jupyter_mlm.stats import sketch as sk
from jupyter_mlm.stats.drift import column_drift, dataset_drift, psi
from jupyter_mlm.stats.performance import by_segment, metrics
from jupyter_mlm.stats.profiles import merge, profile, reservoir_values
from jupyter_mlm.stats.reference import bins_of, build_reference

RNG = np.random.default_rng(42)


def frame(n: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.normal(30 + shift * 10, 10, n),
            "usage": rng.exponential(5 * (1 + shift), n),
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.6 - 0.3 * shift, 0.3, 0.1 + 0.3 * shift]),
        }
    )


def test_four_partitions_merge_to_the_whole() -> None:
    data = frame(40_000, seed=1)
    reference = bins_of(build_reference(frame(5000, seed=2)))
    whole = profile(data, reference=reference)
    parts = merge(profile(data.iloc[i::4].reset_index(drop=True), reference=reference) for i in range(4))
    assert parts is not None and parts["rows"] == whole["rows"] == 40_000
    for name in ("tenure", "usage"):
        a, b = whole["columns"][name], parts["columns"][name]
        assert a["sketch"] == b["sketch"]  # the sketch merges without error
        assert a["deciles"] == b["deciles"] and a["count"] == b["count"] and a["min"] == b["min"]
        assert math.isclose(a["sum"], b["sum"], rel_tol=1e-9) and math.isclose(a["sumsq"], b["sumsq"], rel_tol=1e-9)
    assert whole["columns"]["plan"]["counts"] == parts["columns"]["plan"]["counts"]
    # The sketch's quantiles are within its 1 % relative accuracy of the data's.
    s = whole["columns"]["usage"]["sketch"]
    for q in (0.1, 0.5, 0.9, 0.99):
        exact = float(np.quantile(data["usage"], q))
        assert abs(sk.quantile(s, q) - exact) <= 0.0201 * abs(exact) + 1e-9


def test_small_windows_keep_every_value() -> None:
    data = frame(600, seed=3)
    merged = merge([profile(data.iloc[:300]), profile(data.iloc[300:].reset_index(drop=True))])
    assert merged is not None
    kept = sorted(reservoir_values(merged["columns"]["tenure"]).tolist())
    assert kept == sorted(data["tenure"].tolist())


def test_ks_equals_scipy_when_values_are_kept() -> None:
    ref_data, cur_data = frame(500, seed=4), frame(800, shift=0.3, seed=5)
    ref = build_reference(ref_data)["columns"]["tenure"]
    cur = profile(cur_data)["columns"]["tenure"]
    result = column_drift("tenure", ref, cur)
    expected = stats.ks_2samp(ref_data["tenure"], cur_data["tenure"]).pvalue
    assert result["method"] == "ks" and math.isclose(result["score"], expected, rel_tol=1e-12)
    assert result["drifted"] is bool(expected < 0.05)


def test_ks_from_sketches_agrees_with_scipy() -> None:
    ref_data, cur_data = frame(900, seed=6), frame(50_000, shift=0.05, seed=7)
    ref = build_reference(ref_data)["columns"]["usage"]
    cur = profile(cur_data)["columns"]["usage"]
    ours = column_drift("usage", ref, cur)
    exact = stats.ks_2samp(ref_data["usage"], cur_data["usage"])
    assert ours["drifted"] is bool(exact.pvalue < 0.05)


@pytest.mark.parametrize(("cur_rows", "shift"), [(800, 0.0), (800, 0.4), (30_000, 0.0), (30_000, 0.2)])
def test_normed_wasserstein_agrees_with_scipy(cur_rows: int, shift: float) -> None:
    ref_data, cur_data = frame(20_000, seed=8), frame(cur_rows, shift=shift, seed=9)
    reference = build_reference(ref_data)
    cur = profile(cur_data, reference=bins_of(reference))["columns"]["tenure"]
    ours = column_drift("tenure", reference["columns"]["tenure"], cur)
    exact = stats.wasserstein_distance(ref_data["tenure"], cur_data["tenure"]) / np.std(ref_data["tenure"])
    assert ours["method"] == "wasserstein" and abs(ours["score"] - exact) <= 0.01
    assert ours["drifted"] is bool(exact > 0.1)


def test_chisquare_and_jensen_shannon_equal_scipy() -> None:
    small_ref, big_ref, cur_data = frame(700, seed=10), frame(5000, seed=11), frame(3000, shift=0.3, seed=12)
    cur = profile(cur_data)["columns"]["plan"]
    keys = ["basic", "pro", "team"]
    observed = np.array([(cur_data["plan"] == k).sum() for k in keys], float)
    for ref_data, method in ((small_ref, "chisquare"), (big_ref, "jensenshannon")):
        ref = build_reference(ref_data)["columns"]["plan"]
        result = column_drift("plan", ref, cur)
        counts = np.array([(ref_data["plan"] == k).sum() for k in keys], float)
        if method == "chisquare":
            expected = stats.chisquare(observed, counts / counts.sum() * observed.sum()).pvalue
        else:
            expected = distance.jensenshannon(counts / counts.sum(), observed / observed.sum())
        assert result["method"] == method and math.isclose(result["score"], expected, rel_tol=1e-12)


def test_psi_on_the_reference_deciles() -> None:
    ref_data, cur_data = frame(10_000, seed=13), frame(10_000, shift=0.5, seed=14)
    reference = build_reference(ref_data)
    ref = reference["columns"]["tenure"]
    cur = profile(cur_data, reference=bins_of(reference))["columns"]["tenure"]
    edges = np.quantile(ref_data["tenure"], np.linspace(0.1, 0.9, 9))
    e = np.bincount(np.searchsorted(edges, ref_data["tenure"], side="right"), minlength=10) / len(ref_data)
    o = np.bincount(np.searchsorted(edges, cur_data["tenure"], side="right"), minlength=10) / len(cur_data)
    e, o = np.maximum(e, 0.0001), np.maximum(o, 0.0001)
    assert math.isclose(psi(ref, cur), float(np.sum((o - e) * np.log(o / e))), rel_tol=1e-9)


def test_dataset_drift_share_and_overrides() -> None:
    reference = build_reference(frame(5000, seed=15))
    same = dataset_drift(reference, profile(frame(5000, seed=16), reference=bins_of(reference)))
    assert same["dataset_drift"] is False and same["drifted"] == 0
    shifted = dataset_drift(reference, profile(frame(5000, shift=0.6, seed=17), reference=bins_of(reference)))
    assert shifted["dataset_drift"] is True and shifted["share"] >= 0.5
    psi_only = dataset_drift(
        reference,
        profile(frame(5000, shift=0.6, seed=17), reference=bins_of(reference)),
        methods={"*": "psi"},
        thresholds={"usage": 10.0},
    )
    assert {c["column"]: c["method"] for c in psi_only["columns"]} == {"tenure": "psi", "usage": "psi", "plan": "psi"}
    assert [c["drifted"] for c in psi_only["columns"] if c["column"] == "usage"] == [False]
    with pytest.raises(UsageError, match="no column 'nope'"):
        dataset_drift(reference, same and profile(frame(10)), thresholds={"nope": 1})
    with pytest.raises(UsageError, match="ks needs a numeric column"):
        column_drift("plan", reference["columns"]["plan"], profile(frame(10))["columns"]["plan"], method="ks")


def test_performance_equals_scikit_learn() -> None:
    rng = np.random.default_rng(18)
    labels = rng.integers(0, 2, 2000)
    scores = np.clip(labels * 0.6 + rng.normal(0.2, 0.25, 2000), 0, 1)
    predictions = (scores > 0.5).astype(int)
    got = metrics(labels, predictions, scores)
    assert got == {
        "accuracy": skm.accuracy_score(labels, predictions), "precision": skm.precision_score(labels, predictions),
        "recall": skm.recall_score(labels, predictions), "f1": skm.f1_score(labels, predictions),
        "roc_auc": skm.roc_auc_score(labels, scores), "log_loss": skm.log_loss(labels, np.clip(scores, 1e-15, 1 - 1e-15)),
    }  # fmt: skip
    y = rng.normal(0, 1, 500)
    p = y + rng.normal(0, 0.3, 500)
    assert metrics(y, p) == {"mae": skm.mean_absolute_error(y, p), "rmse": math.sqrt(skm.mean_squared_error(y, p)),
                             "r2": skm.r2_score(y, p)}  # fmt: skip
    region = np.where(np.arange(2000) % 2 == 0, "north", "south")
    predictions[region == "south"] = 1 - predictions[region == "south"]  # the model is bad in the south
    segments = by_segment(labels, predictions, scores, {"region": region})["region"]
    assert segments["gaps"]["accuracy"]["lowest"] == "south" and segments["gaps"]["accuracy"]["highest"] == "north"
    south = region == "south"
    assert segments["segments"]["south"]["accuracy"] == skm.accuracy_score(labels[south], predictions[south])


@pytest.mark.parametrize(
    ("text", "canonical", "window"),
    [("roc_auc < 0.78", "roc_auc < 0.78", 3_600_000), ("drift_share >= 0.5", "drift_share >= 0.5", 3_600_000),
     ("psi(tenure) > 0.2", "psi(tenure) > 0.2", 3_600_000), ("p95_latency_ms > 200", "p95_latency_ms > 200", 3_600_000),
     ("rows < 100 per 1h", "rows < 100 per 1h", 3_600_000), ("ROWS<100 within 2D", "rows < 100 per 2d", 172_800_000)],
)  # fmt: skip
def test_rules_grammar(text: str, canonical: str, window: int) -> None:
    rule = parse_rule(text)
    assert rule.text == canonical and rule.window_ms == window


@pytest.mark.parametrize(
    ("text", "message"),
    [("__import__('os').system('x') > 1", "cannot read the rule"), ("auc < 0.7", "unknown metric 'auc'"),
     ("psi > 0.2", r"psi\(COLUMN\) names a column"), ("rows(x) < 3", "rows takes no column"),
     ("rows < 1 per 0h", "a window is"), ("roc_auc < ", "cannot read the rule"), ("x" * 600, "at most 500")],
)  # fmt: skip
def test_bad_rules_are_refused(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_rule(text)
    with pytest.raises(UsageError, match="a window is"):
        window_ms("soon")


def test_stored_profiles_round_trip_and_old_json_blobs_still_read() -> None:
    """Profiles are stored as JSON plus raw float64/int64 tails; what comes back is the JSON form,
    and batches stored as plain JSON before that still read."""
    import json

    from jupyter_mlm.stats.profiles import from_blob, merge, profile, to_blob

    rng = np.random.default_rng(11)
    frames = [
        {"a": rng.normal(0, 1, 800), "b": rng.exponential(2, 800), "c": rng.choice(["x", "y"], 800)},
        {"a": rng.normal(0, 1, 5000), "b": np.r_[rng.exponential(2, 4999), np.inf], "c": rng.choice(["x", "y"], 5000)},
    ]
    profiles = [profile(f, predictions=rng.integers(0, 2, len(f["a"]))) for f in frames]
    for prof in [*profiles, merge(profiles)]:
        assert prof is not None
        from jupyter_mlm.wire import dumps

        as_json = json.loads(dumps(prof))
        assert from_blob(to_blob(prof)) == as_json
        assert from_blob(dumps(prof).encode()) == as_json


def test_small_batches_profiled_at_once_equal_the_per_column_profile() -> None:
    from jupyter_mlm.stats import profiles as P
    from jupyter_mlm.stats import sketch as sk

    rng = np.random.default_rng(4)
    matrix = np.column_stack([rng.normal(0, 1, 700), rng.exponential(1, 700), np.zeros(700),
                              rng.integers(-5, 5, 700).astype(float), -rng.exponential(1, 700)])  # fmt: skip
    assert sk.sketches(matrix) == [sk.sketch(matrix[:, i]) for i in range(matrix.shape[1])]
    columns = {f"c{i}": matrix[:, i] for i in range(matrix.shape[1])}
    reference = {"c0": {"type": "numeric", "deciles": sorted(rng.normal(0, 1, 9).tolist())}}
    at_once = P.profile_columns(columns, reference)
    for name, values in columns.items():
        alone = P._numeric(values, reference.get(name, {}).get("deciles"), np.random.default_rng(0))
        for key, value in alone.items():
            if key in ("sum", "sumsq"):
                assert at_once[name][key] == pytest.approx(value, rel=1e-12, abs=1e-12)
            else:
                assert at_once[name][key] == value, (name, key)
