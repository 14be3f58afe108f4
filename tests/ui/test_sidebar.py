"""The "Model management" sidebar in a real JupyterLab, in a real browser, on a store filled by
a real notebook run."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlm.store import Store, open_store

from .conftest import SIDEBAR, LabServer, assert_readable, compare_themes, environment, open_sidebar, screenshot

TRAINING = [
    "%load_ext jupyter_mlm",
    "import math\nimport jupyter_mlm as mlm",
    "%mlm_run start baseline --experiment churn --tag owner=ana",
    "rows = open('data/train.csv').read().splitlines()",
    "lr, depth = 0.05, 6\n%mlm_log param lr depth model='xgb'",
    "for step in range(200):\n"
    "    mlm.log_metrics({'loss': math.exp(-step / 40) + 0.05 * math.sin(step),\n"
    "                     'auc': 0.6 + 0.25 * (1 - math.exp(-step / 50))})",
    "with open('report.txt', 'w') as f:\n    f.write('baseline report')\n%mlm_log artifact report.txt",
    "%mlm_run end",
]


def second_version(nb: Any) -> None:
    """What the user changed before running the notebook again (cell ids stay)."""
    nb.cells[2].source = "%mlm_run start deeper-trees --experiment churn --tag owner=bo"
    nb.cells[4].source = "lr, depth = 0.05, 12\n%mlm_log param lr depth model='xgb'"
    nb.cells[5].source = (
        "for step in range(200):\n"
        "    mlm.log_metrics({'loss': math.exp(-step / 30), 'auc': 0.6 + 0.3 * (1 - math.exp(-step / 40))})"
    )
    nb.cells.insert(6, new_code_cell("feature_importance = {'tenure': 0.6, 'plan': 0.4}"))


@pytest.fixture(scope="package")
def filled(lab_server: LabServer, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Two runs logged by a real notebook in a real kernel, plus one still running."""
    work = lab_server.root / "project"
    (work / "data").mkdir(parents=True)
    (work / "data" / "train.csv").write_text("tenure,plan,churned\n3,basic,1\n40,pro,0\n")
    nb = new_notebook(cells=[new_code_cell(source) for source in TRAINING])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    with environment(MLM_STORE_URI=str(lab_server.store), JPY_SESSION_NAME=str(work / "training.ipynb")):
        for version in (1, 2):
            if version == 2:
                second_version(nb)
            nbformat.write(nb, work / "training.ipynb")
            NotebookClient(
                nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}}
            ).execute()
    store = open_store(str(lab_server.store))
    exp = store.get_or_create_experiment("live")
    live = store.create_run(exp.id, "live-run")
    store.log_metric_batch(live.id, {"progress": ([0], [1.0], [0])})
    return store


def rows(panel: Any) -> list[str]:
    return [r.inner_text().split("\n")[0] for r in panel.locator(".jp-mlm-row").all()]


def test_store_tab_shows_location_and_counts(page: Any, lab_server: LabServer, filled: Store) -> None:
    panel = open_sidebar(page, lab_server)
    panel.locator(".jp-mlm-tab", has_text="Store").click()
    store_uri = panel.locator(".jp-mlm-store-uri")
    store_uri.wait_for(timeout=30_000)
    assert store_uri.inner_text() == f"sqlite:///{lab_server.store.resolve() / 'mlm.db'}"
    assert panel.locator(".jp-mlm-schema").inner_text().strip() != ""
    assert panel.locator(".jp-mlm-count-runs").inner_text() == "3"
    screenshot(page, "sidebar-store")
    assert_readable(
        page, f"#{SIDEBAR} .jp-mlm-facts dt, #{SIDEBAR} .jp-mlm-facts dd", "sidebar-store-contrast", at_least=10
    )


