"""The registry in the sidebar, in a real JupyterLab and browser. Two people: ana works in a
notebook (her kernel runs as the hub user ana); the browser's user is the server's OS login.
Every action asserts that what is stored equals what the screen offered. Runs after
test_sidebar.py (its run counts assume a store without these runs)."""

from __future__ import annotations

from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlm.identity import login_name
from jupyter_mlm.registry import Governance
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
                     JUPYTERHUB_USER="ana"):  # fmt: skip
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    assert "'pending'" in nb.cells[2].outputs[0]["data"]["text/plain"]
    return open_store(str(lab_server.store))


def version_stage(page: Any, version: int) -> str:
    return str(page.locator(f".jp-mlm-versions tr[data-version='{version}'] .jp-mlm-stage").inner_text())


def wait_for_stage(page: Any, version: int, stage: str) -> None:
    page.wait_for_function(
        f"() => document.querySelector(\".jp-mlm-versions tr[data-version='{version}'] .jp-mlm-stage\")"
        f"?.innerText === '{stage}'",
        timeout=20_000,
    )


def test_every_action_stores_what_the_screen_offered(page: Any, lab_server: LabServer, registered: Store) -> None:
    me = login_name()
    ana = Governance(registered, "ana")
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
    assert f"you act as {me}" in view.locator(".jp-mlm-actor").inner_text()
    assert "v1 → production" in request.inner_text() and "asked by ana" in request.inner_text()
    assert "first release" in request.inner_text()
    assert request.locator(".jp-mlm-approver").count() == 0  # named approvers are off: no name box
    assert version_stage(page, 1) == "none" and version_stage(page, 2) == "none"
    lineage = view.locator(".jp-mlm-lineage")
    lineage.wait_for()
    assert "customers.csv" in lineage.locator("[data-kind='data']").inner_text()
    assert "logreg-C" in lineage.locator("[data-kind='run']").inner_text()
    assert "registry.ipynb" in lineage.locator("[data-kind='notebook']").inner_text()

    # Approve ana's request: v1 goes to production, in the store and on the screen.
    view.locator(".jp-mlm-comment").fill("validated on the March holdout")
    request.locator(".jp-mlm-approve").click()
    view.locator(".jp-mlm-notice", has_text="Approved v1 → production").wait_for(timeout=15_000)
    wait_for_stage(page, 1, "production")
    assert registered.get_version("churn", 1).stage == "production"
    assert registered.approval_requests("churn")[0].decided_by == me

    # Move: the box offers staging first; the button says so and does exactly that (the review
    # found it sent the version to production and archived v1).
    version2 = view.locator(".jp-mlm-versions tr[data-version='2']")
    target, move = version2.locator(".jp-mlm-target"), version2.locator(".jp-mlm-move")
    assert target.input_value() == "staging"
    assert move.inner_text() == "Move" and move.get_attribute("title") == "Move v2 to staging"
    offered = [o.get_attribute("value") for o in target.locator("option").all()]
    assert offered == ["staging", "production", "archived"]  # the server's moves for v2
    move.click()
    view.locator(".jp-mlm-notice", has_text="v2 is now in staging").wait_for(timeout=15_000)
    wait_for_stage(page, 2, "staging")
    assert [registered.get_version("churn", n).stage for n in (1, 2)] == ["production", "staging"]
    screenshot(page, "registry-move")

    # Request: choosing production turns the button into a request; nothing moves yet.
    target.select_option("production")
    assert move.inner_text() == "Request" and "another person must approve" in (move.get_attribute("title") or "")
    view.locator(".jp-mlm-comment").fill("better accuracy")
    move.click()
    view.locator(".jp-mlm-notice", has_text="Requested production for v2").wait_for(timeout=15_000)
    pending = registered.approval_requests("churn", status="pending")
    assert [(r.version, r.to_stage, r.requested_by) for r in pending] == [(2, "production", me)]
    assert registered.get_version("churn", 2).stage == "staging"
    mine = view.locator(f".jp-mlm-request[data-request='{pending[0].id}']")
    mine.wait_for()
    assert mine.locator(".jp-mlm-approve").is_disabled()
    assert f"{me} requested this transition" in mine.locator(".jp-mlm-refusal").inner_text()
    screenshot(page, "registry-own-request")

    # Another person approves it (ana, from her notebook): the page follows.
    ana.decide("churn", 2, approve=True, comment="agreed")
    wait_for_stage(page, 2, "production")
    wait_for_stage(page, 1, "archived")

    # Reject: ana asks for production for a new v3; the browser's user rejects it.
    digest = registered.objects.put_bytes(b"v3 weights")
    ana.add_version("churn", digest=digest, size=10, flavor="file", serializer="file", filename="w.bin",
                    run_id=None, signature=None, profile_digest=None, description="")  # fmt: skip
    request3 = ana.transition("churn", 3, "production", comment="even better")
    asked = view.locator(f".jp-mlm-request[data-request='{request3.id}']")  # type: ignore[union-attr]
    asked.wait_for(timeout=20_000)
    view.locator(".jp-mlm-comment").fill("not on a Friday")
    asked.locator(".jp-mlm-reject").click()
    view.locator(".jp-mlm-notice", has_text="Rejected v3 → production").wait_for(timeout=15_000)
    decided = registered.approval_requests("churn", request_id=request3.id)[0]  # type: ignore[union-attr]
    assert (decided.status, decided.decided_by, decided.decision_comment) == ("rejected", me, "not on a Friday")
    assert registered.get_version("churn", 3).stage == version_stage(page, 3) == "none"
    assert "rejected by" in view.locator(f"tr[data-request='{request3.id}']").inner_text()  # type: ignore[union-attr]

    # Roll back: v1 back in production, v2 archived, as shown.
    view.locator(".jp-mlm-comment").fill("latency regression")
    view.locator(".jp-mlm-rollback").click()
    view.locator(".jp-mlm-notice", has_text="v1 is in production again").wait_for(timeout=15_000)
    wait_for_stage(page, 2, "archived")
    assert [registered.get_version("churn", n).stage for n in (1, 2)] == ["production", "archived"]
    assert version_stage(page, 1) == "production"

    # Alias: pick v2, point @champion at it.
    view.locator(".jp-mlm-versions tr[data-version='2'] td").first.click()
    view.locator(".jp-mlm-card[data-version='2']").wait_for(timeout=15_000)
    view.get_by_label("Alias").fill("champion")
    view.locator(".jp-mlm-set-alias", has_text="Point at v2").click()
    view.locator(".jp-mlm-notice", has_text="@champion → v2").wait_for(timeout=15_000)
    view.locator(".jp-mlm-versions tr[data-version='2'] .jp-mlm-alias", has_text="@champion").wait_for()
    assert registered.version_by_alias("churn", "champion").version == 2  # type: ignore[union-attr]

    audit = view.locator(".jp-mlm-audit tbody tr")
    actions = [audit.nth(i).get_attribute("data-action") for i in range(audit.count())]
    assert actions[:3] == ["alias", "restore", "rollback"] and "reject" in actions
    view.locator(".jp-mlm-verify").click()
    view.locator(".jp-mlm-ok", has_text="registry state verified").wait_for(timeout=15_000)
    assert registered.verify_audit().ok
    screenshot(page, "registry-model")

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
