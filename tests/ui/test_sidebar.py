"""The "Model management" sidebar in a real JupyterLab, in a real browser, on a store filled by
a real notebook run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlm.store import Store, open_store

from .conftest import LabServer, screenshot

SIDEBAR = "jupyter-mlm-sidebar"

TRAINING = [
    "%load_ext jupyter_mlm",
    "import math\nimport jupyter_mlm as mlm",
    "%mlm_run start baseline --experiment churn --tag owner=ana",
    "lr, depth = 0.05, 6\n%mlm_log param lr depth model='xgb'",
    "for step in range(200):\n"
    "    mlm.log_metrics({'loss': math.exp(-step / 40) + 0.05 * math.sin(step),\n"
    "                     'auc': 0.6 + 0.25 * (1 - math.exp(-step / 50))})",
    "with open('report.txt', 'w') as f:\n    f.write('baseline report')\n%mlm_log artifact report.txt",
    "%mlm_run end",
    "%mlm_run start deeper-trees --experiment churn --tag owner=bo",
    "lr, depth = 0.05, 12\n%mlm_log param lr depth model='xgb'",
    "for step in range(200):\n"
    "    mlm.log_metrics({'loss': math.exp(-step / 30), 'auc': 0.6 + 0.3 * (1 - math.exp(-step / 40))})",
    "%mlm_run end",
]  # fmt: skip


@pytest.fixture(scope="package")
def filled(lab_server: LabServer, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """Two runs logged by a real notebook in a real kernel, plus one still running."""
    import os

    work = tmp_path_factory.mktemp("notebook")
    nb = new_notebook(cells=[new_code_cell(source) for source in TRAINING])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    old = os.environ.get("MLM_STORE_URI")
    os.environ["MLM_STORE_URI"] = str(lab_server.store)
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    finally:
        if old is None:
            os.environ.pop("MLM_STORE_URI", None)
        else:
            os.environ["MLM_STORE_URI"] = old
    nbformat.write(nb, work / "training.ipynb")
    store = open_store(str(lab_server.store))
    exp = store.get_or_create_experiment("live")
    live = store.create_run(exp.id, "live-run")
    store.log_metric_batch(live.id, {"progress": ([0], [1.0], [0])})
    return store


def open_sidebar(page: Any, lab: LabServer) -> Any:
    page.goto(lab.lab_url())
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    tab = page.locator(f'li[data-id="{SIDEBAR}"]')
    tab.wait_for()
    # The workspace may restore the panel already open; a click would then close it.
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    panel = page.locator(f"#{SIDEBAR}")
    panel.wait_for(state="visible")
    return panel


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
    panel.locator(".jp-mlm-row", has_text="baseline").click()
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
    light = panel.evaluate("el => getComputedStyle(el).backgroundColor")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    page.wait_for_timeout(500)
    dark = panel.evaluate("el => getComputedStyle(el).backgroundColor")
    screenshot(page, "runs-table-dark")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'", timeout=30_000)
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
    page.wait_for_function("() => document.querySelector('.jp-mlm-count').innerText === '10000 runs'", timeout=30_000)
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