def test_runs_table_sort_and_filter(page: Any, lab_server: LabServer, filled: Store) -> None:
    panel = open_sidebar(page, lab_server)
    page.wait_for_function("() => document.querySelectorAll('.jp-mlm-row[data-run-id]').length === 3", timeout=30_000)
    assert rows(panel) == ["live-run", "deeper-trees", "baseline"]  # newest first
    assert panel.locator(".jp-mlm-count").inner_text() == "3 runs"
    header = panel.locator(".jp-mlm-header").inner_text()
    for column in ("Name", "Status", "Experiment", "Start", "Duration", "depth", "lr", "auc", "loss"):
        assert column in header
    assert "finished" in panel.locator(".jp-mlm-row", has_text="baseline").inner_text()
    assert "running" in panel.locator(".jp-mlm-row", has_text="live-run").inner_text()
    screenshot(page, "runs-table")

    panel.locator(".jp-mlm-head", has_text="Name").click()
    page.wait_for_function("() => document.querySelector('.jp-mlm-row').innerText.startsWith('baseline')")
    assert rows(panel) == ["baseline", "deeper-trees", "live-run"]

    panel.locator(".jp-mlm-filter").fill("params.depth > 6 and metrics.auc > 0.8")
    panel.locator(".jp-mlm-filter").press("Enter")
    page.wait_for_function("() => document.querySelectorAll('.jp-mlm-row[data-run-id]').length === 1")
    assert rows(panel) == ["deeper-trees"]
    screenshot(page, "runs-table-filtered")

    panel.locator("button", has_text="Expand").click()
    wide = page.locator("#jupyter-mlm-runs-table")
    wide.locator(".jp-mlm-row[data-run-id]").first.wait_for()
    assert wide.locator(".jp-mlm-row[data-run-id]").count() == 1  # same model: the filter applies
    screenshot(page, "runs-table-main-area")

    panel.locator(".jp-mlm-filter").fill("metrics.auc >")
    panel.locator(".jp-mlm-filter").press("Enter")
    error = panel.locator(".jp-mlm-error")
    error.wait_for()
    assert "incomplete filter" in error.inner_text()


def test_run_detail_with_charts_and_artifacts(page: Any, lab_server: LabServer, filled: Store) -> None:
    panel = open_sidebar(page, lab_server)
    # Clicked on its name, as a person would: a click at the middle of a wide row scrolls the table.
    panel.locator(".jp-mlm-row", has_text="baseline").get_by_text("baseline", exact=True).click()
    detail = page.locator(".jp-mlm-detail")
    detail.locator(".jp-mlm-chart").first.wait_for(timeout=30_000)
    text = detail.inner_text()
    assert "baseline" in text and "finished" in text and "churn" in text
    assert "depth" in text and "12" not in detail.locator(".jp-mlm-kv").first.inner_text()
    assert "owner" in text and "ana" in text
    assert "report.txt" in text
    charts = detail.locator(".jp-mlm-chart")
    assert charts.count() == 2
    assert charts.nth(0).get_attribute("data-metric") == "auc (200 points)"
    # Every metric's last value as text, beside its chart.
    baseline = next(r for r in filled.search_runs()[0] if r.info.name == "baseline")
    rows = detail.locator(".jp-mlm-metrics-table tbody tr")
    assert sorted(r.get_attribute("data-metric") or "" for r in rows.all()) == sorted(baseline.metrics)
    auc_row = detail.locator(".jp-mlm-metrics-table tr[data-metric='auc']").inner_text()
    assert f"{baseline.metrics['auc'].step}" in auc_row and "200" in auc_row
    points = charts.nth(1).locator("polyline").get_attribute("points") or ""
    assert len(points.split()) == 200
    box = charts.nth(1).locator("svg").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    tooltip = charts.nth(1).locator(".jp-mlm-tooltip")
    tooltip.wait_for()
    assert "step" in tooltip.inner_text()
    screenshot(page, "run-detail")
    with page.expect_download() as download:
        detail.locator("button", has_text="Download").click()
    path = download.value.path()
    assert Path(path).read_text() == "baseline report"


def test_a_single_value_metric_is_read_as_text_not_an_empty_chart(
    page: Any, lab_server: LabServer, filled: Store
) -> None:
    panel = open_sidebar(page, lab_server)
    panel.locator(".jp-mlm-row", has_text="live-run").get_by_text("live-run", exact=True).click()
    detail = page.locator(".jp-mlm-detail")
    row = detail.locator(".jp-mlm-metrics-table tr[data-metric='progress']")
    row.wait_for(timeout=30_000)
    assert row.locator("td").nth(1).inner_text() == "1" and row.locator("td").nth(3).inner_text() == "1"
    assert detail.locator(".jp-mlm-chart").count() == 0
    screenshot(page, "run-detail-single-value")


