"""mlm.diff on real runs (SQLite and PostgreSQL): every section, rendering, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import jupyter_mlm as mlm
from jupyter_mlm.capture.executions import LOG
from jupyter_mlm.store import Store

JUPYTER = str(Path(sys.executable).with_name("jupyter"))


def run_cells(sources: list[str]) -> None:
    """What the kernel hooks record when cells run."""
    for source in sources:
        LOG.before(None, source)
        LOG.after(True)


@pytest.fixture
def two_runs(session: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[mlm.Run, mlm.Run]:
    notebook = tmp_path / "train.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    data_a, data_b, shared = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "shared.csv"
    shared.write_text("s\n1\n")
    nb = new_notebook(cells=[new_code_cell(f"step_{i}()") for i in range(30)])
    nbformat.write(nb, notebook)
    data_a.write_text("a\n1\n")
    with mlm.start_run("baseline", tags={"owner": "ana", "stage": "dev"}) as a:
        mlm.set_metric_direction("loss", "min")
        mlm.set_metric_direction("auc", "max")
        mlm.log_params({"lr": 0.01, "depth": 6, "dropout": 0.1})
        mlm.log_metrics({"loss": 0.40, "auc": 0.80, "f1": 0.5})
        mlm.log_data(data_a)
        mlm.log_data(shared)
        run_cells(["load()", "train()", "evaluate()"])
    nb.cells[4].source = "step_4(tuned=True)"  # the same notebook, edited: cell ids stay
    nb.cells.insert(10, new_code_cell("extra_feature()"))
    nbformat.write(nb, notebook)
    data_b.write_text("b\n2\n")
    shared.write_text("s\n2\n")
    with mlm.start_run("deeper", tags={"owner": "ana", "reviewed": "yes"}) as b:
        mlm.set_metric_direction("loss", "min")
        mlm.set_metric_direction("auc", "max")
        mlm.log_params({"lr": 0.01, "depth": 12, "layers": 3})
        mlm.log_metrics({"loss": 0.30, "auc": 0.78, "f1": 0.5})
        mlm.log_data(data_b)
        mlm.log_data(shared)
        run_cells(["load()", "evaluate()", "train()", "tune()"])
    return a, b


def test_every_section(two_runs: tuple[mlm.Run, mlm.Run]) -> None:
    a, b = two_runs
    diff = mlm.diff(a, b.name)
    assert diff.params == {"added": {"layers": "3"}, "removed": {"dropout": "0.1"}, "changed": {"depth": ["6", "12"]}}
    metrics = {m["key"]: m for m in diff.metrics}
    assert metrics["loss"]["verdict"] == "better" and metrics["loss"]["delta"] == pytest.approx(-0.1)
    assert metrics["loss"]["relative"] == pytest.approx(-0.25)
    assert metrics["auc"]["verdict"] == "worse"
    assert metrics["f1"]["delta"] == 0 and metrics["f1"]["verdict"] is None
    assert [m["key"] for m in diff.changed_metrics] == ["auc", "loss"]
    assert diff.tags["added"] == {"reviewed": "yes"} and diff.tags["removed"] == {"stage": "dev"}
    assert [Path(p).name for p in diff.data["added"]] == ["b.csv"]
    assert [Path(p).name for p in diff.data["removed"]] == ["a.csv"]
    assert [Path(d["path"]).name for d in diff.data["changed"]] == ["shared.csv"]
    assert diff.executions == {"only_a": [], "only_b": ["tune()"], "order_changed": True}
    assert diff.environment["python"] is None and diff.environment["packages"]["changed"] == {}
    notebook = diff.notebook
    assert notebook is not None
    assert notebook["summary"] == {"added": 1, "removed": 0, "changed": 1, "unchanged": 29}
    assert notebook["cells"] == ["~ cell 5 (source): step_4()", "+ cell 11: extra_feature()"]
    assert dict(diff.sections()) == {
        "params": True, "metrics": True, "tags": True, "environment": False,
        "data": True, "executions": True, "sources": False, "notebook": True,
    }  # fmt: skip


def test_timings_and_execution_counts_alone_are_no_change(
    session: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = tmp_path / "timed.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))

    def executed(count: int, stamp: str, lr: str) -> Any:
        cells = [new_code_cell("load()"), new_code_cell(f"lr = {lr}"), new_code_cell("report()")]
        for n, cell in enumerate(cells):
            cell.id = f"cell-{n}"
            cell.execution_count = count + n
            cell.metadata["execution"] = {"iopub.execute_input": stamp, "shell.execute_reply": stamp}
            cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "42"}, execution_count=count + n)]
        return new_notebook(cells=cells)

    runs = []
    for name, count, stamp, lr in (
        ("first", 1, "2026-11-23T08:00:00Z", "0.1"),
        ("second", 7, "2026-11-23T09:30:00Z", "0.2"),
    ):
        nbformat.write(executed(count, stamp, lr), notebook)
        with mlm.start_run(name) as run:
            pass
        runs.append(run)
    section = mlm.diff(*runs).notebook
    assert section is not None
    assert section["summary"] == {"added": 0, "removed": 0, "changed": 1, "unchanged": 2}
    assert section["cells"] == ["~ cell 2 (source): lr = 0.1"]


def test_only_what_the_user_would_call_a_change(
    session: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review's shallow→deeper pair: 13 cells "changed", all metadata. Now only the edited
    cell shows, with its source and its new output; ``strict`` still shows everything."""
    notebook = tmp_path / "demo.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))

    def executed(second: bool) -> Any:
        cells = [new_code_cell(f"step_{i}()") for i in range(12)] + [new_code_cell("train(depth=3)")]
        for n, cell in enumerate(cells):
            cell.id = f"cell-{n}"
            cell.execution_count = n + (40 if second else 1)
            cell.metadata["trusted"] = second
            cell.metadata["execution"] = {"iopub.execute_input": f"2026-11-2{int(second)}T08:00:00Z"}
            cell.metadata["ExecuteTime"] = {"start_time": f"2026-11-23T08:00:0{int(second)}"}
            cell.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": f"{n}"}, execution_count=n)]
        widget = {"model_id": f"w{int(second)}", "version_major": 2, "version_minor": 0}
        cells[5].outputs = [
            nbformat.v4.new_output("display_data", {"application/vnd.jupyter.widget-view+json": widget})
        ]
        if second:  # the one real change: the user edited the training cell; its output changed
            cells[12].source = "train(depth=9)"
            cells[12].outputs = [nbformat.v4.new_output("stream", name="stdout", text="auc 0.91\n")]
        else:
            cells[12].outputs = [nbformat.v4.new_output("stream", name="stdout", text="auc 0.84\n")]
        metadata = {
            "kernelspec": {"name": "python3", "display_name": "Python 3" if second else "Python 3 (ipykernel)",
                           "language": "python"},
            "language_info": {"name": "python", "version": "3.11.9" if second else "3.11.7"},
            "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {f"w{int(second)}": {}}}},
        }  # fmt: skip
        return new_notebook(cells=cells, metadata=metadata)

    runs = []
    for name, second in (("shallow", False), ("deeper", True)):
        nbformat.write(executed(second), notebook)
        with mlm.start_run(name) as run:
            pass
        runs.append(run)
    section = mlm.diff(*runs).notebook
    assert section is not None and section["header"] is False
    assert section["summary"] == {"added": 0, "removed": 0, "changed": 1, "unchanged": 12}
    assert section["cells"] == ["~ cell 13 (outputs, source): train(depth=3)"]
    strict = mlm.diff(*runs, strict=True).notebook
    assert strict is not None and strict["summary"]["changed"] == 13 and strict["header"] is True
    with pytest.raises(mlm.UsageError, match="strict must be"):
        mlm.diff(*runs, strict="yes")  # type: ignore[arg-type]


