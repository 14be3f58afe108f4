"""The IPython extension: registers the magics and the per-cell hooks. Loaded by ``%load_ext jupyter_mlm``."""

from __future__ import annotations

import os
import sys
from typing import Any

from .capture.data import RECORDER
from .capture.executions import LOG
from .tracking import SESSION
from .tracking.console import CONSOLE


def kernel_id_from_connection_file(path: str) -> str | None:
    """jupyter_server names connection files ``kernel-<kernel id>.json``; others (nbclient) are anonymous."""
    name = os.path.basename(path)
    return name[len("kernel-") : -len(".json")] if name.startswith("kernel-") and name.endswith(".json") else None


def _kernel_id() -> str | None:
    if "ipykernel" not in sys.modules:  # a terminal IPython, not a kernel: nothing to import for
        return None
    try:
        from ipykernel.connect import get_connection_file

        return kernel_id_from_connection_file(get_connection_file())
    except (ImportError, RuntimeError, AttributeError):
        return None


def _before_cell(info: Any) -> None:
    LOG.before(getattr(info, "cell_id", None), getattr(info, "raw_cell", "") or "")


def _after_cell(result: Any = None) -> None:
    LOG.after(bool(getattr(result, "success", True)))
    error = getattr(result, "error_in_exec", None)
    if isinstance(error, BaseException) and SESSION.stack:
        # A run spanning cells (%mlm_run start … end --status failed) is failed by this.
        CONSOLE.note_exception(error)
    # Points logged by a cell are written when it finishes, so other views see them at once.
    SESSION.flush()


COMM_TARGET = "jupyter_mlm"


def _tell_frontend(phase: str, record: Any) -> None:
    """Ask the frontend (JupyterLab, if one is attached) for the notebook as the user sees it.

    A comm is opened and closed at once, carrying the event: every frontend attached to this
    kernel receives it, reloaded pages included, and kernels without a frontend (nbclient,
    papermill) ignore it. The kernel's own snapshot is already written; the frontend's answer,
    posted to the server, completes it. For the end, the frontend answers once the cell that
    ended the run has finished (its outputs included): iopub delivers this message before that
    cell's idle status, so the frontend cannot miss the moment.
    """
    try:
        from comm import create_comm
    except ImportError:
        return
    entry = LOG.entries[-1] if LOG.entries and LOG.entries[-1].success is None else None
    from IPython import get_ipython

    shell = get_ipython()
    # The running cell's number: the frontend learns it from the shell channel, which is not
    # ordered with iopub, so the snapshot taken at iopub's idle may not have it yet.
    # IPython counts the running cell before running it (ipykernel replies execution_count - 1).
    counter = getattr(shell, "execution_count", None) if entry else None
    count = counter - 1 if isinstance(counter, int) and counter > 1 else None
    data = {"event": "snapshot", "phase": phase, "run_id": record.id, "run_name": record.name,
            "cell_id": entry.cell_id if entry else None, "execution_count": count}  # fmt: skip
    channel = create_comm(target_name=COMM_TARGET, data=data)
    channel.close()


def load_ipython_extension(ipython: Any) -> None:
    from .magics import MLMMagics

    ipython.register_magics(MLMMagics)
    if _before_cell not in ipython.events.callbacks["pre_run_cell"]:
        ipython.events.register("pre_run_cell", _before_cell)
    if _after_cell not in ipython.events.callbacks["post_run_cell"]:
        ipython.events.register("post_run_cell", _after_cell)
    SESSION.kernel_id = _kernel_id()
    if SESSION.kernel_id is not None and _tell_frontend not in SESSION.snapshot_listeners:
        SESSION.snapshot_listeners.append(_tell_frontend)
    if SESSION.capture:
        RECORDER.install()
    if not LOG.entries:
        # The cell running %load_ext started before the hooks existed; it belongs in the log.
        raw = getattr(getattr(ipython, "history_manager", None), "input_hist_raw", None) or [""]
        LOG.before(None, raw[-1] if isinstance(raw[-1], str) else "")


def unload_ipython_extension(ipython: Any) -> None:
    if _after_cell in ipython.events.callbacks["post_run_cell"]:
        ipython.events.unregister("post_run_cell", _after_cell)
    if _before_cell in ipython.events.callbacks["pre_run_cell"]:
        ipython.events.unregister("pre_run_cell", _before_cell)
    RECORDER.recording = False
    if _tell_frontend in SESSION.snapshot_listeners:
        SESSION.snapshot_listeners.remove(_tell_frontend)
    SESSION.flush()
