"""The registry in the sidebar, in a real JupyterLab and browser: models registered by a real
notebook, a request made there, approved here; a request made here, approved by another user;
the production badge moving; lineage and the audit log. Runs after test_sidebar.py (its run
counts assume a store without these runs)."""

from __future__ import annotations

from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlm.store import Store, open_store

from .conftest import LabServer, compare_themes, environment, screenshot
from .test_sidebar import open_sidebar

REGISTERING = [
    "%load_ext jupyter_mlm\nimport pandas as pd\nimport jupyter_mlm as mlm\n"
    "from sklearn.linear_model import LogisticRegression",
    "for c in (1.0, 0.05):\n"
    "    with mlm.start_run(f'logreg-C{c}', experiment='registry'):\n"
    "        X = pd.read_csv('data/customers.csv')\n"
    "        y = X.pop('churned')\n"
    "        mlm.log_param('C', c)\n"
    "        clf = LogisticRegression(C=c).fit(X, y)\n"
    "        mlm.log_metric('accuracy', clf.score(X, y))\n"
    "    %mlm_register clf churn --reference X",
    "request = mlm.transition('churn', 1, 'production', comment='first release')\nrequest.status",
]


@pytest.fixture(scope="module")
def registered(lab_server: LabServer) -> Store:
    work = lab_server.root / "registry"
    (work / "data").mkdir(parents=True)
    rows = ["tenure,usage,churned"] + [f"{t},{(t * 7) % 13},{int(t < 12)}" for t in range(1, 61)]
    (work / "data" / "customers.csv").write_text("\n".join(rows) + "\n")
    nb = new_notebook(cells=[new_code_cell(source) for source in REGISTERING])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, work / "registry.ipynb")
    with environment(MLM_STORE_URI=str(lab_server.store), JPY_SESSION_NAME=str(work / "registry.ipynb"),
                     MLM_USER="ana", MLM_REQUIRE_APPROVAL_FOR="production"):  # fmt: skip
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    assert "'pending'" in nb.cells[2].outputs[0]["data"]["text/plain"]
    return open_store(str(lab_server.store))


def version_stage(page: Any, version: int) -> str:
    return str(page.locator(f".jp-mlm-versions tr[data-version='{version}'] .jp-mlm-stage").inner_text())


def test_request_in_a_notebook_approve_in_the_sidebar(page: Any, lab_server: LabServer, registered: Store) -> None:
    panel = open_sidebar(page, lab_server)
    panel.get_by_role("tab", name="Registry").click()
    row = panel.locator(".jp-mlm-model-row[data-model='churn']")
    row.wait_for(timeout=30_000)
    assert "1 pending" in row.inner_text() and "no production" in row.inner_text()
    assert "2 versions" in row.inner_text()
    screenshot(page, "registry-list")

    row.click()
    view = page.locator(".jp-mlm-model-page[data-model='churn']")
    request = view.locator(".jp-mlm-request")
    request.wait_for(timeout=30_000)
    assert "v1 → production" in request.inner_text() and "asked by ana" in request.inner_text()
    assert "first release" in request.inner_text()
    assert version_stage(page, 1) == "none" and version_stage(page, 2) == "none"
    # Lineage of the shown version: the data file the run read, the run, its notebook snapshot.
    lineage = view.locator(".jp-mlm-lineage")
    lineage.wait_for()
    assert "customers.csv" in lineage.locator("[data-kind='data']").inner_text()
    assert "logreg-C" in lineage.locator("[data-kind='run']").inner_text()
    assert "registry.ipynb" in lineage.locator("[data-kind='notebook']").inner_text()

    view.locator(".jp-mlm-comment").fill("validated on the March holdout")
    request.locator(".jp-mlm-approve").click()
    view.locator(".jp-mlm-notice", has_text="Approved v1 → production").wait_for(timeout=15_000)
    page.wait_for_function(
        "() => document.querySelector(\".jp-mlm-versions tr[data-version='1'] .jp-mlm-stage\")?.innerText === 'production'"
    )
    assert view.locator(".jp-mlm-request").count() == 0

    # A request made here, by the browser's user: only someone else may approve it.
    version2 = view.locator(".jp-mlm-versions tr[data-version='2']")
    version2.locator(".jp-mlm-target").select_option("production")
    assert version2.locator(".jp-mlm-move").inner_text() == "Request"
    view.locator(".jp-mlm-comment").fill("better accuracy")
    version2.locator(".jp-mlm-move").click()
    view.locator(".jp-mlm-notice", has_text="Requested production for v2").wait_for(timeout=15_000)
    request = view.locator(".jp-mlm-request")
    request.wait_for()
    request.locator(".jp-mlm-approve").click()
    view.locator(".jp-mlm-error", has_text="cannot also approve").wait_for(timeout=15_000)
    assert version_stage(page, 2) == "none"
    request.locator(".jp-mlm-approver").fill("bo")
    request.locator(".jp-mlm-approve").click()
    view.locator(".jp-mlm-notice", has_text="Approved v2 → production").wait_for(timeout=15_000)
    page.wait_for_function(
        "() => document.querySelector(\".jp-mlm-versions tr[data-version='2'] .jp-mlm-stage\")?.innerText === 'production'"
    )
    assert version_stage(page, 1) == "archived"  # the badge moved: one production version

    audit = view.locator(".jp-mlm-audit tbody tr")
    actions = [audit.nth(i).get_attribute("data-action") for i in range(audit.count())]
    assert actions[:4] == ["transition", "transition", "approve", "request"]
    assert "bo" in audit.nth(2).inner_text()
    view.locator(".jp-mlm-verify").click()
    view.locator(".jp-mlm-ok", has_text="hash chain verified").wait_for(timeout=15_000)
    screenshot(page, "registry-model")

    record = registered.get_version("churn", 2)
    assert record.stage == "production"
    assert [r.decided_by for r in registered.approval_requests("churn")][-1] == "bo"

    # Roll back from the page: v1 is back, v2 archived.
    view.locator(".jp-mlm-comment").fill("latency regression")
    view.locator(".jp-mlm-rollback").click()
    view.locator(".jp-mlm-notice", has_text="v1 is in production again").wait_for(timeout=15_000)
    assert registered.get_version("churn", 1).stage == "production"

    panel.get_by_role("tab", name="Registry").click()
    page.wait_for_function(
        "() => document.querySelector(\".jp-mlm-model-row[data-model='churn'] .jp-mlm-stage\")?.innerText === 'v1 production'",
        timeout=15_000,
    )
    screenshot(page, "registry-after-rollback")


def test_model_page_follows_the_dark_theme(page: Any, lab_server: LabServer, registered: Store) -> None:
    open_sidebar(page, lab_server)
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-mlm:open-model', {name: 'churn'})")
    view = page.locator(".jp-mlm-model-page[data-model='churn']")
    view.locator(".jp-mlm-lineage").wait_for(timeout=30_000)
    widget = page.locator(".jp-mlm-model-widget")
    light, dark = compare_themes(page, widget, "registry-model-dark")
    assert light != dark
