"""The magics in a real kernel (nbclient), including every error path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlm.store import Store, open_store


def execute(cells: list[str], store_dir: Path, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Run the cells in a fresh kernel writing to ``store_dir``; returns the executed cells."""
    monkeypatch.setenv("MLM_STORE_URI", str(store_dir))
    monkeypatch.setenv("JPY_SESSION_NAME", str(cwd / "Churn Model.ipynb"))
    nb = new_notebook(cells=[new_code_cell(source) for source in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(
        nb, timeout=120, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return list(nb.cells)


def errors(cell: Any) -> list[str]:
    """Errors a cell showed: exceptions, and the one-line UsageErrors IPython prints to stderr."""
    found = [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
    for output in cell.outputs:
        if output.output_type == "stream" and output.name == "stderr":
            found += [line for line in output.text.splitlines() if line.startswith("UsageError: ")]
    return found


def text(cell: Any) -> str:
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output:
            parts.append(output.data.get("text/html", "") or output.data.get("text/plain", ""))
    return "".join(parts)


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


def opened(store_dir: Path) -> Store:
    return open_store(str(store_dir))


def test_magics_log_a_whole_run(tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "report.txt").write_text("all good")
    cells = execute(
        [
            "%load_ext jupyter_mlm",
            "%mlm_run start baseline --experiment churn --tag owner=ana --tag team=ml",
            "lr = 0.01\nepochs = 3\nauc = 0.8123",
            "%mlm_log param lr epochs depth=6 model='xgb'",
            "for epoch in range(epochs):\n    %mlm_log metric loss={1.0 / (epoch + 1)} --step {epoch}",
            "%mlm_log metric auc\n%mlm_log metric f1=0.7",
            "%mlm_log tag stage=review",
            "%mlm_log artifact report.txt --name docs/report.txt",
            "%mlm_log data report.txt",
            "%mlm_run status",
            "%mlm_run end",
            "%mlm_runs --experiment churn",
            "%mlm_run start second --experiment churn\n%mlm_log param lr=0.02 epochs=3 depth=6 model='xgb'\n%mlm_run end",
            "%mlm_diff baseline second",
            "%mlm_runs --group-by params.lr --experiment churn",
        ],
        store_dir,
        tmp_path,
        monkeypatch,
    )
    assert [errors(c) for c in cells] == [[]] * len(cells)
    assert "baseline" in text(cells[1])
    assert "report.txt" in text(cells[8]) and "file, 8 bytes" in text(cells[8])
    assert "baseline" in text(cells[9]) and "running" in text(cells[9])
    assert "baseline" in text(cells[11]) and "finished" in text(cells[11])
    assert "lr" in text(cells[13]) and "0.01" in text(cells[13]) and "0.02" in text(cells[13])
    grouped = text(cells[14])
    assert "params.lr" in grouped and "auc mean" in grouped and "0.8123" in grouped
    store = opened(store_dir)
    data = store.get_run(store.resolve_run("baseline").id)
    assert data.info.status == "finished" and data.info.experiment == "churn"
    assert data.params == {"depth": "6", "epochs": "3", "lr": "0.01", "model": "xgb"}
    assert {k: m.value for k, m in data.metrics.items()} == {"auc": 0.8123, "f1": 0.7, "loss": 1 / 3}
    assert [(s, v) for s, v in zip(*_series(store, data.info.id, "loss"), strict=True)] == [
        (0, 1.0),
        (1, 0.5),
        (2, 1 / 3),
    ]
    assert data.tags == {"owner": "ana", "stage": "review", "team": "ml"}
    assert [a.path for a in data.artifacts] == ["docs/report.txt"]
    from jupyter_mlm.capture.snapshot import read_snapshot

    assert [Path(d["path"]).name for d in read_snapshot(store, data.info.id).data] == ["report.txt"]
    assert data.info.notebook_path == str(tmp_path / "Churn Model.ipynb")
    assert data.info.kernel_id is None  # nbclient's kernels have no server-side kernel id
    assert data.info.pid > 0 and data.info.host


def test_kernel_id_comes_from_the_server_connection_file() -> None:
    from jupyter_mlm.kernel import kernel_id_from_connection_file

    assert kernel_id_from_connection_file("/run/jupyter/kernel-3f2a-11.json") == "3f2a-11"
    assert kernel_id_from_connection_file("/tmp/tmpabc.json") is None


def _series(store: Store, run_id: str, key: str) -> tuple[list[int], list[float]]:
    series = store.get_metric_series(run_id, key)
    return list(series.steps), list(series.values)


def test_cell_magic_is_one_run_and_failure_reraises(
    tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cells = execute(
        [
            "%load_ext jupyter_mlm",
            "%%mlm_run good --experiment cells\nimport jupyter_mlm as mlm\nmlm.log_metric('x', 1.0)\nresult = 42",
            "print(result)",
            "%%mlm_run bad --experiment cells\nmlm.log_metric('x', 2.0)\nraise ValueError('model diverged')",
            "print(mlm.active_run())",
        ],
        store_dir,
        tmp_path,
        monkeypatch,
    )
    assert errors(cells[1]) == [] and text(cells[2]).strip() == "42"
    assert errors(cells[3]) == ["ValueError: model diverged"]
    assert text(cells[4]).strip() == "None"
    store = opened(store_dir)
    good = store.get_run(store.resolve_run("good").id)
    bad = store.get_run(store.resolve_run("bad").id)
    assert good.info.status == "finished" and good.metrics["x"].value == 1.0
    assert bad.info.status == "failed" and bad.metrics["x"].value == 2.0


def test_logging_without_a_run_names_it_after_the_notebook_and_exit_kills_it(
    tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cells = execute(["%load_ext jupyter_mlm", "%mlm_log metric acc=0.5"], store_dir, tmp_path, monkeypatch)
    assert [errors(c) for c in cells] == [[], []]
    store = opened(store_dir)
    run = store.resolve_run("Churn Model")
    assert run.status == "killed"  # the kernel shut down with the run still open
    assert store.get_run(run.id).metrics["acc"].value == 0.5


BAD_INPUT = [
    ("%mlm_run", "needs a subcommand"),
    ("%mlm_run begin", "unknown %mlm_run subcommand 'begin'"),
    ("%mlm_run end", "no active run to end"),
    ("%mlm_run end --status great", "invalid choice"),
    ("%mlm_run start a b", "unexpected 'b'"),
    ("%mlm_run start x --tag novalue", "--tag must be k=v"),
    ("%mlm_run status now", "takes no arguments"),
    ("%mlm_log", "needs a kind"),
    ("%mlm_log weights a=1", "unknown %mlm_log kind"),
    ("%mlm_log param", "needs at least one"),
    ("%mlm_log param undefined_variable", "no variable 'undefined_variable'"),
    ("%mlm_log metric acc=high", "must be a number, not the string 'high'"),
    ("%mlm_log metric flag=True", "must be a number, not a boolean"),
    ("%mlm_log metric x=1 --step one", "invalid int value"),
    ("%mlm_log tag owner", "tags are k=v"),
    ("%mlm_log param =3", "missing name"),
    ("%mlm_log param 'unbalanced", "cannot read"),
    ("%mlm_log param bad$key=1", "invalid param name"),
    ("%mlm_log artifact missing.bin", "no such file or folder"),
    ("%mlm_runs --limit x", "invalid int value"),
    ("%mlm_runs --filter 'metrics.auc >'", "incomplete filter"),
    ("%mlm_runs --group-by metrics.auc", "a metric varies run to run"),
]


def test_every_bad_magic_input_is_a_usage_error_and_writes_nothing(
    tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One kernel runs the whole table: each line fails on its own, so cases cannot interfere.
    lines = ["%load_ext jupyter_mlm", *[line for line, _ in BAD_INPUT]]
    cells = execute(lines, store_dir, tmp_path, monkeypatch)
    for (line, message), cell in zip(BAD_INPUT, cells[1:], strict=True):
        found = errors(cell)
        assert len(found) == 1, (line, found)
        assert found[0].startswith("UsageError: "), (line, found)
        assert message in found[0], (line, found)
        assert "\n" not in found[0]
    if not (store_dir / "mlm.db").exists():
        return
    store = opened(store_dir)
    # An implicit run may have been started by a line that failed later; it must hold nothing
    # but its console, which shows the errors the user saw.
    runs, _ = store.search_runs()
    for data in runs:
        assert data.params == {} and data.metrics == {}
        assert [a.path for a in data.artifacts] in ([], ["mlm/stderr.txt"])
        if data.artifacts:
            assert "UsageError: " in store.objects.get(data.artifacts[0].digest).decode()


def test_magic_help_shows_every_form(tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jupyter_mlm.magics as magics

    expected = {
        magics.MLMMagics.mlm_log: [
            "param k=v",
            "param VAR",
            "metric",
            "--step",
            "tag",
            "artifact PATH",
            "data PATH",
            "Examples",
        ],
        magics.MLMMagics.mlm_run: ["start", "end", "status", "%%mlm_run", "Examples"],
        magics.MLMMagics.mlm_runs: ["--experiment", "--limit", "Examples"],
    }
    for method, forms in expected.items():
        for form in forms:
            assert form in (method.__doc__ or ""), (method.__name__, form)
    assert os.environ.get("MLM_STORE_URI") is None


def test_mlm_register_from_a_variable(tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cells = execute(
        [
            "%load_ext jupyter_mlm\nimport pandas as pd\nfrom sklearn.tree import DecisionTreeClassifier",
            "X = pd.DataFrame({'tenure': [1, 5, 30, 40], 'plan': ['a', 'b', 'a', 'b']})\ny = [1, 1, 0, 0]",
            "%mlm_run start train --experiment churn\n%mlm_log param depth=2\n"
            "clf = DecisionTreeClassifier(max_depth=2).fit(X[['tenure']], y)\n%mlm_run end",
            "%mlm_register clf churn --reference X --description 'first tree'",
            "v = %mlm_register clf churn\nprint(v.version, v.flavor, v.stage)",
            "%mlm_register nope churn",
            "%mlm_register clf 'bad name'",
            "%mlm_register clf",
            "%mlm_register clf churn --reference missing",
            "%mlm_register clf churn --flavor tensorflow",
        ],
        store_dir,
        tmp_path,
        monkeypatch,
    )
    assert [errors(c) for c in cells[:5]] == [[]] * 5
    card = text(cells[3])
    assert "churn v1" in card and "first tree" in card and "depth" in card
    assert text(cells[4]).strip() == "2 sklearn none"
    expected = ["no variable 'nope'", "model name must be", "the following arguments are required: name",
                "no variable 'missing'", "flavor 'tensorflow' cannot be used"]  # fmt: skip
    for cell, message in zip(cells[5:], expected, strict=True):
        found = errors(cell)
        assert len(found) == 1 and found[0].startswith("UsageError: ") and message in found[0], found
    store = opened(store_dir)
    versions = store.list_versions("churn")
    assert [v.version for v in versions] == [1, 2]
    assert store.resolve_run("train").id == versions[0].run_id == versions[1].run_id
    assert versions[0].profile_digest and versions[1].profile_digest is None


def test_rich_outputs_have_a_text_form_for_terminals_and_nbconvert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Terminal IPython and nbconvert show text/plain: a real line, a plain table — never the
    repr of an HTML object."""
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    cells = execute(
        [
            "%load_ext jupyter_mlm",
            "%mlm_run start plain-text",
            "%mlm_log metric auc=0.9",
            f"%mlm_log data {data}",
            "%mlm_run end",
            "%mlm_runs",
            "%mlm_run status",
        ],
        tmp_path / "store", tmp_path, monkeypatch,
    )  # fmt: skip
    plains = [o["data"]["text/plain"] for c in cells for o in c.outputs if o.output_type == "display_data"]
    assert plains and not any("IPython.core.display" in p for p in plains)
    assert plains[0].startswith("Started run plain-text (")
    assert any(p.startswith(f"{data} file, 8 bytes,") for p in plains)
    assert "Ended run plain-text: finished" in plains
    table = next(p for p in plains if p.startswith("name"))
    assert "plain-text" in table and "auc" in table.splitlines()[0] and "0.9" in table
    assert plains[-1].startswith("No active run.")


def test_a_kernels_run_keeps_its_output_and_the_cell_error_that_failed_it(
    tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a real ipykernel (whose stdout is its own stream class): what cells of the run printed
    reaches the notebook as before and is kept with the run; a cell's error, followed by
    ``%mlm_run end --status failed``, is the run's exception."""
    cells = execute(
        [
            "%load_ext jupyter_mlm",
            "%mlm_run start kernel-run",
            "print('epoch 1')\nimport sys; print('careful', file=sys.stderr)",
            "1 / 0",
            "%mlm_run end --status failed",
            "print('after the run')",
        ],
        store_dir, tmp_path, monkeypatch,
    )  # fmt: skip
    assert "epoch 1" in text(cells[2]) and errors(cells[3]) == ["ZeroDivisionError: division by zero"]
    store = opened(store_dir)
    run = store.resolve_run("kernel-run")

    def artifact(path: str) -> str:
        return store.objects.get(store.get_artifact(run.id, path).digest).decode()

    assert "epoch 1" in artifact("mlm/stdout.txt") and "after the run" not in artifact("mlm/stdout.txt")
    assert artifact("mlm/stderr.txt") == "careful\n"
    assert "ZeroDivisionError: division by zero" in artifact("mlm/exception.txt")
    assert store.get_run(run.id).tags["mlm.exception"] == "ZeroDivisionError: division by zero"
