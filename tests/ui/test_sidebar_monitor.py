"""The Monitor tab in a real JupyterLab and browser: a model with a drifting stream shows its
status, and its page shows the same per-feature verdicts, performance and alerts that the
monitoring core computes. Uses its own model ("fraud") so the registry tests are undisturbed."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from jupyter_mlm.store import Store, open_store

from .conftest import SIDEBAR, LabServer, assert_readable, compare_themes, screenshot
from .test_sidebar import open_sidebar


def stream(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"amount": rng.lognormal(3 + shift, 1, n), "hour": rng.integers(0, 24, n).astype(float),
                         "channel": rng.choice(["web", "pos", "atm"], n, p=[0.5 - shift / 4, 0.4, 0.1 + shift / 4])})  # fmt: skip


@pytest.fixture(scope="module")
def monitored(lab_server: LabServer) -> Store:
    import jupyter_mlm as mlm
    from jupyter_mlm.tracking import SESSION

    store = open_store(str(lab_server.store))
    SESSION.use_store(store)
    try:
        mlm.register_model({"threshold": 0.5}, "fraud", reference_data=stream(5000, 0.0, 1))
        mlm.transition("fraud", 1, "production")  # production needs approval on this server
        from jupyter_mlm.registry import Governance

        Governance(store, "risk-lead").decide("fraud", 1, approve=True, comment="monitoring test")
        mlm.monitor.add_rule("fraud", "drift_share >= 0.5 per 2h")
        now = time.time_ns() // 1_000_000
        rng = np.random.default_rng(2)
        for hours_ago, shift in ((3, 0.0), (2, 0.0), (0, 1.0)):
            batch = stream(2000, shift, 10 + hours_ago)
            ids = [f"{hours_ago}-{i}" for i in range(2000)]
            mlm.monitor.log("fraud", batch, predictions=rng.integers(0, 2, 2000), ids=ids,
                            timestamp=now - hours_ago * 3_600_000)  # fmt: skip
            mlm.monitor.log_labels("fraud", ids, rng.integers(0, 2, 2000))
    finally:
        SESSION.use_store(None)
    return store


def test_monitor_tab_shows_what_the_core_computed(page: Any, lab_server: LabServer, monitored: Store) -> None:
    from jupyter_mlm.monitoring.service import Monitor

    panel = open_sidebar(page, lab_server)
    panel.get_by_role("tab", name="Monitor").click()
    row = panel.locator(".jp-mlm-monitor-row[data-model='fraud']")
    row.wait_for(timeout=30_000)
    status = Monitor(monitored, "test").status("fraud")
    assert status["status"] == "alert"
    assert row.locator(".jp-mlm-monitor-badge").get_attribute("data-status") == "alert"
    assert "6,000 rows" in row.inner_text() and "1 alert" in row.inner_text()
    screenshot(page, "monitor-list")
    # The status badge (coloured) and the row's text, in both themes.
    assert_readable(page, f"#{SIDEBAR} .jp-mlm-monitor-badge, #{SIDEBAR} .jp-mlm-monitor-list .jp-mlm-muted",
                    "monitor-list-contrast", at_least=1)  # fmt: skip

    row.click()
    view = page.locator(".jp-mlm-monitor-page[data-model='fraud']")
    view.locator(".jp-mlm-drift-table").wait_for(timeout=30_000)
    report = Monitor(monitored, "test").report("fraud", window="all")
    assert report.drift is not None
    shown = {r.get_attribute("data-column"): r.get_attribute("data-drifted") == "true"
             for r in view.locator(".jp-mlm-drift-table tbody tr").all()}  # fmt: skip
    assert shown == {c["column"]: c["drifted"] for c in report.drift["columns"]}
    methods = [r.locator("td").nth(2).inner_text() for r in view.locator(".jp-mlm-drift-table tbody tr").all()]
    assert sorted(methods) == sorted(c["method"] for c in report.drift["columns"])
    assert "drift_share >= 0.5 per 2h" in view.locator(".jp-mlm-alerts").inner_text()
    assert "6,000 labelled rows" in view.inner_text()
    view.locator(".jp-mlm-chart").first.wait_for()
    # Every feature row draws its reference and current distributions on the same bins.
    assert view.locator(".jp-mlm-drift-table .jp-mlm-distribution").count() == 3
    chart = view.locator(".jp-mlm-series-chart[data-metric='drift_share']")
    assert chart.locator("[data-kind='alert']").count() == 1  # the alert, where it fired
    assert chart.locator("[data-kind='promotion']").count() == 1  # v1 went to production
    screenshot(page, "monitor-page")
    # Drifted rows are highlighted: their text, the notices and the alert rules stay readable.
    assert_readable(
        page,
        ".jp-mlm-monitor-page th, .jp-mlm-monitor-page td, .jp-mlm-monitor-page .jp-mlm-notice, "
        ".jp-mlm-monitor-page .jp-mlm-alerts li, .jp-mlm-monitor-page .jp-mlm-chart-title",
        "monitor-page-contrast",
        at_least=10,
    )

    view.get_by_label("Window").select_option("1h")
    page.wait_for_function(
        "() => document.querySelector('.jp-mlm-monitor-page')?.innerText.includes('2,000 rows in 1 batch')",
        timeout=20_000,
    )
    recent = Monitor(monitored, "test").report("fraud", window="1h")
    assert recent.rows == 2000 and recent.drift is not None and recent.drift["dataset_drift"] is True
    assert "dataset drift" in view.locator(".jp-mlm-notice").inner_text()
    widget = page.locator(".jp-mlm-monitor-widget")
    light, dark = compare_themes(page, widget, "monitor-page-dark")
    assert light != dark


def test_monitor_page_tells_the_loop_story_as_stored(page: Any, lab_server: LabServer) -> None:
    """Alert → retraining job (run by the server's own runner, in a kernel) → shadow comparison →
    promotion request → approval → regression → automatic rollback: the Monitor page lists the
    same steps, in the order the audit log holds them."""
    import shutil

    from jupyter_mlm.loop.jobs import retrain
    from jupyter_mlm.loop.policy import Loop
    from jupyter_mlm.loop.timeline import timeline
    from jupyter_mlm.monitoring.service import Monitor
    from jupyter_mlm.registry import Governance, register
    from tests.serving.conftest import cancer_data, pipeline
    from tests.serving.test_loop import _traffic, training_notebook

    store = open_store(str(lab_server.store))
    X, _ = cancer_data()
    champion = pipeline(1.0)
    register(store, champion, "cancer", run_id=None, actor="ana", reference_data=X)
    Governance(store, "ana").transition("cancer", 1, "production")
    Governance(store, "risk-lead").decide("cancer", 1, approve=True)
    (lab_server.root / "loop-job").mkdir(exist_ok=True)
    shutil.copy(training_notebook(lab_server.root / "loop-job"), lab_server.root / "train_cancer.ipynb")
    Monitor(store, "ana").add_rule("cancer", "rows >= 10", retrain("train_cancer.ipynb", parameters={"C": 0.01}))
    Loop(store, "ana").set_policy("cancer", {"promote_if": "challenger.accuracy >= champion.accuracy - 0.5",
                                             "min_rows": 100,
                                             "rollback_if": "accuracy < previous.accuracy - 0.2 within 1d"})  # fmt: skip
    Monitor(store, "server").log("cancer", X.iloc[:20])  # fires the rule: the server's runner retrains
    from jupyter_mlm.loop.jobs import wait_for

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not store.jobs("cancer"):
        time.sleep(0.2)
    job = wait_for(store, store.jobs("cancer")[0].id, timeout=180)
    assert job.status == "succeeded", job.result
    challenger = store.version_by_alias("cancer", "challenger")
    assert challenger is not None and challenger.version == 2
    weak = pipeline(0.01)
    _traffic(store, champion, weak, range(0, 150))
    # This test and the server's own runner both decide the policy; either may be first.
    Loop(store, "mlm-loop").evaluate("cancer")
    assert [r.version for r in Governance(store, "ana").pending("cancer")] == [2]
    panel = open_sidebar(page, lab_server)
    panel.get_by_role("tab", name="Monitor").click()
    panel.locator(".jp-mlm-monitor-row[data-model='cancer']").click()
    view = page.locator(".jp-mlm-monitor-page[data-model='cancer']")
    view.locator(".jp-mlm-timeline").wait_for(timeout=30_000)
    assert "waiting for a person" in view.locator(".jp-mlm-loop").inner_text()
    Governance(store, "risk-lead").decide("cancer", 2, approve=True)
    _traffic(store, weak, weak, range(200, 330), flip=True)
    Loop(store, "mlm-loop").evaluate("cancer")
    assert store.versions_in_stage("cancer", "production")[-1].version == 1  # rolled back
    story = timeline(store, "cancer")
    view.locator(f".jp-mlm-step[data-seq='{story[-1]['seq']}']").wait_for(timeout=30_000)
    shown = [(int(li.get_attribute("data-seq") or 0), li.get_attribute("data-action"))
             for li in view.locator(".jp-mlm-step").all()]  # fmt: skip
    assert shown == [(e["seq"], e["action"]) for e in story]
    actions = [a for _, a in shown]
    for step in ("alert", "job_queued", "job_succeeded", "compare", "promotion_requested", "approve", "rolled_back"):
        assert step in actions, step
    assert view.locator(".jp-mlm-comparisons tbody tr").count() == len(store.comparisons("cancer"))
    arms = Monitor(store, "t").arms("cancer", "all")
    assert [r.get_attribute("data-source") for r in view.locator(".jp-mlm-arms tbody tr").all()] == [
        a["source"] for a in arms
    ]
    view.locator(".jp-mlm-loop").scroll_into_view_if_needed()
    screenshot(page, "monitor-loop")
    # The model page tells the same story, and the versions' cards carry the comparison.
    panel.get_by_role("tab", name="Registry").click()
    panel.locator(".jp-mlm-model-row[data-model='cancer']").click()
    model_page = page.locator(".jp-mlm-model-page[data-model='cancer']")
    model_page.locator(".jp-mlm-loop .jp-mlm-timeline").wait_for(timeout=30_000)
    model_page.locator(f".jp-mlm-step[data-seq='{story[-1]['seq']}']").wait_for(timeout=30_000)
    assert model_page.locator(".jp-mlm-loop .jp-mlm-step").count() == len(story)
    model_page.locator(".jp-mlm-card-comparison").first.wait_for(timeout=30_000)
    comparison = store.comparisons("cancer")[-1]
    assert f"vs v{comparison.version_b}" in model_page.locator(".jp-mlm-card").inner_text()
    model_page.locator(".jp-mlm-loop").scroll_into_view_if_needed()
    screenshot(page, "model-loop")
