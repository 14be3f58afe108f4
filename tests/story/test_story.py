"""The level 0 → 3 story as a newcomer walks it in JupyterLab: Run All in each demo notebook, in
order, then the sidebar's Runs, Compare, Registry and Monitor tabs. What each notebook leaves in
the store is checked as in the headless run (tests/kernel/test_binder_demos.py); what the
sidebar shows is checked against the store; the screenshots are the README's images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlm.store import open_store

from ..kernel.test_binder_demos import CHECKS
from ..ui.conftest import LabServer, open_sidebar, screenshot

BINDER = Path(__file__).resolve().parents[2] / "binder"
DEMOS = sorted(p.name for p in BINDER.glob("[0-9]-*.ipynb"))
RUN_ALL_MS = 240_000


def run_all(page: Any, lab: LabServer, name: str) -> list[dict[str, Any]]:
    """Open ``name``, Run All, wait for the last cell to finish; the cells' outputs as the
    notebook model holds them."""
    page.goto(lab.lab_url(f"lab/tree/{name}"))
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'",
        timeout=60_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    read = (
        "() => [...window.jupyterapp.shell.currentWidget.content.model.cells]"
        ".filter(c => c.type === 'code').map(c => c.toJSON())"
    )
    try:
        # Every code cell numbered and the kernel idle: the last one has finished.
        page.wait_for_function(
            "() => { const nb = window.jupyterapp.shell.currentWidget;"
            " const cells = [...nb.content.model.cells].filter(c => c.type === 'code');"
            " return cells.length > 0 && cells.every(c => c.executionCount)"
            " && nb.sessionContext.session.kernel.status === 'idle'; }",
            timeout=RUN_ALL_MS,
        )
    except Exception:
        screenshot(page, f"story-{name.removesuffix('.ipynb')}-unfinished")
        ran = [
            (c.get("execution_count"), c["source"][:60], json.dumps(c.get("outputs"))[-600:])
            for c in page.evaluate(read)
        ]
        raise AssertionError(f"{name} did not finish: {ran}") from None
    return list(page.evaluate(read))


@pytest.mark.timeout(1800)
def test_the_four_levels_in_jupyterlab(page: Any, story_lab: LabServer) -> None:
    page.set_default_timeout(60_000)
    # What `make lab` opens: JupyterLab with the level 0 notebook.
    page.goto(f"{story_lab.url}?token={story_lab.token}")
    page.wait_for_function(
        "() => window.jupyterapp?.shell.currentWidget?.context?.path === '0-experiment-tracking.ipynb'",
        timeout=60_000,
    )
    # A newcomer's first look at the sidebar: an empty store says how to log a first run.
    panel = open_sidebar(page, story_lab)
    empty = panel.locator(".jp-mlm-empty")
    empty.wait_for(timeout=30_000)
    assert "No runs yet" in empty.inner_text() and "%mlm_run start" in empty.inner_text()
    screenshot(page, "story-empty-store")

    for name in DEMOS:
        cells = run_all(page, story_lab, name)
        outputs = [o for c in cells for o in c.get("outputs", [])]
        errors = [o for o in outputs if o["output_type"] == "error"]
        assert errors == [], (name, json.dumps(errors)[:2000])
        streams = "".join("".join(o["text"]) for o in outputs if o["output_type"] == "stream")
        assert "Traceback" not in streams, (name, streams[-2000:])
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        screenshot(page, f"story-{name.removesuffix('.ipynb')}")
        store = open_store(str(story_lab.store))
        try:
            CHECKS[name[0]](store, story_lab.root)
        finally:
            store.close()

    store = open_store(str(story_lab.store))
    try:
        sweep, _ = store.search_runs("level0-sweep", None, "metrics.auc DESC", None)
        versions = store.list_versions("cancer-service")
    finally:
        store.close()

    # Runs: the sweep, compared.
    panel = open_sidebar(page, story_lab)
    panel.locator("select.jp-mlm-experiment").select_option("level0-sweep")
    page.wait_for_function(
        "() => document.querySelectorAll('#jupyter-mlm-sidebar .jp-mlm-row[data-run-id]').length === 6",
        timeout=30_000,
    )
    shown = {r.get_attribute("data-run-id") for r in panel.locator(".jp-mlm-row[data-run-id]").all()}
    assert shown == {r.info.id for r in sweep}
    # No run of the sweep has children: names are not indented for a disclosure none of them has.
    assert panel.locator(".jp-mlm-row[data-run-id] .jp-mlm-tree-name").count() == 0
    screenshot(page, "story-runs")
    best, runner_up = sweep[0], sweep[1]
    for run in (best, runner_up):
        panel.locator(f".jp-mlm-row[data-run-id='{run.info.id}'] .jp-mlm-select").check()
    panel.locator(".jp-mlm-compare-button").click()
    view = page.locator(".jp-mlm-compare-widget")
    view.locator(".jp-mlm-metric-diff").wait_for(timeout=30_000)
    assert f"Compare {best.info.name} · {runner_up.info.name}" in view.inner_text()
    # Charts for what moved over steps; the one-value auc is read in the table.
    charts = view.locator(".jp-mlm-chart")
    charts.first.wait_for(timeout=30_000)
    assert [c.get_attribute("data-metric") for c in charts.all()] == ["test_loss"]
    screenshot(page, "story-compare")

    # Registry: the served model's page, its versions as stored and the loop's timeline.
    panel = open_sidebar(page, story_lab)
    panel.get_by_role("tab", name="Registry").click()
    panel.locator(".jp-mlm-model-row[data-model='cancer-service']").click()
    model_page = page.locator(".jp-mlm-model-page[data-model='cancer-service']")
    model_page.locator(".jp-mlm-loop .jp-mlm-timeline").wait_for(timeout=30_000)
    text = model_page.inner_text()
    for record in versions:
        assert f"v{record.version}" in text
    screenshot(page, "story-registry")

    # Monitor: the loop's story — alert, job, comparison, promotion, rollback.
    panel = open_sidebar(page, story_lab)
    panel.get_by_role("tab", name="Monitor").click()
    row = panel.locator(".jp-mlm-monitor-row[data-model='cancer-service']")
    row.wait_for(timeout=30_000)
    assert row.locator(".jp-mlm-monitor-badge").get_attribute("data-status") == "alert"
    row.click()
    monitor = page.locator(".jp-mlm-monitor-page[data-model='cancer-service']")
    monitor.locator(".jp-mlm-timeline").wait_for(timeout=30_000)
    steps = monitor.locator(".jp-mlm-timeline").inner_text()
    for step in ("alert", "promot", "roll"):
        assert step in steps.lower(), steps
    screenshot(page, "story-monitor")
