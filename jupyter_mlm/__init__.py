"""jupyter_mlm: machine-learning model management inside Jupyter.

The server extension and the IPython extension are imported lazily by their entry points,
so ``import jupyter_mlm`` stays cheap in a kernel.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("jupyter_mlm")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-mlm"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.app import MLMExtension

    return [{"module": "jupyter_mlm", "app": MLMExtension}]
