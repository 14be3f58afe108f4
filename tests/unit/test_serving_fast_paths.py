"""Serving's fast paths give exactly what the slow ones give: scikit-learn's arithmetic without
its per-call checks (``serving.compiled``), orjson for request bodies, the outputs blob format,
and the monitoring sink's batching by request id."""

from __future__ import annotations

import io
import json
import time
import warnings
from typing import Any

import numpy as np
import pytest

from jupyter_mlm.monitoring.service import RequestIds, read_arrays, write_arrays
from jupyter_mlm.serving.compiled import compile_model
from jupyter_mlm.serving.inputs import BadInput, read_rows
from jupyter_mlm.serving.sink import Entry, _expand, _unique_id_runs


def _datasets() -> dict[str, tuple[Any, Any]]:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

    return {
        "binary": load_breast_cancer(return_X_y=True, as_frame=True),
        "multiclass": load_iris(return_X_y=True, as_frame=True),
        "regression": load_diabetes(return_X_y=True, as_frame=True),
    }


def _candidates(kind: str) -> list[Any]:
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if kind == "regression":
        return [make_pipeline(StandardScaler(), Ridge()), LinearRegression(), Lasso(alpha=0.1),
                DecisionTreeRegressor(random_state=0), RandomForestRegressor(12, random_state=0)]  # fmt: skip
    return [
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)),
        make_pipeline(MinMaxScaler(clip=True), LogisticRegression(max_iter=3000)),
        make_pipeline(RobustScaler(), MaxAbsScaler(), DecisionTreeClassifier(random_state=0)),
        RandomForestClassifier(15, random_state=0),
        ExtraTreesClassifier(10, random_state=0),
    ]


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_compiled_models_equal_scikit_learn_bit_for_bit_on_real_rows(kind: str) -> None:
    X, y = _datasets()[kind]
    held_out = np.ascontiguousarray(X.to_numpy(dtype=float))
    for model in _candidates(kind):
        model.fit(X, y)
        has_proba = hasattr(model, "predict_proba")
        compiled = compile_model(model, has_proba, X.shape[1])
        assert compiled is not None, type(model).__name__
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for rows in (held_out, held_out[:1], held_out[7:8], held_out[:37]):
                predictions, scores = compiled(rows)
                assert np.array_equal(predictions, model.predict(rows)), compiled.names
                if has_proba:
                    assert scores is not None and np.array_equal(scores, model.predict_proba(rows)), compiled.names
                else:
                    assert scores is None


def test_what_cannot_be_mirrored_stays_with_scikit_learn() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    X, y = _datasets()["binary"]

    class Tilted(LogisticRegression):  # a subclass may predict differently: never assumed equal
        def predict(self, X: Any) -> Any:
            return 1 - super().predict(X)

    for model in (KNeighborsClassifier(), make_pipeline(PolynomialFeatures(), StandardScaler(), LogisticRegression()),
                  Tilted(max_iter=3000)):  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        assert compile_model(model, True, X.shape[1]) is None, model
    scaled = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).set_output(transform="pandas")
    assert compile_model(scaled.fit(X, y), True, X.shape[1]) is None  # set_output changes what steps pass on


def test_served_versions_say_which_engine_and_non_finite_rows_keep_scikit_learns_answer(tmp_path: Any) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from jupyter_mlm.registry import register
    from jupyter_mlm.serving.model import load_served
    from jupyter_mlm.store import open_store

    X, y = _datasets()["binary"]
    store = open_store(str(tmp_path / "store"), str(tmp_path / "objects"))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).fit(X, y)
    record = register(store, model, "cancer", run_id=None, actor="tester", reference_data=X)
    ref = f"cancer/{record.version}"
    fast = load_served(store, ref, "tester", tmp_path / "cache", True, [])
    exact = load_served(store, ref, "tester", tmp_path / "cache", True, [], compile_sklearn=False)
    assert fast.engine == "compiled: StandardScaler → LogisticRegression" and exact.engine == "model"
    body = json.dumps({"dataframe_split": {"columns": list(X.columns), "data": X.iloc[:5].to_numpy().tolist()}})
    rows = read_rows(body.encode(), "application/json", fast.signature, ref)
    for a, b in zip(fast.predict(rows), exact.predict(rows), strict=True):
        assert np.array_equal(a, b)
    rows.matrix[0, 3] = np.nan  # type: ignore[index]
    with pytest.raises(ValueError, match="NaN"):  # scikit-learn's own refusal, as without the fast path
        fast.predict(rows)
    store.close()


