"""The story's own JupyterLab (its root a copy of binder/, its own store) and the shared browser
fixtures: the sidebar then shows what the demos made and nothing else."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..ui.conftest import LabServer, browser, jp_asyncio_loop, jp_server_cleanup, page, running_lab

__all__ = ["browser", "jp_asyncio_loop", "jp_server_cleanup", "page", "story_lab"]

BINDER = Path(__file__).resolve().parents[2] / "binder"


@pytest.fixture(scope="package")
def story_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    root = tmp_path_factory.mktemp("binder")
    for shipped in BINDER.glob("*.ipynb"):
        shutil.copy(shipped, root / shipped.name)
    # The notebooks call `jupyter mlm …`: the venv's bin first, as `make lab` has it.
    with running_lab(tmp_path_factory, root=root, path_first=Path(sys.executable).parent) as lab:
        yield lab