def test_run_snapshot_tabs_and_restore(page: Any, lab_server: LabServer, filled: Store) -> None:
    panel = open_sidebar(page, lab_server)
    # Clicked on its name, as a person would: a click at the middle of a wide row scrolls the table.
    panel.locator(".jp-mlm-row", has_text="baseline").get_by_text("baseline", exact=True).click()
    detail = page.locator(".jp-mlm-detail")
    detail.locator(".jp-mlm-tab", has_text="Notebook").click()
    notebook = detail.locator(".jp-mlm-notebook")
    notebook.wait_for(timeout=30_000)
    assert "%mlm_run start baseline" in notebook.inner_text()
    assert detail.locator(".jp-mlm-nbcell").count() == len(TRAINING)
    assert "depth = 0.05, 6" in notebook.inner_text()  # baseline's own version of the notebook
    screenshot(page, "run-notebook")

    detail.locator(".jp-mlm-tab", has_text="Environment").click()
    search = detail.locator(".jp-mlm-package-search")
    search.fill("sqlalchemy")
    packages = detail.locator(".jp-mlm-packages")
    assert "sqlalchemy" in packages.inner_text() and "imported" in packages.inner_text()
    assert packages.locator("tr").count() == 1
    assert "names recorded (values never are)" in detail.inner_text()
    screenshot(page, "run-environment")

    detail.locator(".jp-mlm-tab", has_text="Data").click()
    badge = detail.locator(".jp-mlm-data .jp-mlm-badge")
    badge.wait_for(timeout=30_000)
    assert "train.csv" in detail.locator(".jp-mlm-data").inner_text()
    assert badge.inner_text() == "unchanged"
    screenshot(page, "run-data")

    detail.locator(".jp-mlm-restore").click()
    page.locator(".jp-mlm-notice").wait_for(state="attached", timeout=30_000)  # hidden: the notebook opened on top
    restored = list(lab_server.root.glob("training.restored-*.ipynb"))
    assert len(restored) == 1
    assert [c.source for c in nbformat.read(restored[0], as_version=4).cells] == TRAINING
    page.wait_for_function(
        "() => [...document.querySelectorAll('.lm-TabBar-tabLabel')].some(t => t.textContent.includes('restored'))",
        timeout=30_000,
    )
    screenshot(page, "run-restored")


