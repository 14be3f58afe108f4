"""The notebook as the user saw it, in a real JupyterLab: every run started in the browser
snapshots the live notebook (unsaved edits, outputs, execution counts), including runs that
start and end in one cell, Run All, never-saved notebooks in sub-folders and renamed ones; and a
stable notebook id follows the file through renames while a copy gets its own.

Sorts after the other UI modules: their run counts assume a store without these runs."""

from __future__ import annotations

import json
import time
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from jupyter_mlm.capture.snapshot import Snapshot
from jupyter_mlm.entities import RunRecord
from jupyter_mlm.store import Store, open_store

from .conftest import LabServer, screenshot

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def write_notebook(lab: LabServer, path: str, *sources: str) -> None:
    cells = [new_markdown_cell(s[3:]) if s.startswith("md:") else new_code_cell(s) for s in sources]
    nb = new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC})
    (lab.root / path).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, lab.root / path)


def open_notebook(page: Any, lab: LabServer, path: str) -> None:
    page.goto(lab.lab_url(f"lab/tree/{path}"))
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    wait_idle(page)


def wait_idle(page: Any) -> None:
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'",
        timeout=60_000,
    )


def run_all(page: Any) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        "() => { const p = [...window.jupyterapp.shell.currentWidget.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];"
        " return p.length > 0 && p.every(x => /\\d/.test(x.textContent)); }",
        timeout=90_000,
    )
    wait_idle(page)


def set_source(page: Any, index: int, source: str) -> None:
    page.evaluate(
        "([i, s]) => window.jupyterapp.shell.currentWidget.content.model.cells.get(i).sharedModel.setSource(s)",
        [index, source],
    )


def run_named(store: Store, name: str, timeout: float = 30) -> RunRecord:
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in store.search_runs(experiments=["live"])[0] if r.info.name == name]
        if found and found[0].info.status != "running":
            return found[0].info
        assert time.monotonic() < deadline, f"run {name!r} did not end"
        time.sleep(0.3)


def live_snapshot(store: Store, run: RunRecord, phase: str = "end", timeout: float = 30) -> Snapshot:
    """The run's ``phase`` snapshot once the frontend's notebook has completed it."""
    deadline = time.monotonic() + timeout
    while True:
        rows = [s for s in store.list_snapshots(run.id) if s.phase == phase]
        if rows and Snapshot(store, rows[-1]).notebook_source == "live":
            return Snapshot(store, rows[-1])
        sources = [Snapshot(store, r).notebook_source for r in rows]
        assert time.monotonic() < deadline, f"no live {phase} snapshot for {run.name}: {sources}"
        time.sleep(0.3)


def text_of(cell: Any) -> str:
    return "".join(o.get("text", "") + json.dumps(o.get("data", {})) for o in cell.get("outputs", []))


def test_a_run_that_starts_and_ends_in_one_cell(page: Any, lab_server: LabServer) -> None:
    store = open_store(str(lab_server.store))
    write_notebook(
        lab_server, "one-cell.ipynb",
        "%load_ext jupyter_mlm\nimport jupyter_mlm as mlm",
        "md:# Training",
        "with mlm.start_run('one-cell', experiment='live'):\n    print('saved version')\n    mlm.log_metric('m', 1)",
    )  # fmt: skip
    open_notebook(page, lab_server, "one-cell.ipynb")
    # An edit the user never saves: the snapshot must have it, the file on disk must not.
    set_source(page, 2, "with mlm.start_run('one-cell', experiment='live'):\n    print('edited, never saved')\n"
                        "    mlm.log_metric('m', 1)")  # fmt: skip
    run_all(page)
    run = run_named(store, "one-cell")
    snapshot = live_snapshot(store, run)
    cells = snapshot.notebook.cells
    assert [c.cell_type for c in cells] == ["code", "markdown", "code"]
    assert "edited, never saved" in cells[2].source and "edited, never saved" in text_of(cells[2])
    assert cells[0].execution_count == 1 and cells[2].execution_count == 2
    assert snapshot.manifest["notebook"]["path"] == "one-cell.ipynb"
    assert "edited, never saved" not in (lab_server.root / "one-cell.ipynb").read_text()
    start = live_snapshot(store, run, "start")
    assert "edited, never saved" in start.notebook.cells[2].source  # the start too is the live notebook
    screenshot(page, "live-one-cell")
    store.close()


def test_run_all_snapshots_every_cell_that_ran_inside_the_run(page: Any, lab_server: LabServer) -> None:
    store = open_store(str(lab_server.store))
    write_notebook(
        lab_server, "run-all.ipynb",
        "%load_ext jupyter_mlm",
        "%mlm_run start baseline-all --experiment live",
        "import matplotlib\nmatplotlib.use('agg')\nimport matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3]); plt.gcf().savefig('/dev/null', format='png'); print('plotted')",
        "%mlm_run end",
        "print('after the run')",
    )  # fmt: skip
    open_notebook(page, lab_server, "run-all.ipynb")
    run_all(page)
    run = run_named(store, "baseline-all")
    cells = live_snapshot(store, run).notebook.cells
    assert [c.execution_count for c in cells[:4]] == [1, 2, 3, 4]
    assert "plotted" in text_of(cells[2])  # the plotting cell ran inside the run, and shows so
    # The cell after the run was queued, not run, when the run ended: as the user saw it then.
    assert cells[4].execution_count is None and cells[4].outputs == []
    store.close()


