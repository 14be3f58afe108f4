"""The runs table's grouping, nesting, column widths and saved views (issue 16, Table): what
the screen offers is what the store holds, in the light and the dark theme."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_mlm.store import Store, open_store

from .conftest import SIDEBAR, LabServer, assert_readable, open_sidebar, screenshot

EXPERIMENT = "table-views"


@pytest.fixture(scope="module")
def runs(lab_server: LabServer) -> Iterator[Store]:
    """A 2 × 3 sweep with a team tag on some runs, and a parent with three trials, one of which
    has a fold of its own."""
    store = open_store(str(lab_server.store))
    exp = store.get_or_create_experiment(EXPERIMENT)
    for index, (model, lr) in enumerate((m, lr) for m in ("xgb", "lgbm") for lr in ("0.1", "0.01", "0.001")):
        run = store.create_run(exp.id, f"{model}-{lr}")
        store.log_params(run.id, {"model": model, "lr": lr})
        store.log_metric_batch(run.id, {"auc": ([0], [0.7 + index / 50], [0])})
        if index % 2:
            store.set_tags(run.id, {"team": "red"})
        store.end_run(run.id)
    parent = store.create_run(exp.id, "cv-sweep")
    for fold in range(3):
        trial = store.create_run(exp.id, f"cv-trial-{fold}", parent_id=parent.id)
        store.log_metric_batch(trial.id, {"auc": ([0], [0.8 + fold / 100], [0])})
        if fold == 0:
            inner = store.create_run(exp.id, "cv-inner", parent_id=trial.id)
            store.end_run(inner.id)
        store.end_run(trial.id)
    store.end_run(parent.id)
    yield store
    store.close()


def _run_rows(scope: Any) -> list[tuple[str, int]]:
    """(run id, depth) of every run line in view, top to bottom."""
    return [
        (row.get_attribute("data-run-id"), int(row.get_attribute("data-depth") or 0))
        for row in sorted(scope.locator(".jp-mlm-row[data-run-id]").all(), key=lambda r: r.bounding_box()["y"])
    ]


def _wait_rows(page: Any, scope_selector: str, count: int) -> None:
    page.wait_for_function(
        f"() => document.querySelectorAll('{scope_selector} .jp-mlm-row[data-run-id]').length === {count}",
        timeout=30_000,
    )


def _show_experiment(panel: Any, page: Any) -> None:
    panel.locator(".jp-mlm-filter").fill("")
    panel.locator(".jp-mlm-filter").press("Enter")
    panel.locator(".jp-mlm-experiment").select_option(EXPERIMENT)


def test_nested_runs_open_as_a_tree_of_what_the_store_nests(page: Any, lab_server: LabServer, runs: Store) -> None:
    panel = open_sidebar(page, lab_server)
    _show_experiment(panel, page)
    roots, total = runs.search_runs([EXPERIMENT], roots=True)
    _wait_rows(page, f"#{SIDEBAR}", total)  # 6 sweep runs and the parent; its 4 descendants hidden
    assert total == 7 and panel.locator(".jp-mlm-count").inner_text() == "7 top-level runs"
    parent = next(r.info for r in roots if r.info.name == "cv-sweep")
    parent_row = panel.locator(f".jp-mlm-row[data-run-id='{parent.id}']")
    assert parent_row.locator(".jp-mlm-child-count").inner_text().strip() == "(3)"
    parent_row.locator(".jp-mlm-disclosure").click()
    _wait_rows(page, f"#{SIDEBAR}", 10)
    trials, _ = runs.search_runs([EXPERIMENT], f"parent_id = '{parent.id}'")  # newest first, as the table
    shown = _run_rows(panel)
    at = shown.index((parent.id, 0))
    assert shown[at + 1 : at + 4] == [(t.info.id, 1) for t in trials]
    first_trial = next(t.info for t in trials if t.info.name == "cv-trial-0")
    trial_row = panel.locator(f".jp-mlm-row[data-run-id='{first_trial.id}']")
    assert trial_row.locator(".jp-mlm-child-count").inner_text().strip() == "(1)"
    trial_row.locator(".jp-mlm-disclosure").click()
    _wait_rows(page, f"#{SIDEBAR}", 11)
    inner = runs.search_runs([EXPERIMENT], f"parent_id = '{first_trial.id}'")[0][0].info
    shown = _run_rows(panel)
    assert shown[shown.index((first_trial.id, 1)) + 1] == (inner.id, 2)
    indents = [panel.locator(f".jp-mlm-row[data-run-id='{i}'] .jp-mlm-tree-name").evaluate(
        "el => parseFloat(getComputedStyle(el).paddingLeft)") for i in (parent.id, first_trial.id, inner.id)]  # fmt: skip
    assert indents[0] < indents[1] < indents[2]
    assert_readable(page, f"#{SIDEBAR} .jp-mlm-row .jp-mlm-cell", "runs-tree", at_least=20)
    # Opening a nested run opens that run.
    panel.locator(f".jp-mlm-row[data-run-id='{inner.id}']").get_by_text("cv-inner", exact=True).click()
    page.locator(".jp-mlm-detail h2", has_text="cv-inner").wait_for(timeout=30_000)
    # Nesting off: every run is a line of its own.
    panel.locator(".jp-mlm-tree-toggle input").uncheck()
    _wait_rows(page, f"#{SIDEBAR}", 11)
    assert panel.locator(".jp-mlm-count").inner_text() == "11 runs"
    assert {d for _, d in _run_rows(panel)} == {0}
    panel.locator(".jp-mlm-tree-toggle input").check()
    _wait_rows(page, f"#{SIDEBAR}", 7)


def test_grouped_by_a_param_with_the_means_the_store_computes(page: Any, lab_server: LabServer, runs: Store) -> None:
    panel = open_sidebar(page, lab_server)
    _show_experiment(panel, page)
    _wait_rows(page, f"#{SIDEBAR}", 7)
    panel.locator("button", has_text="Expand").click()
    table = page.locator(".jp-mlm-runs-widget")
    table.locator(".jp-mlm-group-by").select_option("params.lr")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-mlm-runs-widget .jp-mlm-group-row').length === 4", timeout=30_000
    )
    expected, _ = runs.group_runs("params.lr", [EXPERIMENT])
    groups = table.locator(".jp-mlm-group-row")
    assert [g.get_attribute("data-group") for g in groups.all()] == [g.value or "" for g in expected]
    assert [g.locator(".jp-mlm-group-count").inner_text() for g in groups.all()] == [f"{g.runs} runs" for g in expected]
    auc_column = [h.inner_text().rstrip(" ▲▼") for h in table.locator(".jp-mlm-head").all()].index("auc")
    for row, group in zip(groups.all(), expected, strict=True):
        cell = row.locator(".jp-mlm-cell").nth(auc_column)
        mean = group.metrics["auc"].mean
        assert float(cell.inner_text().removesuffix(" μ")) == pytest.approx(mean, rel=1e-3)
        assert f"mean of {group.metrics['auc'].count} run" in cell.locator(".jp-mlm-group-mean").get_attribute("title")
    # The sidebar shares the grouping.
    page.wait_for_function(f"() => document.querySelectorAll('#{SIDEBAR} .jp-mlm-group-row').length === 4")
    assert "4 groups" in table.locator(".jp-mlm-count").inner_text()
    groups.nth(1).locator(".jp-mlm-disclosure").click()  # lr = 0.01
    _wait_rows(page, ".jp-mlm-runs-widget", 2)
    members = {r.info.id for r in runs.search_runs([EXPERIMENT], "params.lr = '0.01'")[0]}
    assert {run_id for run_id, _ in _run_rows(table)} == members
    assert_readable(page, ".jp-mlm-runs-widget .jp-mlm-row .jp-mlm-cell", "runs-grouped", at_least=20)
    table.locator(".jp-mlm-group-by").select_option("tags.team")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-mlm-runs-widget .jp-mlm-group-row').length === 2", timeout=30_000
    )
    assert table.locator(".jp-mlm-group-row .jp-mlm-group-value").all_inner_texts() == ["red", "(none)"]
    table.locator(".jp-mlm-group-by").select_option("")
    _wait_rows(page, ".jp-mlm-runs-widget", 7)


def test_column_widths_and_saved_views_are_kept(page: Any, lab_server: LabServer, runs: Store) -> None:
    panel = open_sidebar(page, lab_server)
    _show_experiment(panel, page)
    _wait_rows(page, f"#{SIDEBAR}", 7)
    head = panel.locator(".jp-mlm-head", has_text="Name")
    before = head.bounding_box()["width"]
    handle = head.locator(".jp-mlm-resize").bounding_box()
    page.mouse.move(handle["x"] + 3, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(handle["x"] + 43, handle["y"] + handle["height"] / 2, steps=5)
    page.mouse.move(handle["x"] + 83, handle["y"] + handle["height"] / 2, steps=5)
    page.mouse.up()
    assert head.bounding_box()["width"] == pytest.approx(before + 80, abs=2)
    cell = panel.locator(".jp-mlm-row[data-run-id] .jp-mlm-cell").nth(1)
    assert cell.bounding_box()["width"] == pytest.approx(before + 80, abs=2)  # the rows follow the header
    assert "sorted by Start" in panel.locator(".jp-mlm-query-summary").inner_text()  # the drag sorted nothing
    # A saved view: filter, grouping, sort.
    panel.locator(".jp-mlm-filter").fill("metrics.auc > 0.72")
    panel.locator(".jp-mlm-filter").press("Enter")
    panel.locator(".jp-mlm-group-by").select_option("params.model")
    page.wait_for_function(f"() => document.querySelectorAll('#{SIDEBAR} .jp-mlm-group-row').length === 3")
    panel.locator(".jp-mlm-save-view").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input").fill("good models")
    dialog.locator(".jp-mod-accept").click()
    page.wait_for_function(f"() => document.querySelector('#{SIDEBAR} .jp-mlm-views').value === 'good models'")
    with page.expect_request(lambda r: "/lab/api/workspaces" in r.url and r.method == "PUT", timeout=30_000):
        pass
    panel = open_sidebar(page, lab_server, reset=False)  # a reload keeps widths and views
    panel.locator(".jp-mlm-head", has_text="Name").wait_for()
    page.wait_for_function(
        f"() => [...document.querySelectorAll('#{SIDEBAR} .jp-mlm-views option')].some(o => o.value === 'good models')",
        timeout=30_000,
    )
    assert panel.locator(".jp-mlm-head", has_text="Name").bounding_box()["width"] == pytest.approx(before + 80, abs=2)
    panel.locator(".jp-mlm-views").select_option("good models")
    page.wait_for_function(f"() => document.querySelectorAll('#{SIDEBAR} .jp-mlm-group-row').length > 0")
    assert panel.locator(".jp-mlm-filter").input_value() == "metrics.auc > 0.72"
    assert panel.locator(".jp-mlm-group-by").input_value() == "params.model"
    assert panel.locator(".jp-mlm-experiment").input_value() == EXPERIMENT
    expected, _ = runs.group_runs("params.model", [EXPERIMENT], "metrics.auc > 0.72")
    page.wait_for_function(
        f"() => document.querySelectorAll('#{SIDEBAR} .jp-mlm-group-row').length === {len(expected)}"
    )
    assert [g.get_attribute("data-group") for g in panel.locator(".jp-mlm-group-row").all()] == [
        g.value or "" for g in expected
    ]
    screenshot(page, "runs-saved-view")
    # Changing the query leaves the view; deleting it forgets it.
    panel.locator(".jp-mlm-group-by").select_option("")
    assert panel.locator(".jp-mlm-views").input_value() == ""
    panel.locator(".jp-mlm-views").select_option("good models")
    panel.locator(".jp-mlm-delete-view").click()
    assert panel.locator(".jp-mlm-views option").all_inner_texts() == ["No saved views"]
    # Double-click: the default width again.
    panel.locator(".jp-mlm-head", has_text="Name").locator(".jp-mlm-resize").dblclick()
    assert panel.locator(".jp-mlm-head", has_text="Name").bounding_box()["width"] == pytest.approx(before, abs=2)
    panel.locator(".jp-mlm-group-by").select_option("")
