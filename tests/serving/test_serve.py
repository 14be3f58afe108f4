"""``jupyter mlm serve``: every request format, clear refusals, monitoring off the response path,
hot swap under load, shadow and A/B arms — over real HTTP against a real store."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from jupyter_mlm.monitoring.service import Monitor
from jupyter_mlm.registry import Governance
from jupyter_mlm.store import Store

from .conftest import Running, cancer_data


def rows(n: int, start: int = 0) -> tuple[list[str], list[list[float]]]:
    X, _ = cancer_data()
    return list(X.columns), X.iloc[start : start + n].to_numpy().tolist()


def split_body(n: int, start: int = 0) -> dict[str, Any]:
    columns, data = rows(n, start)
    return {"dataframe_split": {"columns": columns, "data": data}}


def test_every_format_gives_the_models_own_predictions(
    serve_in_process: Callable[..., Running], models: dict[str, Any]
) -> None:
    server = serve_in_process()
    X, _ = cancer_data()
    expected = models["champion"].predict(X.iloc[:4]).tolist()
    probabilities = models["champion"].predict_proba(X.iloc[:4]).tolist()
    columns, data = rows(4)
    records = [dict(zip(columns, row, strict=True)) for row in data]
    csv = ",".join(columns) + "\n" + "\n".join(",".join(repr(v) for v in row) for row in data)
    bodies = {
        "split": split_body(4), "records": {"dataframe_records": records}, "instances": {"instances": records},
        "inputs-columnar": {"inputs": {c: [r[i] for r in data] for i, c in enumerate(columns)}},
        "bare-list": records,
    }  # fmt: skip
    for name, body in bodies.items():
        status, headers, answer = server.post("/predict", body)
        assert status == 200, (name, answer)
        assert answer["predictions"] == expected and answer["version"] == 1, name
        assert answer["scores"] == probabilities  # the very numbers the model gives on its DataFrame
        assert headers["X-MLM-Model-Version"] == "1"
    status, _, answer = server.post("/predict", None, {"Content-Type": "text/csv"}, raw=csv.encode())
    assert status == 200 and answer["predictions"] == expected
    status, headers, answer = server.post("/invocations", split_body(4))
    assert status == 200 and answer == {"predictions": expected} and headers["X-MLM-Model-Version"] == "1"
    assert server.get("/schema")[1]["inputs"][0] == {"name": "mean_radius", "type": "float"}
    assert server.get("/ready")[0] == 200 and server.get("/health")[1]["status"] == "ok"


def test_bad_requests_get_one_line_naming_what_is_wrong(serve_in_process: Callable[..., Running]) -> None:
    server = serve_in_process()
    columns, data = rows(2)
    records = [dict(zip(columns, row, strict=True)) for row in data]
    missing = [{k: v for k, v in r.items() if k != "mean_texture"} for r in records]
    wrong = [{**records[0], "mean_area": "big"}]
    extra = [{**records[0], "postcode": 1}]
    cases = {
        "missing": ({"dataframe_records": missing}, 400, "'mean_texture' is missing"),
        "wrong-type": ({"dataframe_records": wrong}, 400, "column 'mean_area' must be float"),
        "unknown": ({"dataframe_records": extra}, 400, "'postcode' is not an input"),
        "no-rows": ({"dataframe_records": []}, 400, "no rows"),
        "no-format": ({"something": 1}, 400, "dataframe_split"),
        "ragged": ({"dataframe_split": {"columns": columns, "data": [data[0][:3]]}}, 400, "row 0 must be a list"),
    }
    for name, (body, status, text) in cases.items():
        got, _, answer = server.post("/predict", body)
        assert (got, text in answer["message"]) == (status, True), (name, answer)
    assert server.post("/predict", None, raw=b"{not json")[0] == 400
    got, _, answer = server.post("/predict", None, {"Content-Type": "application/xml"}, raw=b"<a/>")
    assert got == 415 and "application/json" in answer["message"]
    assert server.post("/predict", split_body(1), {"X-Request-Id": "bad id with spaces"})[0] == 400
    assert server.get("/ready")[0] == 200  # the server lives on


def test_requests_reach_monitoring_and_labels_join_by_request_id(
    serve_in_process: Callable[..., Running], served_store: Store
) -> None:
    server = serve_in_process()
    _, y = cancer_data()
    for i in range(0, 60, 3):
        assert server.post("/predict", split_body(3, i), {"X-Request-Id": f"req-{i}"})[0] == 200
    server.post("/predict", split_body(1, 100), {"X-Request-Id": "single"})
    server.service.sink.close()  # logs what is queued
    batches = served_store.batches("cancer")
    assert sum(b.rows for b in batches) == 61 and {b.source for b in batches} == {"serve"}
    monitor = Monitor(served_store, "labeller")
    ids = [f"req-{i}/{k}" for i in range(0, 60, 3) for k in range(3)] + ["single"]
    labels = [int(v) for v in y.iloc[:60]] + [int(y.iloc[100])]
    monitor.log_labels("cancer", ids, labels)
    report = monitor.report("cancer", window="all").to_dict()
    assert report["performance"]["rows"] == 61 and report["performance"]["metrics"]["accuracy"] > 0.9


def test_hot_swap_under_load_fails_no_request(serve_in_process: Callable[..., Running], served_store: Store) -> None:
    server = serve_in_process(poll_seconds=0.1)
    seen: collections.Counter[str] = collections.Counter()
    failures: list[Any] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            status, headers, answer = server.post("/predict", split_body(2))
            if status != 200:
                failures.append(answer)
            else:
                seen[headers["X-MLM-Model-Version"]] += 1

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    Governance(served_store, "tester").transition("cancer", 2, "production")
    deadline = time.monotonic() + 15
    while seen["2"] < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    Governance(served_store, "tester").rollback("cancer")
    deadline = time.monotonic() + 15
    before = seen["1"]
    while seen["1"] < before + 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join()
    assert failures == []
    assert seen["1"] > 20 and seen["2"] >= 20 and seen["1"] >= before + 20
    assert server.service.arms[0][2].swaps == 2


def test_shadow_predicts_on_a_copy_and_is_never_returned(
    serve_in_process: Callable[..., Running], served_store: Store, models: dict[str, Any]
) -> None:
    server = serve_in_process(shadow="@challenger")
    for i in range(10):
        status, headers, answer = server.post("/predict", split_body(5, i * 5))
        assert status == 200 and headers["X-MLM-Model-Version"] == "1" and answer["version"] == 1
    deadline = time.monotonic() + 20
    while server.service.shadow_rows < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.service.sink.close()
    by_source = collections.defaultdict(int)
    for batch in served_store.batches("cancer"):
        by_source[(batch.source, batch.version)] += batch.rows
    assert by_source == {("serve", 1): 50, ("shadow", 2): 50}


def test_split_is_sticky_per_caller_and_logged_per_arm(
    serve_in_process: Callable[..., Running], served_store: Store
) -> None:
    server = serve_in_process(split=[("champion", 70), ("challenger", 30)])
    arms = {}
    for caller in range(60):
        answers = {server.post("/predict", split_body(1), {"X-MLM-Caller": f"c{caller}"})[2]["arm"] for _ in range(3)}
        assert len(answers) == 1  # a caller keeps its arm
        arms[caller] = answers.pop()
    share = sum(arm == "champion" for arm in arms.values()) / len(arms)
    assert 0.5 < share < 0.9
    _, headers, answer = server.post("/predict", split_body(1), {"X-MLM-Caller": "c0"})
    assert headers["X-MLM-Arm"] == arms[0] and answer["version"] == (1 if arms[0] == "champion" else 2)
    server.service.sink.close()
    sources = {(b.source, b.version) for b in served_store.batches("cancer")}
    assert sources == {("serve:champion", 1), ("serve:challenger", 2)}
    arms_seen = {(a["arm"], a["version"]): a["rows"] for a in Monitor(served_store, "t").arms("cancer", "all")}
    assert arms_seen == {("challenger", 2): sum(arm == "challenger" for arm in arms.values()) * 3 + (arms[0] == "challenger"),
                         ("champion", 1): sum(arm == "champion" for arm in arms.values()) * 3 + (arms[0] == "champion")}  # fmt: skip
    status, answer = server.get("/health")
    assert status == 200


def test_a_failing_store_never_touches_serving(serve_in_process: Callable[..., Running]) -> None:
    server = serve_in_process(monitor_writer="thread")
    sink = server.service.sink

    def broken() -> Any:
        raise OSError("disk full")

    sink._factory = broken
    for _ in range(5):
        assert server.post("/predict", split_body(2))[0] == 200
    sink.close()
    assert sink.errors >= 1 and "disk full" in sink.last_error and sink.logged_rows == 0


def test_a_full_queue_drops_and_counts(serve_in_process: Callable[..., Running]) -> None:
    from jupyter_mlm.serving.inputs import Rows
    from jupyter_mlm.serving.sink import Entry, MonitorSink

    release = threading.Event()

    def slow() -> Any:
        release.wait(10)
        raise OSError("no store")

    sink = MonitorSink("cancer", slow, capacity=2)
    for _ in range(10):
        sink.put(Entry(1, "serve", Rows(["a"], np.ones((1, 1)), None), "x", np.zeros(1), None, 1.0, 0))
    release.set()
    sink.close()
    assert sink.dropped_rows >= 7


def test_token_is_required_when_set(serve_in_process: Callable[..., Running]) -> None:
    server = serve_in_process(token="s3cret")
    status, _, answer = server.post("/predict", split_body(1))
    assert status == 401 and "Bearer" in answer["message"]
    assert server.post("/predict", split_body(1), {"Authorization": "Bearer s3cret"})[0] == 200


def test_split_and_ref_arguments_are_checked() -> None:
    from jupyter_mlm.errors import UsageError
    from jupyter_mlm.serving import parse_split

    assert parse_split("champion=90, @challenger=10") == [("champion", 90), ("challenger", 10)]
    for bad in ("champion", "champion=0", "a=1,a=2", "=5"):
        with pytest.raises(UsageError):
            parse_split(bad)


def test_keep_rows_without_pyarrow_is_refused_at_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Not a writer error on the first batch once traffic flows (Binder's image had no pyarrow)."""
    import importlib.util

    from jupyter_mlm.errors import UsageError
    from jupyter_mlm.serving import Options, Service

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else find_spec(name, *a)
    )
    with pytest.raises(UsageError, match="--keep-rows stores request rows as Parquet: pip install pyarrow"):
        Service(Options(ref="cancer", store_uri=str(tmp_path / "store"), keep_rows=True))
