"""Every local source file a run used, from a real kernel: modules beside the notebook and in a
package under src/, their content and git diff stored, compared between runs, restored."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

import jupyter_mlm as mlm
from jupyter_mlm.capture.reproduce import restore
from jupyter_mlm.capture.snapshot import read_snapshot
from jupyter_mlm.diffs.runs import diff_runs
from jupyter_mlm.store import open_store

CELLS = [
    "%load_ext jupyter_mlm\nimport sys\nsys.path.insert(0, 'src')\nimport jupyter_mlm as mlm",
    "import mylib\nfrom features import scaling\n"
    "with mlm.start_run(RUN, experiment='sources'):\n    mlm.log_metric('score', mylib.score(scaling.scale([1, 2, 3])))",
]


def execute(folder: Path, run_name: str) -> None:
    cells = [CELLS[0], f"RUN = {run_name!r}\n" + CELLS[1]]
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "train.ipynb")
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=folder, check=True,
                   capture_output=True)  # fmt: skip


def test_local_modules_are_captured_diffed_and_restored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "project"
    (folder / "src" / "features").mkdir(parents=True)
    (folder / "mylib.py").write_text("def score(values):\n    return sum(values) / len(values)\n")
    (folder / "src" / "features" / "__init__.py").write_text("")
    (folder / "src" / "features" / "scaling.py").write_text("def scale(xs):\n    return [x * 2 for x in xs]\n")
    git(folder, "init", "-q")
    git(folder, "add", ".")
    git(folder, "commit", "-qm", "first")
    (folder / "mylib.py").write_text("def score(values):\n    return max(values)  # uncommitted\n")
    monkeypatch.setenv("MLM_STORE_URI", str(tmp_path / "store"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(folder / "train.ipynb"))
    execute(folder, "first")
    (folder / "src" / "features" / "scaling.py").write_text("def scale(xs):\n    return [x * 3 for x in xs]\n")
    execute(folder, "second")

    store = open_store(str(tmp_path / "store"))
    try:
        first = store.resolve_run("first")
        snapshot = read_snapshot(store, first.id)
        paths = {Path(s["path"]).relative_to(folder.resolve()).as_posix(): s for s in snapshot.sources}
        assert set(paths) == {"mylib.py", "src/features/__init__.py", "src/features/scaling.py"}
        assert (
            paths["mylib.py"]["module"] == "mylib" and paths["src/features/scaling.py"]["module"] == "features.scaling"
        )
        assert "max(values)  # uncommitted" in snapshot.source_text(paths["mylib.py"]["path"])
        (repo,) = snapshot.repositories
        assert repo["commit"] and "+    return max(values)  # uncommitted" in repo["diff"]
        assert not any("jupyter_mlm" in s["path"] or "site-packages" in s["path"] for s in snapshot.sources)

        diff = diff_runs(store, "first", "second")
        (changed,) = diff.sources["changed"]
        assert changed["path"].endswith("src/features/scaling.py")
        assert (
            "-    return [x * 2 for x in xs]" in changed["unified"]
            and "+    return [x * 3 for x in xs]" in changed["unified"]
        )
        text = "\n".join(diff.lines())
        assert "source files" in text and "+    return [x * 3 for x in xs]" in text
        assert diff.metrics and diff.to_dict()["sources"]["changed"][0]["path"] == changed["path"]

        target = tmp_path / "restored" / "train.ipynb"
        report: list[str] = []
        restore(store, "first", target, report=report)
        assert (tmp_path / "restored" / "src" / "features" / "scaling.py").read_text().endswith("x * 2 for x in xs]\n")
        assert "max(values)" in (tmp_path / "restored" / "mylib.py").read_text()
        report.clear()
        (tmp_path / "restored" / "mylib.py").write_text("# my own edit\n")
        with pytest.raises(mlm.UsageError, match="already exists"):
            restore(store, "first", target)
        restore(store, "first", tmp_path / "restored" / "again.ipynb", report=report)
        assert any(line.startswith("kept ") and line.endswith("(pass overwrite to replace)") for line in report)
        assert (tmp_path / "restored" / "mylib.py").read_text() == "# my own edit\n"
    finally:
        store.close()
