"""The level 0 → 3 demo notebooks under binder/ run top to bottom in a real kernel, each on an
empty store of its own, and leave in the store what each is meant to show: the runs, versions,
alerts, jobs and audit events — not just "no exception"."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_mlm.diffs.runs import diff_runs
from jupyter_mlm.store import Store, open_store

BINDER = Path(__file__).resolve().parents[2] / "binder"
DEMOS = sorted(BINDER.glob("[0-9]-*.ipynb"))


def test_the_four_levels_each_have_a_demo() -> None:
    assert [p.name.split("-")[0] for p in DEMOS] == ["0", "1", "2", "3"]


def _runs(store: Store, experiment: str) -> list[Any]:
    runs, _ = store.search_runs(experiment, None, "start", None)
    return runs


def check_level0(store: Store, folder: Path) -> None:
    runs = _runs(store, "level0-sweep")
    assert len(runs) == 6 and {r.info.status for r in runs} == {"finished"}
    assert {(r.params["depth"], r.params["lr"]) for r in runs} == {
        (d, lr) for d in ("1", "2", "3") for lr in ("0.05", "0.3")
    }
    for run in runs:
        assert 0.9 < run.metrics["auc"].value <= 1.0 and run.tags["family"] == "gbm"
        assert len(store.get_metric_series(run.info.id, "test_loss").points()) == 80


def check_level1(store: Store, folder: Path) -> None:
    first, second = _runs(store, "level1-versioning")
    assert (first.info.name, second.info.name) == ("logreg-C1", "logreg-C1-new-data")
    changed = diff_runs(store, first.info.id, second.info.id).data["changed"]
    assert [Path(f["path"]).name for f in changed] == ["cancer.csv"]
    versions = store.list_versions("cancer-classifier")
    assert [(v.version, v.stage, v.run_id) for v in versions] == [
        (1, "staging", first.info.id), (2, "production", second.info.id),
    ]  # fmt: skip


def check_level2(store: Store, folder: Path) -> None:
    first, second, reproduced = _runs(store, "level2-reproducibility")
    diff = diff_runs(store, first.info.id, second.info.id)
    assert diff.notebook is not None
    assert diff.notebook["summary"] == {"added": 0, "removed": 0, "changed": 1, "unchanged": 3}
    assert [Path(s["path"]).name for s in diff.sources["changed"]] == ["features.py"]
    assert not diff.sources["added"] and not diff.sources["removed"]
    assert [Path(f["path"]).name for f in diff.data["changed"]] == ["cancer.csv"]
    assert reproduced.tags["reproduces"] == first.info.id
    assert reproduced.metrics["cv_roc_auc"].value == first.metrics["cv_roc_auc"].value
    restored = folder / "level2-project" / "restored"
    assert sorted(p.name for p in restored.iterdir()) == ["features.py", "train.ipynb"]
    assert "texture_ratio" not in (restored / "features.py").read_text()


def check_level3(store: Store, folder: Path) -> None:
    versions = store.list_versions("cancer-service")
    assert [(v.version, v.stage, v.aliases) for v in versions] == [
        (1, "production", ("champion",)), (2, "archived", ("challenger",)),
    ]  # fmt: skip
    [alert] = store.alerts("cancer-service")
    assert alert.expression == "roc_auc < 0.85" and alert.value is not None and alert.value < 0.85
    [job] = store.jobs("cancer-service")
    assert job.status == "succeeded" and job.alert_id == alert.id and job.run_id is not None
    retrain = store.get_run(job.run_id)
    assert retrain.info.name == "retrain" and int(retrain.params["production_rows"]) == 200
    assert versions[1].run_id == job.run_id
    shadow = sum(b.rows for b in store.batches("cancer-service") if (b.version, b.source) == (2, "shadow"))
    assert shadow >= 200
    actions = [e.action for e in store.loop_events("cancer-service")]
    steps = ["job_queued", "job_succeeded", "compare", "promotion_requested", "rolled_back"]
    assert all(step in actions for step in steps), actions
    assert [actions.index(step) for step in steps] == sorted(actions.index(step) for step in steps)
    audit = [e.action for e in store.audit_events("cancer-service", newest_first=False)]
    assert audit.count("approve") == 2 and "rollback" in audit
    assert store.verify_audit().ok


CHECKS: dict[str, Callable[[Store, Path], None]] = {
    "0": check_level0, "1": check_level1, "2": check_level2, "3": check_level3,
}  # fmt: skip


@pytest.mark.parametrize("notebook", DEMOS, ids=[p.name for p in DEMOS])
def test_demo_runs_top_to_bottom_and_shows_what_it_says(
    notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLM_STORE_URI", str(tmp_path / "store"))
    # The notebooks call `jupyter mlm`; the venv's bin must come first, as under `make lab`.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for shipped in BINDER.glob("*.ipynb"):  # level 3's rule runs retrain.ipynb beside it
        shutil.copy(shipped, tmp_path / shipped.name)
    copy = tmp_path / notebook.name
    # As JupyterLab would: the kernel learns which notebook it runs, so snapshots include it.
    monkeypatch.setenv("JPY_SESSION_NAME", str(copy))
    nb = nbformat.read(copy, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert [o for o in outputs if o.output_type == "error"] == []
    assert not [o.text for o in outputs if o.output_type == "stream" and "Traceback" in o.text]
    store = open_store(str(tmp_path / "store"))
    try:
        CHECKS[notebook.name[0]](store, tmp_path)
    finally:
        store.close()
