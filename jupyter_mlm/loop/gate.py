"""The CI gate: does a candidate version beat the one it would replace on held-out rows?

The decision is ``compare_models``' difference, oriented so that positive is better (higher for
ROC-AUC or accuracy, lower for log loss or RMSE), against ``min_delta``; a pass may promote the
candidate (a request, when the registry wants an approval). Faces (``jupyter mlm gate``) read the
data and print the verdict; they decide nothing.
"""

from __future__ import annotations

from typing import Any

from ..entities import ApprovalRequest
from ..registry import Governance
from ..stats.performance import HIGHER_IS_BETTER
from ..store import Store
from .compare import as_dict, compare_models


def gate(
    store: Store,
    actor: str,
    model: str,
    version: int,
    data: Any,
    labels: Any,
    against: str = "production",
    metric: str = "roc_auc",
    min_delta: float = 0.0,
    promote: bool = False,
    cache_dir: Any = None,
    trusted: bool = False,
    publishers: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The verdict: ``passed``, the recorded comparison, a one-line ``summary``, and with
    ``promote`` what happened (``promotion``: requested or done)."""
    reference = against if "/" in against else f"{model}@{against}"
    row = compare_models(store, actor, reference, f"{model}/{version}", data, labels, metric, cache_dir, trusted,
                         publishers)  # fmt: skip
    gain = None if row.delta is None else (row.delta if row.metric in HIGHER_IS_BETTER else -row.delta)
    passed = gain is not None and gain >= min_delta
    if gain is None:
        summary = f"{row.metric} could not be computed on these rows"
    else:
        interval = "" if row.ci_low is None else f", 95 % interval [{row.ci_low:+.4f}, {row.ci_high:+.4f}]"
        summary = (f"{model}/{version} {row.metric} {row.value_b:.4f} vs {reference} (v{row.version_a}) "
                   f"{row.value_a:.4f}: delta {row.delta:+.4f}{interval} on {row.rows} rows")  # fmt: skip
    verdict: dict[str, Any] = {"passed": passed, "summary": summary, "min_delta": min_delta,
                               "comparison": as_dict(row)}  # fmt: skip
    if passed and promote:
        governance = Governance(store, actor)
        result = governance.transition(model, version, governance.policy().production, f"gate: {summary}")
        verdict["promotion"] = "requested" if isinstance(result, ApprovalRequest) else "done"
    return verdict
