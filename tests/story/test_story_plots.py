"""Plots over the expanded runs table: parallel coordinates and a scatter of the listed runs, and
brushing either one selects exactly the runs inside the brush — the ones Compare then opens.
(In the story's lab, in an experiment of its own: the UI tests' shared store keeps its counts.)"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from jupyter_mlm.store import open_store

from ..ui.conftest import LabServer, assert_readable, open_sidebar, screenshot

RUNS = 40


@pytest.fixture(scope="module")
def trials(story_lab: LabServer) -> dict[int, str]:
    """Forty runs in experiment ``plots``: params a = i, b = 7i mod 13, optimizer, and the same
    dataset and seed for all; score = i/40."""
    store = open_store(str(story_lab.store))
    try:
        experiment = store.get_or_create_experiment("plots")
        ids = {}
        for i in range(RUNS):
            run = store.create_run(experiment.id, f"trial-{i:02d}")
            store.log_params(run.id, {"a": i, "b": (i * 7) % 13, "optimizer": "adam" if i % 2 else "sgd",
                                      "dataset": "v3", "seed": 0})  # fmt: skip
            store.log_metric_batch(run.id, {"score": ([0], [i / RUNS], [0])})
            store.end_run(run.id)
            ids[i] = run.id
        return ids
    finally:
        store.close()


def _drag(page: Any, x: float, y0: float, x1: float, y1: float) -> None:
    page.mouse.move(x, y0)
    page.mouse.down()
    page.mouse.move((x + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()


def _checked(page: Any) -> set[str]:
    rows = page.locator(".jp-mlm-runs-widget .jp-mlm-row[data-run-id]").all()
    return {r.get_attribute("data-run-id") for r in rows if r.locator(".jp-mlm-select").is_checked()}


def expanded_table(page: Any, lab: LabServer) -> Any:
    """The main-area runs table (sidebar → Expand) on experiment ``plots``, its 40 runs listed."""
    panel = open_sidebar(page, lab)
    panel.get_by_role("button", name="Expand").click()
    table = page.locator(".jp-mlm-runs-widget")
    table.locator(".jp-mlm-experiment").select_option("plots")
    page.wait_for_function(
        "() => document.querySelector('.jp-mlm-runs-widget .jp-mlm-count')?.innerText === '40 runs'", timeout=30_000
    )
    return table


def test_brushing_plots_selects_those_runs_in_the_table(
    page: Any, story_lab: LabServer, trials: dict[int, str]
) -> None:
    ids = trials
    table = expanded_table(page, story_lab)
    table.locator(".jp-mlm-plots-button").click()
    parallel = table.locator(f".jp-mlm-parallel[data-runs='{RUNS}']")
    parallel.wait_for(timeout=30_000)
    axes = (parallel.get_attribute("data-axes") or "").split(",")
    # Numeric params and metrics only: the optimizer's text is no axis.
    assert {"params.a", "params.b", "metrics.score"} <= set(axes) and "params.optimizer" not in axes
    assert parallel.locator(".jp-mlm-pc-line").count() == RUNS

    # Brush score between 0.7125 and 0.8875: trials 29 … 35 (scores 0.725 … 0.875).
    target = parallel.locator(".jp-mlm-brush-target[data-key='metrics.score']").bounding_box()
    assert target is not None
    top, height = target["y"], target["height"]

    def pixel(score: float) -> float:  # the axis runs from the lowest score (bottom) to the highest
        low, high = 0 / RUNS, (RUNS - 1) / RUNS
        return top + (1 - (score - low) / (high - low)) * height

    x = target["x"] + target["width"] / 2
    _drag(page, x, pixel(0.7125), x, pixel(0.8875))
    expected = {ids[i] for i in range(29, 36)}
    table.locator(".jp-mlm-compare-button", has_text="Compare (7)").wait_for(timeout=10_000)
    assert "7 brushed" in table.locator(".jp-mlm-plots-summary").inner_text()
    assert {p.get_attribute("data-run-id") for p in parallel.locator(".jp-mlm-pc-line:not(.jp-mlm-faded)").all()} == (
        expected
    )
    assert _checked(page) <= expected and _checked(page)  # what the table shows checked is the brush
    screenshot(page, "runs-plots-parallel")

    # The scatter of score against a: a rectangle over a = 10.5 … 20.5 selects trials 11 … 20.
    table.locator(".jp-mlm-scatter-x").select_option("params.a")
    table.locator(".jp-mlm-scatter-y").select_option("metrics.score")
    scatter = table.locator(".jp-mlm-scatter[data-x='params.a'][data-y='metrics.score']")
    points = {p.get_attribute("data-run-id"): p.bounding_box() for p in scatter.locator("circle").all()}
    assert set(points) == set(ids.values())
    centre = {i: points[ids[i]] for i in range(RUNS)}
    left = (centre[10]["x"] + centre[11]["x"]) / 2 + 3  # type: ignore[index]
    right = (centre[20]["x"] + centre[21]["x"]) / 2 + 3  # type: ignore[index]
    box = scatter.bounding_box()
    assert box is not None
    _drag(page, left, box["y"] + 4, right, box["y"] + box["height"] - 4)
    table.locator(".jp-mlm-compare-button", has_text="Compare (10)").wait_for(timeout=10_000)
    brushed = {p.get_attribute("data-run-id") for p in scatter.locator("circle:not(.jp-mlm-faded)").all()}
    assert brushed == {ids[i] for i in range(11, 21)}
    assert_readable(page, ".jp-mlm-plots-summary, .jp-mlm-scatter-box label", "runs-plots", at_least=2)

    # Compare opens exactly the brushed runs.
    table.locator(".jp-mlm-compare-button").click()
    view = page.locator(".jp-mlm-compare-widget").last
    view.locator(".jp-mlm-side-by-side").wait_for(timeout=30_000)
    assert view.locator(".jp-mlm-side-by-side thead th").count() == 1 + 10


def test_the_filter_box_completes_keys(page: Any, story_lab: LabServer, trials: dict[int, str]) -> None:
    """Typing a field offers the keys that exist; Tab takes one; the filter then applies."""
    panel = open_sidebar(page, story_lab)
    panel.locator(".jp-mlm-experiment").select_option("plots")
    page.wait_for_function(
        "() => document.querySelector('#jupyter-mlm-sidebar .jp-mlm-count')?.innerText === '40 runs'"
    )
    # An empty main area gets JupyterLab's Launcher a moment after load, and the Launcher takes
    # the focus: start typing once it is there, as a person would.
    with contextlib.suppress(PlaywrightTimeout):
        page.locator(".jp-Launcher").wait_for(timeout=10_000)
        page.wait_for_timeout(300)
    box = panel.locator(".jp-mlm-filter")
    box.click()
    keyboard = page.keyboard  # types where the caret is, as a person does (no refocusing)
    keyboard.type("metrics.sc")
    options = panel.locator(".jp-mlm-completions li")
    options.first.wait_for(timeout=10_000)
    assert [o.inner_text() for o in options.all()] == ["metrics.score"]
    keyboard.press("Tab")
    assert box.input_value() == "metrics.score" and options.count() == 0
    assert box.evaluate("el => document.activeElement === el && el.selectionStart === el.value.length")
    keyboard.type(" > 0.9 and par")
    options.first.wait_for(timeout=10_000)
    assert [o.inner_text() for o in options.all()] == [
        "params.a",
        "params.b",
        "params.dataset",
        "params.optimizer",
        "params.seed",
        "parent_id",
    ]
    keyboard.press("ArrowDown")
    keyboard.press("Enter")  # takes the highlighted key, does not apply yet
    assert box.input_value() == "metrics.score > 0.9 and params.b"
    keyboard.type(" >= 0")
    keyboard.press("Enter")
    # Trials 37, 38, 39 score above 0.9.
    page.wait_for_function("() => document.querySelector('#jupyter-mlm-sidebar .jp-mlm-count')?.innerText === '3 runs'")
    names = {r.inner_text().split("\n")[0] for r in panel.locator(".jp-mlm-row[data-run-id]").all()}
    assert {n.split()[0] for n in names} == {"trial-37", "trial-38", "trial-39"}
    keyboard.type(" and met")
    options.first.wait_for(timeout=10_000)
    screenshot(page, "filter-completion")


def test_differences_only_shows_the_keys_that_tell_runs_apart(
    page: Any, story_lab: LabServer, trials: dict[int, str]
) -> None:
    table = expanded_table(page, story_lab)
    headers = table.locator(".jp-mlm-header [role='columnheader']")

    def titles() -> list[str]:
        return [h.inner_text().rstrip(" ▲▼") for h in headers.all()][6:]  # after select … duration

    table.locator(".jp-mlm-header [role='columnheader']", has_text="score").wait_for()
    chosen = titles()  # the saved choice (the most common keys by default)
    table.locator(".jp-mlm-differences-only input").check()
    # What differs among the stored runs: a, b, optimizer and score; dataset and seed do not.
    differing = ["a", "b", "optimizer", "score"]
    page.wait_for_function(
        "expected => JSON.stringify([...document.querySelectorAll("
        "'.jp-mlm-runs-widget .jp-mlm-header [role=columnheader]')].slice(6)"
        ".map(h => h.innerText.replace(/[ ▲▼]+$/, ''))) === JSON.stringify(expected)",
        arg=differing,
        timeout=15_000,
    )
    assert titles() == differing
    screenshot(page, "runs-differences-only")
    table.locator(".jp-mlm-differences-only input").uncheck()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-mlm-runs-widget .jp-mlm-header [role=columnheader]').length === "
        f"{6 + len(chosen)}"
    )
    assert titles() == chosen  # off again: the saved choice, untouched