def test_orjson_bodies_read_as_pythons_json_reads_them() -> None:
    signature = [("a", "float"), ("b", "float")]
    same = [
        b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2.5], [3e-310, -0.0]]}}',
        b'{"instances": [[0.1, 0.2], [1e308, 2]]}',
        b'{"dataframe_split": {"columns": ["a", "b"], "data": [[NaN, 1]]}}',  # orjson refuses; json reads it
        b'{"dataframe_split": {"columns": ["a", "b"], "data": [[18446744073709551617, 1]]}}',  # past 64 bits
        '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}'.encode("utf-16"),
    ]
    for body in same:
        rows = read_rows(body, "application/json", signature, "m")
        payload = json.loads(body)
        data = payload["dataframe_split"]["data"] if "dataframe_split" in payload else payload["instances"]
        expected = np.asarray(data, dtype=float)
        assert rows.matrix is not None and np.array_equal(rows.matrix, expected, equal_nan=True), body
    with pytest.raises(BadInput, match="nests too deeply"):
        read_rows(b"[" * 30_000 + b"]" * 30_000, "application/json", signature, "m")
    with pytest.raises(BadInput, match="not JSON"):
        read_rows(b'{"instances": [[1, 2]', "application/json", signature, "m")


def test_outputs_blobs_round_trip_old_and_new_forms() -> None:
    ids = np.asarray(["r-1/0", "zoé/1", "文件", "\u202e", "x" * 300])
    new = read_arrays(write_arrays({"ids": _encoded(ids), "scores": np.arange(5.0)}))
    assert new["ids"].tolist() == ids.tolist() and new["scores"].tolist() == [0, 1, 2, 3, 4]
    buffer = io.BytesIO()
    np.savez_compressed(buffer, ids=ids, labels=np.asarray([1, 0, 1, 1, 0]))  # what earlier versions stored
    old = read_arrays(buffer.getvalue())
    assert old["ids"].tolist() == ids.tolist() and old["labels"].tolist() == [1, 0, 1, 1, 0]


def _encoded(texts: np.ndarray) -> np.ndarray:
    from jupyter_mlm.monitoring.service import _utf8

    encoded = _utf8(texts)
    assert encoded.dtype.kind == "S"
    return encoded


def _entry(request_id: str, count: int) -> Entry:
    from jupyter_mlm.serving.inputs import Rows

    return Entry(1, "serve", Rows(["a"], np.ones((count, 1)), None), request_id, np.zeros(count), None, 1.0, 0)


def test_batches_split_wherever_row_ids_could_repeat() -> None:
    assert RequestIds(["q", "r"], [1, 3]).expand() == ["q", "r/0", "r/1", "r/2"]

    def sizes(*entries: Entry) -> list[int]:
        return [len(run) for run in _unique_id_runs(list(entries))]

    assert sizes(_entry("a", 1), _entry("b", 2), _entry("c", 1)) == [3]
    assert sizes(_entry("a", 1), _entry("a", 1)) == [1, 1]  # a caller reusing a request id
    assert sizes(_entry("p", 3), _entry("p/1", 1)) == [1, 1]  # p's second row is also called p/1
    assert sizes(_entry("p/1", 1), _entry("p", 3)) == [1, 1]
    for run in _unique_id_runs([_entry("p", 3), _entry("p/1", 1), _entry("x", 2), _entry("p/1", 1)]):
        request_ids = RequestIds([e.request_id for e in run], [e.count for e in run])
        ids = request_ids.expand()
        assert len(ids) == len(set(ids)) and not request_ids.repeat()


def test_a_gathered_job_expands_to_what_monitor_log_takes() -> None:
    matrix = np.arange(12.0).reshape(4, 3)
    job = {"matrix": matrix, "names": ["a", "b", "c"], "id_parts": [("r", 1), ("s", 3)], "latency_ms": [2.0, 5.0],
           "predictions": np.zeros(4)}  # fmt: skip
    logged = _expand(job)
    assert logged["ids"].expand() == ["r", "s/0", "s/1", "s/2"] and logged["latency_ms"].tolist() == [2, 5, 5, 5]
    assert {k: v.tolist() for k, v in logged["data"].items()} == {"a": [0, 3, 6, 9], "b": [1, 4, 7, 10],
                                                                   "c": [2, 5, 8, 11]}  # fmt: skip
    assert all(column.flags.c_contiguous for column in logged["data"].values())


