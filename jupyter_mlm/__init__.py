"""jupyter_mlm: machine-learning model management inside Jupyter.

The server extension and the IPython extension are imported lazily by their entry points,
so ``import jupyter_mlm`` stays cheap in a kernel.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .errors import Conflict, MLMError, NotFound, UsageError
from .tracking import (
    Run,
    active_run,
    approve,
    archive,
    archive_experiment,
    audit_log,
    check,
    compare_models,
    delete_alias,
    delete_model_version,
    delete_run,
    diff,
    diff_notebooks,
    end_run,
    flush,
    get_metric_history,
    get_model_version,
    get_run,
    group_runs,
    list_experiments,
    list_model_versions,
    list_models,
    load_model,
    log_artifact,
    log_data,
    log_dict,
    log_figure,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    pending_requests,
    purge_runs,
    register_model,
    registry_policy,
    reject,
    rename_experiment,
    rename_run,
    reproduce,
    restore,
    restore_experiment,
    restore_run,
    rollback,
    search_runs,
    set_alias,
    set_metric_direction,
    set_note,
    set_registry_policy,
    set_run_tags,
    set_tag,
    set_tags,
    start_run,
    transition,
    verify_audit,
)

try:
    __version__ = version("jupyter_mlm")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"


def __getattr__(name: str) -> Any:
    # The registry pulls in the store (SQLAlchemy): loaded when first asked for, not at import.
    if name == "ModelVersion":
        from .registry.version import ModelVersion

        return ModelVersion
    if name == "monitor":  # numpy and the store load when monitoring is first used
        import importlib

        return importlib.import_module(".monitor", __name__)
    raise AttributeError(f"module 'jupyter_mlm' has no attribute {name!r}")


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-mlm"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.app import MLMExtension

    return [{"module": "jupyter_mlm", "app": MLMExtension}]


def load_ipython_extension(ipython: Any) -> None:
    from .kernel import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .kernel import unload_ipython_extension as unload

    unload(ipython)


def _attach_to_running_shell() -> None:
    """``import jupyter_mlm`` inside IPython or a kernel loads the extension as ``%load_ext``
    would: the execution log and the data reads come from the shell's hooks, and a user of the
    Python API alone would otherwise get runs without them, silently."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    # Loading is idempotent, so a later %load_ext finds everything in place (and says nothing).
    if shell is not None and hasattr(shell, "events"):
        load_ipython_extension(shell)


_attach_to_running_shell()


__all__ = [
    "Conflict",
    "MLMError",
    "ModelVersion",
    "NotFound",
    "Run",
    "UsageError",
    "__version__",
    "active_run",
    "approve",
    "archive",
    "archive_experiment",
    "audit_log",
    "check",
    "compare_models",
    "delete_alias",
    "delete_model_version",
    "delete_run",
    "diff",
    "diff_notebooks",
    "end_run",
    "flush",
    "get_metric_history",
    "get_model_version",
    "get_run",
    "group_runs",
    "list_experiments",
    "list_model_versions",
    "list_models",
    "load_model",
    "log_artifact",
    "log_data",
    "log_dict",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "pending_requests",
    "purge_runs",
    "register_model",
    "registry_policy",
    "reject",
    "rename_experiment",
    "rename_run",
    "reproduce",
    "restore",
    "restore_experiment",
    "restore_run",
    "rollback",
    "search_runs",
    "set_alias",
    "set_metric_direction",
    "set_note",
    "set_registry_policy",
    "set_run_tags",
    "set_tag",
    "set_tags",
    "start_run",
    "transition",
    "verify_audit",
]
