"""Unlimited checkpoints seen from JupyterLab's own "Revert to Checkpoint" dialog."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from .conftest import LabServer, screenshot

NOTEBOOK = "versions.ipynb"


def checkpoints(lab: LabServer) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{lab.url}api/contents/{NOTEBOOK}/checkpoints?token={lab.token}") as reply:
        return list(json.load(reply))


def wait_for_checkpoints(lab: LabServer, more_than: int) -> int:
    deadline = time.monotonic() + 30
    while (count := len(checkpoints(lab))) <= more_than:
        assert time.monotonic() < deadline, f"still {count} checkpoints of {NOTEBOOK}"
        time.sleep(0.2)
    time.sleep(0.5)  # a second, unexpected checkpoint would show up by now
    return len(checkpoints(lab))


def save_version(page: Any, source: str) -> None:
    """Edit the first cell in the browser, then "Save and Create Checkpoint" as the user would."""
    page.evaluate(
        """source => {
            const panel = window.jupyterapp.shell.currentWidget;
            panel.content.model.cells.get(0).sharedModel.setSource(source);
            return window.jupyterapp.commands.execute('docmanager:save');
        }""",
        source,
    )


def test_revert_dialog_offers_every_checkpoint_and_restores_the_oldest(page: Any, lab_server: LabServer) -> None:
    nb = new_notebook(cells=[new_code_cell("version = 0"), new_code_cell("print(version)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, lab_server.root / NOTEBOOK)
    page.goto(lab_server.lab_url(f"lab/tree/{NOTEBOOK}"))
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget?.context?.isReady", timeout=60_000)

    # JupyterLab checkpoints a notebook that has none when it opens it.
    settled = wait_for_checkpoints(lab_server, more_than=0)
    for version in (1, 2, 3):
        save_version(page, f"version = {version}")
        # jupyter_server's default FileCheckpoints would replace its one checkpoint; each save adds one here.
        assert wait_for_checkpoints(lab_server, more_than=settled) == settled + 1
        settled += 1
    total = settled

    page.evaluate("() => { window.jupyterapp.commands.execute('docmanager:restore-checkpoint'); }")
    chooser = page.locator(".jp-Dialog").filter(has_text="Choose a checkpoint")
    chooser.wait_for(timeout=30_000)
    options = chooser.locator("select option")
    assert options.count() == total  # newest first, as JupyterLab lists them
    screenshot(page, "revert-choose-checkpoint")
    chooser.locator("select").select_option(index=2)
    chooser.locator("button.jp-mod-accept").click()

    confirm = page.locator(".jp-Dialog").filter(has_text="Revert")
    confirm.locator("button.jp-mod-warn").wait_for(timeout=30_000)
    confirm.locator("button.jp-mod-warn").click()
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.content.model.cells.get(0).sharedModel.getSource()"
        " === 'version = 1'",
        timeout=30_000,
    )
    on_disk = nbformat.read(lab_server.root / NOTEBOOK, as_version=4)
    assert on_disk.cells[0].source == "version = 1"
    # Reverting keeps the history: the newer checkpoints are still there to go forward again.
    assert len(checkpoints(lab_server)) == total
    screenshot(page, "reverted-to-first-checkpoint")