def test_live_notebook_with_unsaved_edits_reaches_the_snapshot(page: Any, lab_server: LabServer, filled: Store) -> None:
    nb = new_notebook(
        cells=[
            new_code_cell("%load_ext jupyter_mlm"),
            new_code_cell("%mlm_run start live-edit --experiment ui"),
            new_code_cell("x = 1"),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab_server.root / "live.ipynb")
    page.goto(lab_server.lab_url("lab/tree/live.ipynb"))
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'",
        timeout=60_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function("() => document.querySelectorAll('.jp-InputPrompt').length && "
                           "[...document.querySelectorAll('.jp-InputPrompt')].every(p => /\\d/.test(p.textContent))",
                           timeout=60_000)  # fmt: skip
    page.evaluate(
        """() => {
            const panel = window.jupyterapp.shell.currentWidget;
            panel.content.model.cells.get(2).sharedModel.setSource("x = 'an unsaved edit'");
            panel.content.activeCellIndex = 2;
            return window.jupyterapp.commands.execute('notebook:run-cell');
        }"""
    )
    deadline = time.monotonic() + 30
    while True:
        run_id = filled.running_run_of_kernel(
            page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.id")
        )
        live = [s for s in filled.list_snapshots(run_id)] if run_id else []
        from jupyter_mlm.capture.snapshot import Snapshot

        sources = (
            [c.source for c in Snapshot(filled, live[-1]).notebook.cells] if live and live[-1].phase == "live" else []
        )
        if "x = 'an unsaved edit'" in sources:
            break
        assert time.monotonic() < deadline, f"no live snapshot with the edit: {[s.phase for s in live]}"
        time.sleep(0.5)
    assert "an unsaved edit" not in (lab_server.root / "live.ipynb").read_text()  # never saved to disk
    screenshot(page, "live-notebook")


def test_compare_two_runs_with_nbdime_notebook_diff(page: Any, lab_server: LabServer, filled: Store) -> None:
    panel = open_sidebar(page, lab_server)
    page.wait_for_function("() => document.querySelectorAll('.jp-mlm-row[data-run-id]').length >= 3", timeout=30_000)
    compare = panel.locator(".jp-mlm-compare-button")
    assert compare.is_disabled()
    for name in ("baseline", "deeper-trees"):
        panel.locator(".jp-mlm-row", has_text=name).locator(".jp-mlm-select").check()
    assert compare.inner_text() == "Compare (2)"
    compare.click()
    view = page.locator(".jp-mlm-compare-widget")
    view.locator(".jp-mlm-metric-diff").wait_for(timeout=30_000)
    text = view.inner_text()
    assert "Compare baseline · deeper-trees" in text
    side = view.locator(".jp-mlm-side-by-side")
    assert "params.depth" in side.inner_text()
    assert "jp-mlm-diff-changed" in (side.locator("tr", has_text="params.depth").get_attribute("class") or "")
    assert view.locator(".jp-mlm-chart").count() == 2
    assert view.locator(".jp-mlm-chart").first.locator("polyline").count() == 2  # overlaid: one line per run
    # Sources of 3 cells changed, and the second version was saved with the first run's outputs.
    assert re.search(r"Notebook \((\d+) changed, 1 added, 0 removed\)", text)
    # The notebook diff is nbdime's own widget.
    nbdime = view.locator(".jp-Notebook-diff")
    nbdime.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    assert nbdime.locator(".jp-Cellrow-source, .jp-Cell-diff").count() > 0
    assert "feature_importance" in nbdime.inner_text()
    screenshot(page, "compare-two-runs")
    view.locator(".jp-mlm-nbdime").scroll_into_view_if_needed()
    screenshot(page, "compare-notebook-diff")


def test_compare_three_runs_shows_table_and_charts(page: Any, lab_server: LabServer, filled: Store) -> None:
    panel = open_sidebar(page, lab_server)
    page.wait_for_function("() => document.querySelectorAll('.jp-mlm-row[data-run-id]').length >= 3", timeout=30_000)
    for row in panel.locator(".jp-mlm-row[data-run-id]").all()[:3]:
        checkbox = row.locator(".jp-mlm-select")
        if not checkbox.is_checked():
            checkbox.check()
    panel.locator(".jp-mlm-compare-button").click()
    view = page.locator(".jp-mlm-compare-widget").last
    view.locator(".jp-mlm-side-by-side").wait_for(timeout=30_000)
    assert view.locator(".jp-mlm-side-by-side thead th").count() >= 4
    assert view.locator(".jp-Notebook-diff").count() == 0
    screenshot(page, "compare-three-runs")


def test_table_refreshes_live_while_runs_are_running(page: Any, lab_server: LabServer, filled: Store) -> None:
    panel = open_sidebar(page, lab_server)
    panel.locator(".jp-mlm-filter").fill("name = 'live-run'")
    panel.locator(".jp-mlm-filter").press("Enter")
    page.wait_for_function("() => document.querySelectorAll('.jp-mlm-row[data-run-id]').length === 1")
    live = filled.resolve_run("live-run")
    filled.log_metric_batch(live.id, {"progress": ([1], [42.0], [0])})
    page.wait_for_function(
        "() => document.querySelector('.jp-mlm-row[data-run-id]').innerText.includes('42')", timeout=15_000
    )
    filled.end_run(live.id)
    page.wait_for_function(
        "() => document.querySelector('.jp-mlm-row[data-run-id]').innerText.includes('finished')", timeout=15_000
    )


def test_sidebar_follows_the_dark_theme(page: Any, lab_server: LabServer, filled: Store) -> None:
    panel = open_sidebar(page, lab_server)
    page.wait_for_function("() => document.querySelectorAll('.jp-mlm-row[data-run-id]').length >= 3", timeout=30_000)
    light, dark = compare_themes(page, panel, "runs-table-dark")
    assert light != dark


def test_ten_thousand_runs_scroll_virtualised(page: Any, lab_server: LabServer, filled: Store) -> None:
    from jupyter_mlm.store import tables as t

    exp = filled.get_or_create_experiment("bulk")
    now = int(time.time() * 1000)
    with filled._write() as conn:
        conn.execute(
            t.runs.insert(),
            [
                {"id": f"{i:032x}", "experiment_id": exp.id, "name": f"bulk-{i:05d}", "status": "finished",
                 "start_ms": now - i * 1000, "end_ms": now - i * 1000 + 500, "user": "", "host": "", "pid": 0}
                for i in range(10_000)
            ],
        )  # fmt: skip
    panel = open_sidebar(page, lab_server)
    panel.locator(".jp-mlm-experiment").select_option("bulk")
    page.wait_for_function("() => document.querySelector('.jp-mlm-count').innerText === '10,000 runs'", timeout=30_000)
    rendered = panel.locator(".jp-mlm-row").count()
    assert 0 < rendered < 100  # only what is in view (plus overscan) exists in the DOM
    started = time.monotonic()
    panel.locator(".jp-mlm-table").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-mlm-row')].some(r => r.innerText.startsWith('bulk-09999'))",
        timeout=30_000,
    )
    elapsed = time.monotonic() - started
    assert panel.locator(".jp-mlm-row").count() < 100
    screenshot(page, "runs-table-10000")
    print(f"scrolled to the last of 10,000 runs in {elapsed:.2f} s")
