"""The runs UI as a user who knows MLflow's and W&B's reaches for it (issue 16, "Found"): runs
without a snapshot, long params, one query shared by the sidebar and the expanded table, columns
from the whole result and kept per experiment, same-named and nested runs, readable highlights
in the light and the dark theme."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_mlm.store import Store, open_store

from .conftest import SIDEBAR, LabServer, assert_readable, open_sidebar, screenshot

LONG_VALUE = "a sentence about the features, " * 13  # 403 characters


@pytest.fixture(scope="module")
def runs(lab_server: LabServer) -> Iterator[Store]:
    """Runs written by a script (no kernel, no snapshot): what capture-off runs look like."""
    store = open_store(str(lab_server.store))
    house = store.get_or_create_experiment("housekeeping")
    wide = store.create_run(house.id, "wide-params")
    store.log_params(wide.id, {f"p{i:03d}": i for i in range(150)} | {"notes": LONG_VALUE})
    store.set_tags(wide.id, {"owner": "ana"})
    store.log_metric_batch(wide.id, {"auc": ([0], [0.91], [0])})
    store.end_run(wide.id)
    for depth in (4, 8):
        twin = store.create_run(house.id, "twin")
        store.log_params(twin.id, {"depth": depth, "lr": 0.1})
        store.log_metric_batch(twin.id, {"auc": ([0], [0.8 + depth / 100], [0])})
        store.end_run(twin.id)
    parent = store.create_run(house.id, "sweep")
    child = store.create_run(house.id, "sweep-trial-1", parent_id=parent.id)
    store.end_run(child.id)
    store.end_run(parent.id)
    tidy = store.create_run(house.id, "tidy-me")
    store.set_tags(tidy.id, {"owner": "ana"})
    store.log_metric_batch(tidy.id, {"auc": ([0], [0.7], [0])})
    store.end_run(tidy.id)
    # 600 runs: the newest 200 (the first page) have params a and b, the older 400 have c, d, e.
    cols = store.get_or_create_experiment("columns")
    for i in range(600):
        run = store.create_run(cols.id, f"col-{i:03d}")
        store.log_params(run.id, {"a": i, "b": i} if i >= 400 else {"c": i, "d": i, "e": i})
        store.end_run(run.id)
    yield store
    store.close()


def filter_runs(panel: Any, page: Any, text: str, count: int) -> None:
    box = panel.locator(".jp-mlm-filter")
    box.fill(text)
    box.press("Enter")
    page.wait_for_function(
        f"() => document.querySelectorAll('#{SIDEBAR} .jp-mlm-row[data-run-id]').length === {count}", timeout=30_000
    )


def open_run(panel: Any, page: Any, name: str) -> Any:
    filter_runs(panel, page, f"name = '{name}'", 1)
    panel.locator(".jp-mlm-row", has_text=name).get_by_text(name, exact=True).click()
    detail = page.locator(".jp-mlm-detail").last
    detail.locator(".jp-mlm-metrics-table").wait_for(timeout=30_000)
    return detail


def test_a_run_without_a_snapshot_says_so_and_asks_for_nothing(page: Any, lab_server: LabServer, runs: Store) -> None:
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 and "/mlm/api/" in r.url else None)
    panel = open_sidebar(page, lab_server)
    detail = open_run(panel, page, "sweep")
    detail.locator(".jp-mlm-tab", has_text="Notebook").click()
    notice = detail.locator(".jp-mlm-no-snapshot")
    notice.wait_for(timeout=10_000)
    assert "no snapshot" in notice.inner_text() and "Loading" not in detail.inner_text()
    assert detail.locator(".jp-mlm-restore").is_disabled()
    for tab in ("Environment", "Data (0)", "Sources (0)"):
        detail.locator(".jp-mlm-tab", has_text=tab).click()
        assert "no snapshot" in detail.locator(".jp-mlm-no-snapshot").inner_text()
        assert "Loading" not in detail.inner_text()
    page.wait_for_timeout(500)
    assert missing == []  # nothing asked for that does not exist: no 404s in the console
    screenshot(page, "run-without-snapshot")


def test_long_params_wrap_collapse_and_search(page: Any, lab_server: LabServer, runs: Store) -> None:
    panel = open_sidebar(page, lab_server)
    detail = open_run(panel, page, "wide-params")
    params = detail.locator(".jp-mlm-keyvalues[data-title='params']")
    assert params.locator("tbody tr").count() == 12
    more = params.locator(".jp-mlm-kv-more")
    assert more.inner_text() == "Show all 151 (139 more)"
    clamped = params.locator("code.jp-mlm-clamped")
    assert clamped.count() == 1 and clamped.bounding_box()["height"] < 60  # the long value's first lines
    # Tags and Metrics stay on screen beside 151 params and a 403-character value.
    tags = detail.locator(".jp-mlm-keyvalues[data-title='tags']")
    assert tags.bounding_box()["y"] < 900 and "owner" in tags.inner_text()
    assert detail.locator(".jp-mlm-metrics-table").bounding_box()["y"] < 900
    page.wait_for_function(
        "() => { const d = document.querySelector('.jp-mlm-detail'); return d.scrollWidth <= d.clientWidth + 1; }"
    )
    screenshot(page, "run-long-params")
    search = params.locator(".jp-mlm-kv-search")
    clamped.click()
    assert params.locator("code.jp-mlm-clamped").count() == 0
    search.fill("notes")
    assert params.locator("tbody tr").count() == 1
    value = params.locator("tbody tr td code")
    assert value.inner_text() == LONG_VALUE.rstrip(" ") or value.inner_text().strip() == LONG_VALUE.strip()
    box = value.bounding_box()
    assert box["height"] > 30 and box["width"] < 1400  # wrapped onto several lines
    screenshot(page, "run-long-params-search")
    search.fill("p14")
    assert params.locator("tbody tr").count() == 10  # p140 … p149
    search.fill("")
    more.click()
    assert params.locator("tbody tr").count() == 151


def test_the_sidebar_and_the_expanded_table_share_filter_and_sort(
    page: Any, lab_server: LabServer, runs: Store
) -> None:
    panel = open_sidebar(page, lab_server)
    panel.locator("button", has_text="Expand").click()
    table = page.locator(".jp-mlm-runs-widget")
    table.wait_for(timeout=30_000)
    box = table.locator(".jp-mlm-filter")
    box.fill("name = 'twin'")
    box.press("Enter")
    page.wait_for_function(
        f"() => document.querySelectorAll('#{SIDEBAR} .jp-mlm-row[data-run-id]').length === 2", timeout=30_000
    )
    assert panel.locator(".jp-mlm-filter").input_value() == "name = 'twin'"
    assert "filtered" in panel.locator(".jp-mlm-query-summary").inner_text()
    assert "sorted by Start ▼" in panel.locator(".jp-mlm-query-summary").inner_text()
    table.locator(".jp-mlm-head", has_text="Duration").click()
    page.wait_for_function(
        f"() => document.querySelector('#{SIDEBAR} .jp-mlm-query-summary').innerText.includes('sorted by Duration ▲')",
        timeout=10_000,
    )
    screenshot(page, "runs-shared-query")
    panel.locator(".jp-mlm-clear-filter").click()
    page.wait_for_function(f"() => document.querySelector('#{SIDEBAR} .jp-mlm-filter').value === ''", timeout=10_000)
    assert table.locator(".jp-mlm-filter").input_value() == ""


def _headers(panel: Any) -> list[str]:
    return [h.inner_text().rstrip(" ▲▼") for h in panel.locator(".jp-mlm-head").all()]


def test_columns_come_from_the_whole_result_and_are_kept_per_experiment(
    page: Any, lab_server: LabServer, runs: Store
) -> None:
    panel = open_sidebar(page, lab_server)
    panel.locator(".jp-mlm-filter").fill("")
    panel.locator(".jp-mlm-filter").press("Enter")
    panel.locator(".jp-mlm-experiment").select_option("columns")
    page.wait_for_function(
        f"() => document.querySelector('#{SIDEBAR} .jp-mlm-count').innerText === '600 runs'", timeout=30_000
    )
    page.wait_for_function(
        f"() => [...document.querySelectorAll('#{SIDEBAR} .jp-mlm-head')].some(h => h.innerText === 'c')"
    )
    before = _headers(panel)
    assert before[-3:] == ["c", "d", "e"]  # in 400 of the 600 runs, though none of the first page
    table = panel.locator(".jp-mlm-table")
    table.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    page.wait_for_function(
        f"() => [...document.querySelectorAll('#{SIDEBAR} .jp-mlm-row')].some(r => r.innerText.includes('col-000'))",
        timeout=30_000,
    )
    assert _headers(panel) == before  # scrolling swaps no columns
    panel.locator("button", has_text="Columns").click()
    panel.locator(".jp-mlm-chooser label", has_text="a").locator("input").check()
    panel.locator(".jp-mlm-chooser label", has_text="d").locator("input").uncheck()
    chosen = _headers(panel)
    assert "a" in chosen and "d" not in chosen
    # JupyterLab's state database reaches the server's workspace a moment after the change.
    with page.expect_request(lambda r: "/lab/api/workspaces" in r.url and r.method == "PUT", timeout=30_000):
        pass
    panel = open_sidebar(page, lab_server, reset=False)  # a reload that keeps the workspace
    panel.locator(".jp-mlm-experiment").select_option("columns")
    page.wait_for_function(
        f"() => document.querySelector('#{SIDEBAR} .jp-mlm-count').innerText === '600 runs'", timeout=30_000
    )
    page.wait_for_function(
        f"() => [...document.querySelectorAll('#{SIDEBAR} .jp-mlm-head')].some(h => h.innerText === 'a')"
    )
    assert _headers(panel) == chosen  # kept across a reload
    panel.locator(".jp-mlm-experiment").select_option("housekeeping")
    page.wait_for_function(
        f"() => [...document.querySelectorAll('#{SIDEBAR} .jp-mlm-head')].some(h => h.innerText === 'depth')",
        timeout=30_000,
    )
    assert "a" not in _headers(panel)  # one choice per experiment
    screenshot(page, "runs-columns")


def test_same_names_nested_runs_and_start_times_read_whole(page: Any, lab_server: LabServer, runs: Store) -> None:
    panel = open_sidebar(page, lab_server)
    panel.locator(".jp-mlm-experiment").select_option("housekeeping")
    filter_runs(panel, page, "name = 'twin'", 2)
    ids = [r.locator(".jp-mlm-run-id").inner_text() for r in panel.locator(".jp-mlm-row[data-run-id]").all()]
    expected = {r.info.id[:8] for r in runs.search_runs(["housekeeping"], "name = 'twin'")[0]}
    assert set(ids) == expected
    start = panel.locator(".jp-mlm-row[data-run-id] .jp-mlm-cell").nth(4)
    assert start.evaluate("el => el.scrollWidth <= el.clientWidth")  # not cut to "17:4…"
    assert start.locator("span").get_attribute("title").startswith(time.strftime("%Y-"))
    detail = open_run(panel, page, "sweep-trial-1")
    link = detail.locator(".jp-mlm-parent-link")
    assert link.inner_text() == "sweep"
    link.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-mlm-detail h2')].some(h => h.innerText.startsWith('sweep '))",
        timeout=30_000,
    )
    screenshot(page, "run-parent")


def test_highlights_and_badges_are_readable_in_light_and_dark(page: Any, lab_server: LabServer, runs: Store) -> None:
    panel = open_sidebar(page, lab_server)
    panel.locator(".jp-mlm-experiment").select_option("housekeeping")
    filter_runs(panel, page, "name = 'twin'", 2)
    for row in panel.locator(".jp-mlm-row[data-run-id]").all():
        row.locator(".jp-mlm-select").check()
    panel.locator(".jp-mlm-compare-button").click()
    view = page.locator(".jp-mlm-compare-widget").last
    view.locator(".jp-mlm-diff-changed").first.wait_for(timeout=30_000)
    selectors = ", ".join([
        ".jp-mlm-compare-widget .jp-mlm-diff-changed th", ".jp-mlm-compare-widget .jp-mlm-diff-changed td",
        f"#{SIDEBAR} .jp-mlm-badge", f"#{SIDEBAR} .jp-mlm-query-summary", f"#{SIDEBAR} .jp-mlm-row .jp-mlm-cell",
    ])  # fmt: skip
    measured = assert_readable(page, selectors, "compare-highlights", at_least=10)
    assert [m for m in measured if m["text"].startswith("params.depth")], "the changed param's row was measured"


def test_the_model_page_speaks_of_the_serving_version_readably(page: Any, lab_server: LabServer, runs: Store) -> None:
    from sklearn.dummy import DummyClassifier

    from jupyter_mlm.registry import register

    model = DummyClassifier().fit([[0], [1]], [0, 1])
    register(runs, model, "ui-model", run_id=None, actor="ana", description="the first try")
    register(runs, model, "ui-model", run_id=None, actor="ana", description="deeper trees")
    open_sidebar(page, lab_server)
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-mlm:open-model', {name: 'ui-model'})")
    view = page.locator(".jp-mlm-model-page[data-model='ui-model']")
    header = view.locator(".jp-mlm-current-version")
    header.wait_for(timeout=30_000)
    assert header.inner_text().startswith("v2 (") and "deeper trees" in header.inner_text()
    assert "first try" not in view.locator(".jp-mlm-model-header").inner_text()
    registered = view.locator(".jp-mlm-versions tr[data-version='2'] .jp-mlm-registered")
    assert registered.inner_text().endswith("by ana, " + registered.inner_text().split(", ")[-1])
    assert registered.get_attribute("title").startswith(time.strftime("%Y-"))
    selectors = ".jp-mlm-model-page .jp-mlm-stage, .jp-mlm-model-page td, .jp-mlm-model-page th, .jp-mlm-model-header"
    assert_readable(page, selectors, "model-page")


def test_housekeeping_from_the_run_page_is_what_the_store_keeps(page: Any, lab_server: LabServer, runs: Store) -> None:
    panel = open_sidebar(page, lab_server)
    detail = open_run(panel, page, "tidy-me")
    run_id = runs.resolve_run("tidy-me").id
    detail.locator(".jp-mlm-rename").click()
    detail.locator(".jp-mlm-rename-input").fill("tidied")
    detail.locator(".jp-mlm-rename-input").press("Enter")
    page.wait_for_function("() => document.querySelector('.jp-mlm-detail h2').innerText.startsWith('tidied')")
    assert runs.get_run(run_id).info.name == "tidied"
    # The run's tab says the new name too.
    tab = page.locator(f".lm-DockPanel-tabBar .lm-TabBar-tab[data-id='jupyter-mlm-run-{run_id}']")
    tab.locator(".lm-TabBar-tabLabel", has_text="Run: tidied").wait_for(timeout=10_000)

    detail.locator(".jp-mlm-add-tag-input").fill("reviewer=bo")
    detail.locator(".jp-mlm-add-tag-button").click()
    detail.locator(".jp-mlm-keyvalues[data-title='tags']", has_text="reviewer").wait_for()
    detail.locator(".jp-mlm-remove-tag[aria-label='Remove owner']").click()
    page.wait_for_function(
        "() => !document.querySelector(\".jp-mlm-keyvalues[data-title='tags']\").innerText.includes('owner')"
    )
    assert runs.get_run(run_id).tags == {"reviewer": "bo"}

    note = "# Finding\n\n**AUC** rose after the *leak* was fixed."
    detail.locator(".jp-mlm-note-edit").click()
    detail.locator(".jp-mlm-note-text").fill(note)
    detail.locator(".jp-mlm-note-save").click()
    view = detail.locator(".jp-mlm-note-view")
    view.locator("h1").wait_for(timeout=10_000)
    assert view.locator("h1").inner_text().startswith("Finding") and view.locator("strong").inner_text() == "AUC"
    assert runs.get_run(run_id).info.note == note
    screenshot(page, "run-housekeeping")

    detail.locator(".jp-mlm-delete").click()
    detail.locator(".jp-mlm-delete-confirm").click()
    detail.locator(".jp-mlm-deleted-banner").wait_for(timeout=10_000)
    assert runs.get_run(run_id).info.deleted_ms is not None
    filter_runs(panel, page, "name = 'tidied'", 0)
    screenshot(page, "run-deleted")
    panel.locator(".jp-mlm-show-deleted input").check()
    page.wait_for_function(
        f"() => document.querySelectorAll('#{SIDEBAR} .jp-mlm-row[data-run-id]').length === 1", timeout=10_000
    )
    detail.locator(".jp-mlm-restore-run").click()
    detail.locator(".jp-mlm-deleted-banner").wait_for(state="detached", timeout=10_000)
    assert runs.get_run(run_id).info.deleted_ms is None
    page.wait_for_function(
        f"() => document.querySelectorAll('#{SIDEBAR} .jp-mlm-row[data-run-id]').length === 0", timeout=10_000
    )  # restored: no longer among the deleted ones
    panel.locator(".jp-mlm-show-deleted input").uncheck()
    page.wait_for_function(
        f"() => document.querySelectorAll('#{SIDEBAR} .jp-mlm-row[data-run-id]').length === 1", timeout=10_000
    )


def test_found_from_the_palette_the_menus_and_the_launcher(page: Any, lab_server: LabServer, runs: Store) -> None:
    open_sidebar(page, lab_server)
    page.locator("#jp-main-dock-panel").click()  # the sidebar closed below: it opens again from the menu
    page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); }")
    page.locator(".lm-MenuBar-itemLabel", has_text="View").click()
    page.locator(".lm-Menu-itemLabel", has_text="Model Management Sidebar").click()
    page.locator(f"#{SIDEBAR}").wait_for(state="visible", timeout=10_000)

    page.keyboard.press("Control+Shift+c")
    palette = page.locator("#command-palette")
    palette.locator("input").fill("Model Management")
    for label in ("Model Management Sidebar", "Runs Table", "Refresh Model Management", "Model Management Guide"):
        assert palette.locator(".lm-CommandPalette-itemLabel", has_text=label).count() >= 1, label
    page.keyboard.press("Escape")

    page.locator(".lm-MenuBar-itemLabel", has_text="Help").click()
    page.locator(".lm-Menu-itemLabel", has_text="Model Management Guide").click()
    guide = page.locator(".jp-mlm-help")
    guide.locator("h1").first.wait_for(timeout=30_000)
    assert "jupyter_mlm" in guide.locator("h1").first.inner_text()
    assert "Filter language" in guide.inner_text() and "%mlm_run" in guide.inner_text()
    screenshot(page, "help-guide")

    page.evaluate("() => { void window.jupyterapp.commands.execute('launcher:create'); }")
    # The launcher just made is the visible one (the lab may have another in a hidden tab).
    card = page.locator(".jp-LauncherCard:visible", has_text="Runs Table").first
    card.wait_for(timeout=30_000)
    screenshot(page, "launcher-card")
    card.click()
    page.locator(".jp-mlm-runs-widget").wait_for(timeout=30_000)


def test_csv_export_min_max_and_the_load_snippet(page: Any, lab_server: LabServer, runs: Store) -> None:
    import csv
    import io
    from pathlib import Path

    run = runs.create_run(runs.get_or_create_experiment("housekeeping").id, "curve")
    runs.log_metric_batch(run.id, {"loss": (list(range(5)), [0.9, 0.4, 0.2, 0.3, 0.25], [0] * 5)})
    runs.end_run(run.id)
    panel = open_sidebar(page, lab_server)
    panel.locator(".jp-mlm-experiment").select_option("housekeeping")
    filter_runs(panel, page, "name like 'tw%' or name = 'curve'", 3)
    with page.expect_download() as download:
        panel.locator(".jp-mlm-export-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert sorted(r["name"] for r in rows) == ["curve", "twin", "twin"]
    assert sorted(r["params.depth"] for r in rows) == ["", "4", "8"]

    detail = open_run(panel, page, "curve")
    row = detail.locator(".jp-mlm-metrics-table tr[data-metric='loss']")
    row.locator(".jp-mlm-metric-min").wait_for(timeout=10_000)
    page.wait_for_function(
        "() => document.querySelector(\".jp-mlm-metrics-table tr[data-metric='loss'] .jp-mlm-metric-min\")"
        ".innerText === '0.2'",
        timeout=10_000,
    )
    assert row.locator(".jp-mlm-metric-max").inner_text() == "0.9"
    assert row.locator("td").nth(1).inner_text() == "0.25"  # the last value
    snippet = detail.locator(".jp-mlm-copy-snippet").get_attribute("data-snippet")
    assert f'mlm.get_run("{run.id}")' in snippet
    detail.locator(".jp-mlm-copy-snippet").click()
    assert "Copied" in detail.locator(".jp-mlm-notice").inner_text()
    screenshot(page, "run-metrics-min-max")
