"""Experiment tracking: runs, params, metrics (buffered), tags, artifacts, search.

Imports nothing heavy at import time (the store, and with it SQLAlchemy, is opened on first use).
"""

from .api import (
    active_run,
    check,
    diff,
    diff_notebooks,
    end_run,
    flush,
    get_metric_history,
    get_run,
    log_artifact,
    log_data,
    log_dict,
    log_figure,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    reproduce,
    restore,
    search_runs,
    set_metric_direction,
    set_tag,
    set_tags,
    start_run,
)
from .run import Run
from .session import SESSION, TrackingSession

__all__ = [
    "SESSION",
    "Run",
    "TrackingSession",
    "active_run",
    "check",
    "diff",
    "diff_notebooks",
    "end_run",
    "flush",
    "get_metric_history",
    "get_run",
    "log_artifact",
    "log_data",
    "log_dict",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "reproduce",
    "restore",
    "search_runs",
    "set_metric_direction",
    "set_tag",
    "set_tags",
    "start_run",
]
