"""Snapshots from a real kernel: the notebook from disk, the execution log, out-of-order
detection, data reads; then restore, check and reproduce through `jupyter mlm`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlm.capture.snapshot import read_snapshot
from jupyter_mlm.store import open_store

JUPYTER = str(Path(sys.executable).with_name("jupyter"))

CELLS = [
    "%load_ext jupyter_mlm\nimport jupyter_mlm as mlm",
    "%mlm_run start train --experiment snap",
    "rows = open('data/train.csv').read().splitlines()\nn = len(rows)",
    "%mlm_log param n\nmlm.log_metric('rows', float(n))",
    "%mlm_run end",
]


def write_notebook(folder: Path, cells: list[str]) -> Path:
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "train.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "train.csv").write_text("a,b\n1,2\n3,4\n")
    path = write_notebook(folder, CELLS)
    monkeypatch.setenv("MLM_STORE_URI", str(tmp_path / "store"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    return folder, path


def run_cells(path: Path, order: Iterable[int]) -> Any:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        for index in order:
            client.execute_cell(nb.cells[index], index)
    return nb


def test_snapshot_from_a_real_kernel(project: tuple[Path, Path], tmp_path: Path) -> None:
    folder, path = project
    run_cells(path, [0, 1, 2, 3, 4])
    store = open_store(str(tmp_path / "store"))
    run = store.resolve_run("train")
    assert [s.phase for s in store.list_snapshots(run.id)] == ["start", "end"]
    snapshot = read_snapshot(store, run.id)
    assert snapshot.notebook_source == "disk"
    assert [c.source for c in snapshot.notebook.cells] == CELLS
    sources = [e["source"] for e in snapshot.executions]
    assert sources == CELLS
    # The end snapshot is taken while the %mlm_run end cell is still running.
    assert [e["success"] for e in snapshot.executions] == [True, True, True, True, None]
    assert [e["in_run"] for e in snapshot.executions] == [False, False, True, True, True]
    assert snapshot.out_of_order is False
    assert [Path(d["path"]).relative_to(folder).as_posix() for d in snapshot.data] == ["data/train.csv"]
    assert snapshot.environment["imported"]["jupyter_mlm"]


def test_out_of_order_execution_is_flagged(project: tuple[Path, Path], tmp_path: Path) -> None:
    _, path = project
    run_cells(path, [0, 1, 3 - 1, 3, 2, 4])  # cell 2 runs again after cell 3
    store = open_store(str(tmp_path / "store"))
    snapshot = read_snapshot(store, store.resolve_run("train").id)
    assert snapshot.out_of_order is True
    assert any("out of document order" in r for r in snapshot.out_of_order_reasons)


def test_the_python_api_alone_captures_as_much_as_the_extension(project: tuple[Path, Path], tmp_path: Path) -> None:
    folder, _ = project
    cells = [
        "import jupyter_mlm as mlm",
        "run = mlm.start_run('api-only')",
        "rows = open('data/train.csv').read().splitlines()",
        "mlm.log_metric('rows', float(len(rows)))\nmlm.end_run()",
        "%load_ext jupyter_mlm",
    ]
    path = write_notebook(folder, cells)
    executed = run_cells(path, range(len(cells)))
    # Loading the extension after the import is quiet: it was loaded by the import.
    assert executed.cells[-1].outputs == []
    store = open_store(str(tmp_path / "store"))
    snapshot = read_snapshot(store, store.resolve_run("api-only").id)
    assert [e["source"] for e in snapshot.executions] == cells[:4]
    assert [Path(d["path"]).relative_to(folder).as_posix() for d in snapshot.data] == ["data/train.csv"]


def mlm_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [JUPYTER, "mlm", *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=os.environ.copy()
    )


def test_restore_check_and_reproduce(project: tuple[Path, Path], tmp_path: Path) -> None:
    folder, path = project
    run_cells(path, [0, 1, 2, 3, 4])
    store = open_store(str(tmp_path / "store"))
    run_id = store.resolve_run("train").id

    restored = tmp_path / "restored.ipynb"
    result = mlm_cli("restore", run_id[:8], "-o", str(restored), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [c.source for c in nbformat.read(restored, as_version=4).cells] == CELLS
    again = mlm_cli("restore", "train", "-o", str(restored), cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr

    clean = mlm_cli("check", "train", cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 differ" in clean.stdout
    (folder / "data" / "train.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    changed = mlm_cli("check", "train", "--json", cwd=tmp_path)
    assert changed.returncode == 1
    report = json.loads(changed.stdout)
    assert report["differs"] is True
    assert [(Path(d["path"]).name, d["status"]) for d in report["data"]] == [("train.csv", "changed")]

    reproduced = mlm_cli("reproduce", "train", cwd=tmp_path)
    assert reproduced.returncode == 0, reproduced.stdout + reproduced.stderr
    assert "rows" in reproduced.stdout
    # Before executing, it says what it runs: the notebook's digest, whose run, captured by whom.
    first = reproduced.stdout.splitlines()[0]
    assert first.startswith("executing notebook ") and "captured by the kernel (disk)" in first
    row = next(line for line in reproduced.stdout.splitlines() if line.startswith("rows"))
    assert row.split()[1:] == ["3", "4", "1"]  # the data changed, so the metric did
    runs, _ = store.search_runs(filter=f"tags.reproduces = '{run_id}'")
    assert len(runs) == 1 and runs[0].info.status == "finished"

    (folder / "data" / "train.csv").unlink()
    missing = json.loads(mlm_cli("check", "train", "--json", cwd=tmp_path).stdout)
    assert missing["data"][0]["status"] == "missing"
    assert "no run" in mlm_cli("check", "nope", cwd=tmp_path).stderr
