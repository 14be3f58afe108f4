"""Every demo notebook under binder/ runs top to bottom in a real kernel."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

BINDER = Path(__file__).resolve().parents[2] / "binder"
DEMOS = sorted(BINDER.glob("*.ipynb"))


@pytest.mark.parametrize("notebook", DEMOS, ids=[p.name for p in DEMOS])
def test_demo_runs_top_to_bottom(notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLM_STORE_URI", str(tmp_path / "store"))
    # The notebooks call `jupyter mlm`; the venv's bin must come first, as under `make lab`.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    # As JupyterLab would: the kernel learns which notebook it runs, so snapshots include it.
    copy = tmp_path / notebook.name
    copy.write_bytes(notebook.read_bytes())
    monkeypatch.setenv("JPY_SESSION_NAME", str(copy))
    nb = nbformat.read(copy, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    assert (tmp_path / "store" / "mlm.db").is_file()
