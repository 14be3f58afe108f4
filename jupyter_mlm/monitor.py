"""``mlm.monitor``: production monitoring from a notebook or a script.

``log`` batches against a model version, ``log_labels`` when labels arrive, ``report`` and
``series`` to look, ``add_rule`` for alerts. See ``jupyter_mlm.monitoring`` for the core.
"""

from .tracking.monitor_api import (
    add_rule,
    alerts,
    arms,
    compare,
    delete_rule,
    evaluate,
    jobs,
    labeled_rows,
    log,
    log_labels,
    log_parquet,
    log_profile,
    merge_profiles,
    policy,
    profile,
    reference_bins,
    report,
    retrain,
    rules,
    series,
    status,
)

__all__ = [
    "add_rule", "alerts", "arms", "compare", "delete_rule", "evaluate", "jobs", "labeled_rows", "log", "log_labels",
    "log_parquet", "log_profile", "merge_profiles", "policy", "profile", "reference_bins", "report", "retrain",
    "rules", "series", "status",
]  # fmt: skip