def test_request_ids_repeat_exactly_when_their_expanded_rows_would() -> None:
    cases = [
        (["a", "b"], [1, 3]),
        (["a", "a"], [1, 1]),
        (["p", "p/2"], [3, 1]),  # p's third row
        (["p", "p/3"], [3, 1]),  # past p's rows: no clash
        (["p", "p/02"], [3, 1]),  # not how a row index is written
        (["p/1", "p"], [1, 2]),
        (["p/0", "p"], [2, 2]),  # many-row ids never clash with each other
    ]
    for requests, counts in cases:
        ids = RequestIds(requests, counts)
        expanded = ids.expand()
        assert ids.repeat() == (len(set(expanded)) != len(expanded)), (requests, counts)
        assert len(ids) == len(expanded)
    with pytest.raises(Exception, match="count of at least 1"):
        RequestIds(["a"], [0])


def test_served_rows_stored_as_request_ids_join_late_labels(tmp_path: Any) -> None:
    from jupyter_mlm.monitoring.service import Monitor
    from jupyter_mlm.registry import register
    from jupyter_mlm.store import open_store

    X, y = _datasets()["binary"]
    store = open_store(str(tmp_path / "store"), str(tmp_path / "objects"))
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=3000).fit(X, y)
    record = register(store, model, "cancer", run_id=None, actor="tester", reference_data=X)
    monitor = Monitor(store, "tester")
    rows = X.iloc[:7]
    ids = RequestIds(["solo", "many"], [1, 6])
    batch = monitor.log("cancer", rows.to_numpy(), predictions=model.predict(rows), ids=ids, version=record.version,
                        keep_rows=True)  # fmt: skip
    outputs = read_arrays(store.objects.get(store.batches("cancer", 0, 2**62, None)[0].outputs_digest))
    assert outputs["ids"].tolist() == ids.expand() and batch.rows == 7
    monitor.log_labels("cancer", ["solo", "many/5"], [int(y.iloc[0]), int(y.iloc[6])])
    labeled = monitor.labeled_rows("cancer", "all", version=record.version)
    assert sorted(labeled["id"].tolist()) == ["many/5", "solo"]
    with pytest.raises(Exception, match="unique within a batch"):
        monitor.log("cancer", rows.to_numpy()[:3], ids=RequestIds(["p", "p/1"], [2, 1]), version=record.version)
    with pytest.raises(Exception, match="one value per row"):
        monitor.log("cancer", rows.to_numpy()[:2], ids=RequestIds(["p"], [3]), version=record.version)
    store.close()


