"""The Python tracking API against real stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

import jupyter_mlm as mlm
from jupyter_mlm.errors import Conflict, NotFound, UsageError
from jupyter_mlm.store import Store
from jupyter_mlm.tracking import SESSION


def test_run_lifecycle_and_attributes(session: Store) -> None:
    run = mlm.start_run("baseline", experiment="churn", tags={"owner": "ana"})
    assert mlm.active_run() is not None and mlm.active_run().id == run.id  # type: ignore[union-attr]
    mlm.log_param("lr", 0.01)
    mlm.log_params({"depth": 6, "model": "xgb"})
    mlm.log_metric("auc", 0.81)
    mlm.log_metrics({"auc": 0.84, "loss": 0.3}, step=5)
    mlm.set_tag("stage", "exploration")
    assert run.status == "running" and run.end is None
    ended = mlm.end_run()
    assert ended is not None and ended.status == "finished"
    assert mlm.active_run() is None
    assert run.name == "baseline" and run.experiment == "churn"
    assert run.params == {"depth": "6", "lr": "0.01", "model": "xgb"}
    assert run.metrics == {"auc": 0.84, "loss": 0.3}
    assert run.tags == {"owner": "ana", "stage": "exploration"}
    assert run.end is not None and run.end >= run.start
    assert "baseline" in run._repr_html_() and "finished" in run._repr_html_()


def test_context_manager_ends_failed_on_exception(session: Store) -> None:
    with pytest.raises(ZeroDivisionError), mlm.start_run("boom") as run:
        mlm.log_metric("x", 1.0)
        1 / 0  # noqa: B018
    assert run.status == "failed"
    assert run.metrics == {"x": 1.0}
    with mlm.start_run("fine") as ok:
        pass
    assert ok.status == "finished"


def test_logging_without_a_run_starts_one_named_after_the_notebook(
    session: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/ana/work/churn model.ipynb")
    mlm.log_metric("loss", 0.5)
    run = mlm.active_run()
    assert run is not None and run.name == "churn model"
    assert run.info.notebook_path == "/home/ana/work/churn model.ipynb"
    # An implicit run gives way to an explicit one instead of blocking it.
    explicit = mlm.start_run("explicit")
    assert mlm.get_run(run.id).status == "finished"
    with pytest.raises(UsageError, match="still active"):
        mlm.start_run("second")
    mlm.end_run()
    assert explicit.status == "finished"


def test_params_are_immutable_and_a_conflict_writes_nothing(session: Store) -> None:
    mlm.start_run("p")
    mlm.log_params({"lr": 0.01})
    mlm.log_param("lr", 0.01)  # same value again is fine
    with pytest.raises(Conflict, match=r"param 'lr' is already '0\.01'"):
        mlm.log_params({"new": 1, "lr": 0.02})
    assert mlm.active_run().params == {"lr": "0.01"}  # type: ignore[union-attr]
    mlm.end_run()


@pytest.mark.parametrize("key", ["", "x" * 251, "a$b", "tab\there", " lead", "trail ", "é"])
def test_invalid_keys_are_refused(session: Store, key: str) -> None:
    run = mlm.start_run("k")
    for call in (lambda: mlm.log_param(key, 1), lambda: mlm.log_metric(key, 1.0), lambda: mlm.set_tag(key, "v")):
        with pytest.raises(UsageError, match="invalid"):
            call()
    mlm.end_run()
    assert run.params == {} and run.metrics == {} and run.tags == {}


def test_valid_unusual_keys(session: Store) -> None:
    with mlm.start_run("k"):
        mlm.log_metric("val/loss-2.x y_z", 1.0)
        mlm.log_param("x" * 250, 1)


@pytest.mark.parametrize("value", [True, "1.0", None, [1.0], {"a": 1}])
def test_non_numeric_metric_values_are_refused(session: Store, value: object) -> None:
    with mlm.start_run("m") as run, pytest.raises(UsageError, match="must be a number"):
        mlm.log_metric("m", value)  # type: ignore[arg-type]
    assert run.metrics == {}


def test_special_float_and_numpy_values(session: Store) -> None:
    np = pytest.importorskip("numpy")
    with mlm.start_run("f") as run:
        mlm.log_metric("nan", float("nan"))
        mlm.log_metric("inf", float("inf"))
        mlm.log_metric("ninf", -math.inf)
        mlm.log_metric("np", np.float32(0.5))
        mlm.log_metric("int", np.int64(3))
        with pytest.raises(UsageError, match="boolean"):
            mlm.log_metric("npbool", np.bool_(True))
    metrics = run.metrics
    assert math.isnan(metrics["nan"]) and metrics["inf"] == math.inf and metrics["ninf"] == -math.inf
    assert metrics["np"] == 0.5 and metrics["int"] == 3.0


def test_logging_to_an_ended_run_is_refused(session: Store) -> None:
    run = mlm.start_run("ended")
    mlm.end_run()
    with pytest.raises(Conflict, match="has ended"):
        run.log_metric("x", 1.0)
    with pytest.raises(Conflict, match="has ended"):
        run.log_param("x", 1)
    with pytest.raises(Conflict, match="already ended"):
        session.end_run(run.id)
    assert run.metrics == {} and run.params == {}


def test_get_run_by_id_prefix_and_name(session: Store) -> None:
    first = mlm.start_run("same-name")
    mlm.end_run()
    second = mlm.start_run("same-name")
    mlm.end_run()
    assert mlm.get_run(first.id).id == first.id
    assert mlm.get_run(first.id[:10]).id == first.id
    assert mlm.get_run("same-name").id == second.id  # the newest of that name
    with pytest.raises(NotFound, match="no run with id"):
        mlm.get_run("nope")
    with pytest.raises(UsageError):
        mlm.get_run("")


def test_metric_history_with_automatic_and_explicit_steps(session: Store) -> None:
    with mlm.start_run("h") as run:
        for value in (3.0, 2.0, 1.0):
            mlm.log_metric("loss", value)
        mlm.log_metric("loss", 0.5, step=10, timestamp=1234)
        mlm.log_metric("loss", 0.9, step=4)  # a late point with a lower step does not become "last"
    history = mlm.get_metric_history(run, "loss")
    assert [(p.step, p.value) for p in history] == [(0, 3.0), (1, 2.0), (2, 1.0), (10, 0.5), (4, 0.9)]
    assert history[3].timestamp_ms == 1234
    assert run.metrics == {"loss": 0.5}
    assert mlm.get_metric_history(run.id, "absent") == []


def test_search_runs_filter_order_limit(session: Store) -> None:
    for name, lr, auc, model in [("a", 0.1, 0.7, "xgb"), ("b", 0.01, 0.9, "xgb"), ("c", 0.05, 0.8, "rf")]:
        with mlm.start_run(name, experiment="churn", tags={"model": model}):
            mlm.log_params({"lr": lr, "model": model})
            mlm.log_metric("auc", auc)
    with mlm.start_run("other", experiment="elsewhere"):
        mlm.log_metric("auc", 0.99)
    frame = mlm.search_runs(experiment="churn", order_by="metrics.auc DESC")
    assert list(frame["name"]) == ["b", "c", "a"]
    assert {"run_id", "status", "params.lr", "metrics.auc", "tags.model"} <= set(frame.columns)
    frame = mlm.search_runs(filter="metrics.auc > 0.75 and params.model = 'xgb'")
    assert list(frame["name"]) == ["b"]
    assert list(mlm.search_runs(filter="params.lr < 0.06", order_by="params.lr")["name"]) == ["b", "c"]
    assert list(mlm.search_runs(filter="tags.model != 'xgb'")["name"]) == ["c"]
    assert list(mlm.search_runs(filter="name = 'a' and status = 'finished'")["name"]) == ["a"]
    assert len(mlm.search_runs(limit=2)) == 2
    assert list(mlm.search_runs(order_by=["experiment DESC", "name"])["name"]) == ["other", "a", "b", "c"]
    assert len(mlm.search_runs(filter="metrics.missing > 0")) == 0


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("metrics.auc >", "incomplete filter"),
        ("metrics.auc ~ 3", "cannot read filter"),
        ("metrics.auc > 0.1 xor params.x = 1", "expected 'and', 'or' or the end"),
        ("(metrics.auc > 0.1 or params.x = 1", "is not closed"),
        ("params.x in 1, 2", "in takes a list in parentheses"),
        ("params.x in (1, 'a')", "all numbers or all quoted texts"),
        ("metrics.auc like 'a%'", "compares with a number"),
        ("tags.x is 3", "expected 'null'"),
        ("params.x not = 1", "expected 'in' or 'like'"),
        ("status < 'a' or name = 'b'", "status takes = or !="),
        ("not " * 30 + "status = 'x'", "nests at most"),
        ("bogus = 1", "unknown field"),
        ("metrics.auc > 'high'", "compares with a number"),
        ("status > 'x'", "status takes = or !="),
        ("__import__('os').system('true') = 1", "cannot read filter|unknown field|expected"),
    ],
)
def test_bad_filters_give_clear_errors(session: Store, expression: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        mlm.search_runs(filter=expression)


def test_bad_order_and_limit(session: Store) -> None:
    with pytest.raises(UsageError, match="cannot order by"):
        mlm.search_runs(order_by="bogus")
    with pytest.raises(UsageError, match="limit"):
        mlm.search_runs(limit=0)


def test_artifacts_file_folder_text_dict_figure(session: Store, tmp_path: Path) -> None:
    (tmp_path / "model.txt").write_text("weights")
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("a,b\n1,2\n")
    (folder / "sub" / "b.txt").write_text("b")
    with mlm.start_run("art") as run:
        assert mlm.log_artifact(tmp_path / "model.txt") == ["model.txt"]
        assert mlm.log_artifact(folder, name="figs") == ["figs/a.csv", "figs/sub/b.txt"]
        mlm.log_text("hello", "notes/readme.md")
        mlm.log_dict({"b": 1, "a": [1, 2]}, "config.json")
        matplotlib = pytest.importorskip("matplotlib")
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        assert mlm.log_figure(fig, "curve") == "curve.png"
        with pytest.raises(NotFound):
            mlm.log_artifact(tmp_path / "missing.bin")
        with pytest.raises(UsageError, match="invalid artifact path"):
            mlm.log_text("x", "../escape.txt")
    assert run.artifacts == ["config.json", "curve.png", "figs/a.csv", "figs/sub/b.txt", "model.txt", "notes/readme.md"]
    artifact = session.get_artifact(run.id, "config.json")
    assert session.objects.get(artifact.digest) == b'{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}'
    png = session.objects.get(session.get_artifact(run.id, "curve.png").digest)
    assert png.startswith(b"\x89PNG")


def test_nested_runs(session: Store) -> None:
    parent = mlm.start_run("sweep")
    child = mlm.start_run("trial-1", parent=parent)
    assert child.info.parent_id == parent.id
    mlm.end_run()
    assert mlm.active_run().id == parent.id  # type: ignore[union-attr]
    mlm.end_run()


def test_buffer_flushes_by_size_and_keeps_points_when_a_write_fails(session: Store) -> None:
    buffer = SESSION.buffer
    old_max = buffer.max_points
    buffer.max_points = 100
    try:
        with mlm.start_run("buffered") as run:
            for i in range(250):
                mlm.log_metric("x", float(i))
            assert buffer.pending == 50  # two full batches written as they filled
            run_id = run.id
        assert len(mlm.get_metric_history(run_id, "x")) == 250
    finally:
        buffer.max_points = old_max
    with mlm.start_run("retry") as run:
        mlm.log_metric("y", 1.0)
        real_write = buffer._write
        calls = []

        def failing(run_id: str, batch: dict) -> None:  # type: ignore[type-arg]
            calls.append(run_id)
            raise OSError("disk full")

        buffer._write = failing
        with pytest.raises(OSError, match="disk full"):
            mlm.flush()
        assert buffer.pending == 1
        buffer._write = real_write
        mlm.log_metric("y", 2.0)
    assert [p.value for p in mlm.get_metric_history(run, "y")] == [1.0, 2.0]


def test_symlink_out_of_a_logged_folder_is_refused(session: Store, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("top secret")
    folder = tmp_path / "outputs"
    folder.mkdir()
    (folder / "ok.txt").write_text("fine")
    (folder / "leak.txt").symlink_to(tmp_path / "secret.txt")
    with mlm.start_run("links") as run, pytest.raises(UsageError, match="links outside"):
        mlm.log_artifact(folder)
    assert run.artifacts == []


def test_inputs_that_broke_inside_the_package_get_one_line(session: Store, tmp_path: Path) -> None:
    """A filter of 1,000 conditions (SQLite's expression-depth limit), a metric of 400 digits
    (float overflow), a device or a pipe logged as data: each a UsageError, nothing half-written."""
    import jupyter_mlm as mlm

    with mlm.start_run(name="bad-inputs"):
        mlm.log_metric("auc", 0.9)
        with pytest.raises(mlm.UsageError, match="too large for a float64"):
            mlm.log_metric("huge", int("9" * 400))
        with pytest.raises(mlm.UsageError, match="not a regular file"):
            mlm.log_data("/dev/null")
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        with pytest.raises(mlm.UsageError, match="not a regular file"):
            mlm.log_data(fifo)
    too_many = " and ".join(f"metrics.auc > {i / 1000}" for i in range(1000))
    with pytest.raises(mlm.UsageError, match="at most 100 conditions"):
        mlm.search_runs(filter=too_many)
    assert len(mlm.search_runs(filter=" and ".join(["metrics.auc > 0.5"] * 100))) == 1
    assert "huge" not in mlm.get_run("bad-inputs").metrics
