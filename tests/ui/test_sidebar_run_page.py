"""The run page as a user reads it after a run failed (issue 16, "Run page"): the exception and
what the run printed, captured by the kernel side; previews of the artifacts it logged (image,
CSV head, JSON, text, sandboxed HTML); the kernel's system metrics apart from the run's own —
each checked against what was stored, in the light and the dark theme."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_mlm.store import Store, open_store

from .conftest import SIDEBAR, LabServer, assert_readable, open_sidebar

CSV = 'city,temperature,note\nOslo,-3.5,"cold, windy"\nLima,19.0,"says ""mild"""\n'
CURVE = [10.0, 5.0, 2.5, 4.0, 1.0, 0.5, 0.8, 0.25, 0.2, 0.1]
T0 = 1_796_000_000_000
REPORT = "<html><body><h1 id='title'>Drift report</h1><script>parent.document.title='pwned'</script></body></html>"


@pytest.fixture(scope="module")
def failed_run(lab_server: LabServer) -> Iterator[tuple[Store, str]]:
    """A run made by the tracking API in this process, as a notebook's kernel makes it: it
    prints, logs artifacts, then fails."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import jupyter_mlm as mlm
    from jupyter_mlm.tracking import SESSION

    store = open_store(str(lab_server.store))
    SESSION.use_store(store)
    run_id = ""
    try:
        with mlm.start_run("crashing-fit", experiment="run-page") as run:
            run_id = run.id
            print("epoch 1 loss=0.52\nepoch 2 loss=0.41")
            print("warning: features not scaled", file=sys.stderr)
            mlm.log_text(CSV, "data/sample.csv")
            mlm.log_dict({"depth": 4, "features": ["a", "b"]}, "config.json")
            mlm.log_text("line one\nline two\n", "notes.txt")
            mlm.log_text(REPORT, "report.html")
            figure, axes = plt.subplots(figsize=(2, 1.5))
            axes.plot([0, 1, 2], [2, 1, 3])
            mlm.log_figure(figure, "curve.png")
            for step, loss in enumerate([0.52, 0.41]):
                mlm.log_metric("loss", loss, step=step)
            store.log_metric_batch(run.id, {"system/cpu_percent": ([0, 1, 2], [35.0, 98.5, 60.0], [0, 1, 2])})
            steps = list(range(10))
            store.log_metric_batch(run.id, {"curve": (steps, CURVE, [T0 + 1500 * i for i in steps])})
            raise RuntimeError("diverged at epoch 3")
    except RuntimeError:
        pass
    finally:
        SESSION.use_store(None)
    yield store, run_id
    store.close()


def open_run(page: Any, lab: LabServer, name: str) -> Any:
    panel = open_sidebar(page, lab)
    box = panel.locator(".jp-mlm-filter")
    box.fill(f"name = '{name}'")
    box.press("Enter")
    page.wait_for_function(
        f"() => document.querySelectorAll('#{SIDEBAR} .jp-mlm-row[data-run-id]').length === 1", timeout=30_000
    )
    panel.locator(".jp-mlm-row", has_text=name).get_by_text(name, exact=True).click()
    detail = page.locator(".jp-mlm-detail").last
    detail.locator(".jp-mlm-metrics-table").first.wait_for(timeout=30_000)
    return detail


def test_a_failed_run_shows_its_exception_and_what_it_printed(page: Any, lab_server: LabServer,
                                                               failed_run: tuple[Store, str]) -> None:  # fmt: skip
    store, run_id = failed_run
    stored = {path: store.objects.get(store.get_artifact(run_id, path).digest).decode()
              for path in ("mlm/stdout.txt", "mlm/stderr.txt", "mlm/exception.txt")}  # fmt: skip
    detail = open_run(page, lab_server, "crashing-fit")
    banner = detail.locator(".jp-mlm-run-exception")
    assert "RuntimeError: diverged at epoch 3" in banner.inner_text()
    banner.locator("button").click()  # "see the traceback and output"
    output = detail.locator(".jp-mlm-output")
    output.locator("[data-output=stdout] pre", has_text="epoch 2").wait_for(timeout=10_000)
    assert output.locator("[data-output=stdout] pre").inner_text() == stored["mlm/stdout.txt"]
    assert output.locator("[data-output=stderr] pre").inner_text() == stored["mlm/stderr.txt"]
    shown = output.locator("[data-output=exception] pre").inner_text()
    assert shown == stored["mlm/exception.txt"] and "RuntimeError: diverged at epoch 3" in shown
    assert detail.locator(".jp-mlm-tab[aria-selected=true]").inner_text() == "Output (3)"
    assert_readable(page, ".jp-mlm-output pre, .jp-mlm-output h3", "run-page-output", at_least=3)


def test_artifacts_preview_in_place_and_html_cannot_script(page: Any, lab_server: LabServer,
                                                           failed_run: tuple[Store, str]) -> None:  # fmt: skip
    detail = open_run(page, lab_server, "crashing-fit")

    def preview(path: str) -> Any:
        row = detail.locator(f"tr[data-artifact='{path}']")
        row.locator(".jp-mlm-preview-button").click()
        shown = row.locator("xpath=following-sibling::tr[1]").locator(".jp-mlm-preview")
        shown.wait_for(timeout=10_000)
        return shown

    image = preview("curve.png").locator("img")
    image.wait_for(timeout=10_000)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    table = preview("data/sample.csv").locator("table")
    table.locator("tbody tr").nth(1).wait_for(timeout=10_000)  # fetched, then parsed: .all() would not wait
    assert [c.inner_text() for c in table.locator("th").all()] == ["city", "temperature", "note"]
    assert [[c.inner_text() for c in r.locator("td").all()] for r in table.locator("tbody tr").all()] == [
        ["Oslo", "-3.5", "cold, windy"], ["Lima", "19.0", 'says "mild"'],
    ]  # fmt: skip
    assert json.loads(preview("config.json").locator("pre").inner_text()) == {"depth": 4, "features": ["a", "b"]}
    assert preview("notes.txt").locator("pre").inner_text() == "line one\nline two\n"
    frame = preview("report.html").locator("iframe")
    assert frame.get_attribute("sandbox") == ""
    assert page.frame_locator(".jp-mlm-preview-frame").locator("#title").inner_text() == "Drift report"
    assert page.title() != "pwned"  # the report's script never ran
    # mlm/… files are previewable text too; a file with no preview offers none.
    assert detail.locator("tr[data-artifact='mlm/stdout.txt'] .jp-mlm-preview-button").count() == 1
    assert_readable(page, ".jp-mlm-preview-table th, .jp-mlm-preview-table td, .jp-mlm-preview-text",
                    "run-page-previews", at_least=8)  # fmt: skip


def test_system_metrics_sit_apart_from_the_runs_own(page: Any, lab_server: LabServer,
                                                    failed_run: tuple[Store, str]) -> None:  # fmt: skip
    detail = open_run(page, lab_server, "crashing-fit")
    own = detail.locator(".jp-mlm-metrics-table:not(.jp-mlm-system-table) tr[data-metric]")
    system = detail.locator(".jp-mlm-system-table tr[data-metric]")
    assert [r.get_attribute("data-metric") for r in own.all()] == ["curve", "loss"]
    assert [r.get_attribute("data-metric") for r in system.all()] == ["system/cpu_percent"]
    row = system.first
    assert (
        row.locator(".jp-mlm-metric-min").inner_text() == "35"
        and row.locator(".jp-mlm-metric-max").inner_text() == "98.5"
    )
    assert detail.locator(".jp-mlm-section h3", has_text="System").count() == 1


def ema(values: list[float], weight: float) -> list[float]:
    """TensorBoard's debiased exponential moving average, as the chart's smoothing computes it."""
    out, last = [], 0.0
    for count, value in enumerate(values, 1):
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight**count))
    return out


def test_charts_change_axis_scale_smoothing_and_zoom(page: Any, lab_server: LabServer,
                                                     failed_run: tuple[Store, str]) -> None:  # fmt: skip
    import re

    detail = open_run(page, lab_server, "crashing-fit")
    chart = detail.locator(".jp-mlm-chart[data-metric^='curve ']")
    chart.wait_for(timeout=10_000)

    def tick(name: str) -> str:
        return str(chart.locator(f".jp-mlm-tick-{name}").text_content())

    assert chart.get_attribute("data-x-axis") == "step" and (tick("x-min"), tick("x-max")) == ("0", "9")
    chart.locator(".jp-mlm-chart-axis").select_option("relative")
    assert chart.get_attribute("data-x-axis") == "relative" and (tick("x-min"), tick("x-max")) == ("0 s", "13.5 s")
    chart.locator(".jp-mlm-chart-axis").select_option("wall")
    assert re.fullmatch(r"\d\d:\d\d:\d\d", tick("x-min")) and tick("x-min") != tick("x-max")
    chart.locator(".jp-mlm-chart-axis").select_option("step")
    chart.locator(".jp-mlm-chart-log").check()
    assert chart.get_attribute("data-log") == "true" and (tick("y-max"), tick("y-min")) == ("10", "0.1")
    chart.locator(".jp-mlm-chart-log").uncheck()
    chart.locator(".jp-mlm-chart-smoothing").fill("0.6")
    smoothed = json.loads(str(chart.locator(".jp-mlm-smoothed").get_attribute("data-values")))
    assert smoothed == pytest.approx(ema(CURVE, 0.6), rel=1e-12) and smoothed != CURVE
    # Drag across the middle of the plot: the x range narrows to what was dragged over.
    box = chart.locator("svg").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.40, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.70, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    low, high = (float(v) for v in str(chart.get_attribute("data-x-range")).split(","))
    assert 2 < low < high < 7, (low, high)
    chart.locator(".jp-mlm-chart-reset").click()
    assert chart.get_attribute("data-x-range") == "0,9"
    chart.locator(".jp-mlm-chart-enlarge").click()
    assert "jp-mlm-chart-large" in str(chart.get_attribute("class"))
    assert_readable(page, ".jp-mlm-chart-controls label, .jp-mlm-chart-title, .jp-mlm-chart-controls button",
                    "run-page-chart", at_least=6)  # fmt: skip