def test_never_saved_notebook_in_a_subfolder_then_renamed(page: Any, lab_server: LabServer) -> None:
    store = open_store(str(lab_server.store))
    (lab_server.root / "projects" / "churn").mkdir(parents=True, exist_ok=True)
    page.goto(lab_server.lab_url("lab"))
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    page.evaluate(
        "async () => { await window.jupyterapp.commands.execute('notebook:create-new',"
        " {cwd: 'projects/churn', kernelName: 'python3'}); }"
    )
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    wait_idle(page)
    path = page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path")
    assert path.startswith("projects/churn/Untitled")
    page.evaluate(
        """() => {
            const model = window.jupyterapp.shell.currentWidget.content.model;
            model.sharedModel.insertCells(1, [
                {cell_type: 'code', source: "with mlm.start_run('untitled-run', experiment='live'):\\n    print('typed, not saved')"},
            ]);
            model.cells.get(0).sharedModel.setSource('import jupyter_mlm as mlm');
        }"""
    )
    run_all(page)
    run = run_named(store, "untitled-run")
    snapshot = live_snapshot(store, run)
    assert snapshot.manifest["notebook"]["path"] == path
    assert "typed, not saved" in text_of(snapshot.notebook.cells[1])

    # Saving writes the notebook's id once; renaming keeps it; the next run records it.
    # The context's own save: docmanager:save would first offer to rename an untitled notebook.
    page.evaluate("async () => { await window.jupyterapp.shell.currentWidget.context.save(); }")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)
    saved = json.loads((lab_server.root / path).read_text())
    notebook_id = saved["metadata"]["mlm"]["notebook_id"]
    page.evaluate(
        "async name => { await window.jupyterapp.shell.currentWidget.context.rename(name); }", "renamed.ipynb"
    )
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.context.path === 'projects/churn/renamed.ipynb'", timeout=30_000
    )
    set_source(page, 1, "with mlm.start_run('renamed-run', experiment='live'):\n    print('after the rename')")
    run_all(page)
    renamed = run_named(store, "renamed-run")
    snapshot = live_snapshot(store, renamed)
    assert snapshot.manifest["notebook"]["path"] == "projects/churn/renamed.ipynb"
    assert store.get_run_record(renamed.id).notebook_id == notebook_id
    assert store.get_run_record(run.id).notebook_id in (None, notebook_id)
    runs_of_notebook, _ = store.search_runs(filter=f"notebook_id = '{notebook_id}'")
    assert "renamed-run" in [r.info.name for r in runs_of_notebook]

    # A copy is a notebook of its own.
    page.evaluate(
        "async () => { await window.jupyterapp.serviceManager.contents.copy('projects/churn/renamed.ipynb', 'projects/churn'); }"
    )
    copies = sorted(p.name for p in (lab_server.root / "projects" / "churn").glob("renamed-Copy*.ipynb"))
    deadline = time.monotonic() + 20
    while not copies and time.monotonic() < deadline:
        time.sleep(0.2)
        copies = sorted(p.name for p in (lab_server.root / "projects" / "churn").glob("renamed-Copy*.ipynb"))
    copy = json.loads((lab_server.root / "projects" / "churn" / copies[0]).read_text())
    assert copy["metadata"]["mlm"]["notebook_id"] != notebook_id
    assert (
        json.loads((lab_server.root / "projects/churn/renamed.ipynb").read_text())["metadata"]["mlm"]["notebook_id"]
        == notebook_id
    )
    screenshot(page, "live-renamed")
    store.close()


def test_run_detail_shows_the_local_sources_it_used(page: Any, lab_server: LabServer) -> None:
    from .test_sidebar import open_sidebar

    store = open_store(str(lab_server.store))
    folder = lab_server.root / "withlib"
    folder.mkdir(exist_ok=True)
    (folder / "helpers.py").write_text("def answer():\n    return 42  # helpers v1\n")
    write_notebook(
        lab_server, "withlib/uses-lib.ipynb",
        "import jupyter_mlm as mlm\nimport helpers",
        "with mlm.start_run('uses-lib', experiment='live'):\n    mlm.log_metric('answer', helpers.answer())",
    )  # fmt: skip
    open_notebook(page, lab_server, "withlib/uses-lib.ipynb")
    run_all(page)
    run = run_named(store, "uses-lib")
    live_snapshot(store, run)
    panel = open_sidebar(page, lab_server)
    panel.locator(".jp-mlm-row", has_text="uses-lib").get_by_text("uses-lib", exact=True).click()
    detail = page.locator(".jp-mlm-detail")
    detail.locator(".jp-mlm-tab", has_text="Sources (1)").click()
    file = detail.locator(".jp-mlm-source-file")
    file.locator("summary").click()
    file.locator(".jp-mlm-source", has_text="helpers v1").wait_for(timeout=15_000)
    assert "helpers.py" in file.locator("summary").inner_text() and "helpers" in file.locator("summary").inner_text()
    screenshot(page, "run-sources")
    store.close()
