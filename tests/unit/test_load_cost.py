"""What ``import jupyter_mlm`` and ``%load_ext jupyter_mlm`` load: the store (SQLAlchemy,
Alembic), the registry and the server stay out until first used, which is what keeps loading
the extension cheap. Checked by module, never by the clock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = [
    "sqlalchemy",
    "alembic",
    "jupyter_mlm.store",
    "jupyter_mlm.registry",
    "jupyter_mlm.server",
    "tornado",
    "nbdime",
]

PROBE = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "jupyter_mlm")
import jupyter_mlm as mlm
loaded = [name for name in json.loads(sys.argv[1]) if name in sys.modules]
shell.run_cell("x = 1")  # the per-cell hooks do not open the store either
loaded_after_cell = [name for name in json.loads(sys.argv[1]) if name in sys.modules]
print(json.dumps([loaded, loaded_after_cell, callable(mlm.log_metric)]))
"""


def test_loading_the_extension_leaves_the_store_and_server_unloaded(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={"MLM_STORE_URI": str(tmp_path / "store"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    loaded, loaded_after_cell, ok = json.loads(result.stdout.strip().splitlines()[-1])
    assert (loaded, loaded_after_cell, ok) == ([], [], True)
    assert not (tmp_path / "store").exists()


def test_model_version_is_still_importable_from_the_package() -> None:
    from jupyter_mlm import ModelVersion
    from jupyter_mlm.registry.version import ModelVersion as Defined

    assert ModelVersion is Defined