def _writer_sink(tmp_path: Any) -> tuple[Any, int, list[str], np.ndarray, Any]:
    """A store with the cancer model registered, its rows, and a sink with a writer process."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlm.registry import register
    from jupyter_mlm.serving.sink import MonitorSink
    from jupyter_mlm.store import open_store

    X, y = _datasets()["binary"]
    store_uri, objects_uri = str(tmp_path / "store"), str(tmp_path / "objects")
    store = open_store(store_uri, objects_uri)
    model = LogisticRegression(max_iter=3000).fit(X, y)
    record = register(store, model, "cancer", run_id=None, actor="tester", reference_data=X)
    sink = MonitorSink("cancer", lambda: None, writer=(store_uri, objects_uri, "tester"))
    return store, record.version, list(X.columns), np.ascontiguousarray(X.to_numpy(dtype=np.float64)), sink


def test_the_writer_process_reads_gathered_rows_from_shared_blocks_and_hands_them_back(tmp_path: Any) -> None:
    from jupyter_mlm.serving import blocks as shared
    from jupyter_mlm.serving.inputs import Rows
    from jupyter_mlm.stats.profiles import from_blob

    if not shared.supported():
        pytest.skip("memory files are Linux's")
    store, version, names, matrix, sink = _writer_sink(tmp_path)
    assert sink._blocks is not None
    requests = 40  # more batches than blocks: each block comes back and is filled again
    predicted, scored = [], []
    for i in range(requests):
        part = matrix[(i * 100) % 400 : (i * 100) % 400 + 100]
        # Predictions and scores travel in the block beside the rows.
        predictions = (part[:, 0] > np.median(matrix[:, 0])).astype(np.int64)
        scores = np.stack([1 - part[:, 1] / 100, part[:, 1] / 100], axis=1)
        predicted.append(predictions)
        scored.append(scores)
        sink.put(Entry(version, "serve", Rows(names, part, None), f"r{i}", predictions, scores, 1.0, i))
        if i % 4 == 3:
            time.sleep(1.1)  # one gathered batch per second: ten batches
    sink.close()
    assert sink.logged_rows == 100 * requests and sink.dropped_rows == 0 and sink.errors == 0
    batches = sorted(store.batches("cancer", 0, 2**62, None), key=lambda b: b.ts_ms)
    assert len(batches) >= 8 and sink.stats()["shared_batches"] == len(batches)  # 6 blocks, each reused
    profiled = [from_blob(store.objects.get(b.profile_digest)) for b in batches]
    expected = sum(matrix[(i * 100) % 400 : (i * 100) % 400 + 100, 0].sum() for i in range(requests))
    assert sum(p["columns"][names[0]]["sum"] for p in profiled) == pytest.approx(expected, rel=1e-12)
    assert sum(p["rows"] for p in profiled) == 100 * requests
    outputs = [read_arrays(store.objects.get(b.outputs_digest)) for b in batches if b.outputs_digest]
    stored_predictions = np.concatenate([o["predictions"] for o in outputs])
    assert stored_predictions.dtype == np.int64 and np.array_equal(stored_predictions, np.concatenate(predicted))
    # Monitoring keeps the positive class of two-column scores.
    assert np.array_equal(np.concatenate([o["scores"] for o in outputs]), np.concatenate(scored)[:, -1])
    store.close()


def test_batches_whose_predictions_cannot_be_shared_still_log_them(tmp_path: Any) -> None:
    """Labels as strings (or mixed dtypes, or no scores for some requests) keep the pickled path
    for predictions and scores, beside the rows in the block."""
    from jupyter_mlm.serving.inputs import Rows
    from jupyter_mlm.serving.sink import _shareable

    assert not _shareable([np.array(["a", "b"])], None)
    assert not _shareable([np.zeros(2), np.zeros(2, dtype=np.int64)], None)
    assert not _shareable([np.zeros(2)], [np.zeros((2, 2)), np.zeros((2, 3))])
    assert _shareable([np.zeros(2, dtype=bool)], [np.zeros((2, 2))])
    store, version, names, matrix, sink = _writer_sink(tmp_path)
    labels = np.where(matrix[:100, 0] > matrix[:100, 0].mean(), "yes", "no")
    sink.put(Entry(version, "serve", Rows(names, matrix[:100], None), "r0", labels, None, 1.0, 1))
    sink.close()
    assert sink.logged_rows == 100 and sink.errors == 0
    (batch,) = store.batches("cancer", 0, 2**62, None)
    stored = read_arrays(store.objects.get(batch.outputs_digest))
    assert stored["predictions"].tolist() == labels.tolist()
    store.close()


def test_shared_block_rows_come_back_column_major_and_exact() -> None:
    """The writer's slab-wise transpose gives the rows exactly, as contiguous columns, for any
    row count (one slab, several, a partial last one)."""
    import multiprocessing

    import numpy as np

    from jupyter_mlm.serving import blocks as shared

    if not shared.supported():
        pytest.skip("no memfd_create here")
    context = multiprocessing.get_context("spawn")
    served = shared.Blocks(1, context, size=shared.Layout.bytes_for(5000, 7, 8, 3))
    reader = shared.Reader(served.handles(), served.returned)
    rng = np.random.default_rng(2)
    for rows in (1, 2047, 2048, 2049, 5000):
        sizes = (rows // 2, rows - rows // 2)
        parts = [rng.normal(size=(n, 7)) for n in sizes]
        for predictions, scores in (
            ([rng.integers(0, 3, size=n, dtype=np.int64) for n in sizes], [rng.random((n, 3)) for n in sizes]),
            ([rng.normal(size=n) for n in sizes], None),
            ([rng.random(n) > 0.5 for n in sizes], [rng.random((n, 1)) for n in sizes]),
        ):
            number = served.take(timeout=5)
            assert number is not None
            columns, predicted, scored = reader.read(served.fill(number, parts, predictions, scores))
            assert columns.flags.f_contiguous and np.array_equal(columns, np.concatenate(parts))
            assert predicted.dtype == predictions[0].dtype and np.array_equal(predicted, np.concatenate(predictions))
            assert (scored is None) == (scores is None)
            assert scores is None or np.array_equal(scored, np.concatenate(scores))
    served.close()


def test_answered_requests_are_copied_into_blocks_and_let_go_at_once(tmp_path: Any) -> None:
    """The serving side copies each request into the block being filled for its version and
    source and keeps no reference to its arrays; a request that does not fit, or repeats a row
    id, starts a new block; one that cannot travel in a block is gathered as before. Every row
    reaches the store once, with its id and prediction, under its source."""
    import sys

    from jupyter_mlm.serving import blocks as shared
    from jupyter_mlm.serving.inputs import Rows
    from jupyter_mlm.serving.sink import BATCH_ROWS
    from jupyter_mlm.stats.profiles import from_blob

    if not shared.supported():
        pytest.skip("memory files are Linux's")
    store, version, names, matrix, sink = _writer_sink(tmp_path)
    rng = np.random.default_rng(7)
    expected: dict[str, list[tuple[str, Any]]] = {"serve": [], "shadow": []}
    first_column_sum = 0.0

    def put(source: str, request_id: str, rows: np.ndarray, labels: Any = None) -> None:
        nonlocal first_column_sum
        predictions = (rows[:, 0] > 14).astype(np.int64) if labels is None else labels
        scores = np.stack([1 - rows[:, 1] / 100, rows[:, 1] / 100], axis=1) if labels is None else None
        before = sys.getrefcount(rows)
        sink.put(Entry(version, source, Rows(names, rows, None), request_id, predictions, scores, 1.0, 5))
        if labels is None:
            assert sys.getrefcount(rows) == before  # copied, not kept
        ids = [request_id] if len(rows) == 1 else [f"{request_id}/{i}" for i in range(len(rows))]
        expected[source] += list(zip(ids, predictions.tolist(), strict=True))
        first_column_sum += float(rows[:, 0].sum())

    # More rows than one block takes (BATCH_ROWS), in 500-row requests, both sources interleaved.
    for i in range(BATCH_ROWS // 500 + 20):
        start = int(rng.integers(0, len(matrix) - 500))
        put("serve", f"r{i}", matrix[start : start + 500])
        if i % 10 == 0:
            put("shadow", f"r{i}", matrix[start : start + 500])
    assert sink.stats()["queued"] > 0  # filled, not yet sent
    put("serve", "again", matrix[:1])
    put("serve", "again", matrix[1:2])  # a repeated request id: a new block
    put("serve", "words", matrix[:3], labels=np.array(["a", "b", "c"]))  # gathered and pickled
    sink.close()
    assert sink.errors == 0 and sink.dropped_rows == 0 and sink.stats()["queued"] == 0
    assert sink.logged_rows == sum(len(rows) for rows in expected.values())
    assert sink.stats()["shared_batches"] >= 4  # serve: a block by size, one by id; shadow
    stored: dict[str, list[tuple[str, Any]]] = {"serve": [], "shadow": []}
    profiled = 0.0
    for batch in store.batches("cancer", 0, 2**62, None):
        outputs = read_arrays(store.objects.get(batch.outputs_digest))
        ids = outputs["ids"].tolist()
        assert len(set(ids)) == batch.rows  # row ids unique within each batch
        stored[batch.source] += list(zip(ids, outputs["predictions"].tolist(), strict=True))
        profiled += from_blob(store.objects.get(batch.profile_digest))["columns"][names[0]]["sum"]
    assert {source: sorted(rows) for source, rows in stored.items()} == {
        source: sorted(rows) for source, rows in expected.items()}  # fmt: skip
    assert profiled == pytest.approx(first_column_sum, rel=1e-12)
    store.close()
