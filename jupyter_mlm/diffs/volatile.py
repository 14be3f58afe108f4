"""What run diffs ignore unless asked for everything (``strict=True``, ``--all``).

Each field here changes when a notebook is merely re-executed, re-opened or run elsewhere,
never because the user changed their work; left in, every cell of two runs "differs" and the
real changes drown. The execution log and environment sections report order and versions.

Cells:
- ``execution_count``, and the ``execution_count`` of ``execute_result`` outputs;
- cell metadata ``execution`` (JupyterLab's recordTiming, nbclient, papermill), ``ExecuteTime``
  (the ExecuteTime extension), ``papermill`` (per-cell timing), ``trusted`` (classic Notebook),
  ``collapsed``, ``scrolled`` (view state);
- the ``model_id`` of ipywidgets outputs (new on every run).

Notebook metadata:
- ``widgets`` (saved widget state), ``papermill``, ``mlm`` (this package's notebook id: a copy has
  its own), ``language_info`` (the environment section reports the Python version),
  ``kernelspec.display_name`` (a label, the kernel's ``name`` still counts), ``toc``,
  ``varInspector``, ``vscode`` (editor state).
"""

from __future__ import annotations

from typing import Any

CELL_METADATA = frozenset({"execution", "ExecuteTime", "papermill", "trusted", "collapsed", "scrolled"})
NOTEBOOK_METADATA = frozenset({"widgets", "papermill", "mlm", "language_info", "toc", "varInspector", "vscode"})
KERNELSPEC_FIELDS = frozenset({"display_name"})
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _steady_output(output: dict[str, Any]) -> dict[str, Any]:
    if output.get("output_type") == "execute_result":
        output = {**output, "execution_count": None}
    data = output.get("data")
    if isinstance(data, dict) and isinstance(data.get(WIDGET_VIEW), dict):
        output = {**output, "data": {**data, WIDGET_VIEW: {**data[WIDGET_VIEW], "model_id": None}}}
    return output


def steady_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """The cell without its volatile fields (see the module docstring)."""
    steady = dict(cell)
    metadata = steady.get("metadata")
    if isinstance(metadata, dict) and not CELL_METADATA.isdisjoint(metadata):
        steady["metadata"] = {k: v for k, v in metadata.items() if k not in CELL_METADATA}
    if steady.get("cell_type") == "code":
        steady["execution_count"] = None
        outputs = steady.get("outputs")
        if outputs:
            steady["outputs"] = [_steady_output(o) for o in outputs]
    return steady


def steady_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Notebook metadata without its volatile fields."""
    steady = {k: v for k, v in metadata.items() if k not in NOTEBOOK_METADATA}
    kernelspec = steady.get("kernelspec")
    if isinstance(kernelspec, dict):
        steady["kernelspec"] = {k: v for k, v in kernelspec.items() if k not in KERNELSPEC_FIELDS}
    return steady
