"""The story's own JupyterLab (its root a copy of binder/, its own store) and the shared browser
fixtures: the sidebar then shows what the demos made and nothing else."""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..ui.conftest import LabServer, browser, jp_asyncio_loop, jp_server_cleanup, page, running_lab

__all__ = ["browser", "jp_asyncio_loop", "jp_server_cleanup", "page", "story_lab"]

REPO = Path(__file__).resolve().parents[2]
BINDER = REPO / "binder"


def make_lab_default_url() -> str:
    """The page `make lab` opens first, read from the Makefile's recipe."""
    found = re.search(r"--LabApp\.default_url=(\S+)", (REPO / "Makefile").read_text())
    assert found, "make lab names no default_url"
    return found.group(1)


@pytest.fixture(scope="package")
def story_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    root = tmp_path_factory.mktemp("binder")
    for shipped in BINDER.glob("*.ipynb"):
        shutil.copy(shipped, root / shipped.name)
    # The notebooks call `jupyter mlm …`: the venv's bin first, as `make lab` has it.
    extra = (f"--LabApp.default_url={make_lab_default_url()}",)
    with running_lab(tmp_path_factory, root=root, path_first=Path(sys.executable).parent, extra=extra) as lab:
        yield lab