def test_json_and_html(two_runs: tuple[mlm.Run, mlm.Run]) -> None:
    a, b = two_runs
    diff = mlm.diff(a.id[:10], b.id)
    as_json = json.loads(json.dumps(diff.to_dict(), allow_nan=False))
    assert as_json["a"]["name"] == "baseline" and as_json["notebook"]["diff"][0]["key"] == "cells"
    page = diff._repr_html_()
    assert "<details open><summary><b>Params</b>" in page
    assert "<details><summary><b>Environment</b> <span" in page  # unchanged: collapsed
    assert "better" in page and "worse" in page
    plain = "\n".join(diff.lines())
    assert "~ depth: 6 → 12" in plain and "environment: no differences" in plain and "\x1b[" not in plain
    assert "\x1b[32m" in "\n".join(diff.lines(color=True))


def test_bad_references(session: Store) -> None:
    with mlm.start_run("only") as run:
        pass
    with pytest.raises(mlm.UsageError, match="same run"):
        mlm.diff(run, run.id)
    with pytest.raises(mlm.NotFound):
        mlm.diff(run, "missing-run")
    with pytest.raises(mlm.UsageError, match="'min' or 'max'"):
        mlm.set_metric_direction("loss", "down")


def test_cli_diff(two_runs: tuple[mlm.Run, mlm.Run], session: Store, tmp_path: Path) -> None:
    env = {**os.environ, "MLM_STORE_URI": session.location.db_url, "MLM_OBJECTS_URI": session.objects.uri}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([JUPYTER, "mlm", *args], capture_output=True, text=True, env=env, timeout=120)

    result = cli("diff", "baseline", "deeper")
    assert result.returncode == 0, result.stderr
    assert "loss: 0.4 → 0.3" in result.stdout and "better" in result.stdout and "\x1b[" not in result.stdout
    assert json.loads(cli("diff", "baseline", "deeper", "--json").stdout)["params"]["changed"] == {"depth": ["6", "12"]}
    assert cli("diff", "baseline").returncode == 2
    assert "no run" in cli("diff", "baseline", "nope").stderr
