"""Alert rules: a small grammar, parsed (never ``eval``-ed).

Grammar (case-insensitive words)::

    rule      := metric operator NUMBER [("per" | "within" | "over") DURATION]
    metric    := NAME | NAME "(" COLUMN ")"
    operator  := "<" | "<=" | ">" | ">=" | "==" | "!="
    DURATION  := NUMBER ("s" | "m" | "h" | "d" | "w")

Metrics: performance — ``accuracy``, ``precision``, ``recall``, ``f1``, ``roc_auc``,
``log_loss``, ``mae``, ``rmse``, ``r2`` (on rows whose labels arrived); drift —
``drift_share``, ``psi(COLUMN)``, ``drift(COLUMN)`` (the column's test score),
``prediction_psi``; volume and data — ``rows``, ``missing_share(COLUMN)``, ``mean(COLUMN)``;
latency — ``p50_latency_ms``, ``p95_latency_ms``, ``p99_latency_ms``, ``mean_latency_ms``.
The window defaults to one hour. Examples: ``roc_auc < 0.78``, ``drift_share >= 0.5``,
``psi(tenure) > 0.2``, ``p95_latency_ms > 200``, ``rows < 100 per 1h``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import UsageError
from ..stats.performance import CLASSIFICATION, REGRESSION

DEFAULT_WINDOW_MS = 3_600_000
UNITS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
PLAIN = (
    *CLASSIFICATION,
    *REGRESSION,
    "drift_share",
    "prediction_psi",
    "rows",
    "p50_latency_ms",
    "p95_latency_ms",
    "p99_latency_ms",
    "mean_latency_ms",
)
WITH_COLUMN = ("psi", "drift", "missing_share", "mean")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
FORM = "e.g. roc_auc < 0.78, psi(tenure) > 0.2 or rows < 100 per 1h"

_RULE = re.compile(
    r"""^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*
        (?:\(\s*(?P<column>[^()\s]{1,250})\s*\))?\s*
        (?P<op><=|>=|==|!=|<|>)\s*
        (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*
        (?:(?:per|within|over)\s+(?P<window>\d+)\s*(?P<unit>[smhdw]))?\s*$""",
    re.VERBOSE | re.IGNORECASE,
)


@dataclass(frozen=True)
class Rule:
    metric: str
    column: str | None
    op: str
    threshold: float
    window_ms: int
    text: str

    def holds(self, value: float | None) -> bool:
        """Whether the alert condition is met (a metric with no value never fires)."""
        return value is not None and OPERATORS[self.op](value, self.threshold)


def window_ms(text: str) -> int:
    """``"1h"`` → 3,600,000; the duration words of rules and reports."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text or "", re.IGNORECASE)
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"a window is a number and a unit (s, m, h, d, w), e.g. 1h or 7d, not {text!r}")
    return int(match.group(1)) * UNITS[match.group(2).lower()]


def parse_rule(text: str) -> Rule:
    if not isinstance(text, str) or len(text) > 500:
        raise UsageError(f"a rule is text of at most 500 characters, {FORM}")
    match = _RULE.match(text)
    if not match:
        raise UsageError(f"cannot read the rule {text!r}; write METRIC OP NUMBER [per DURATION], {FORM}")
    name, column = match.group("name").lower(), match.group("column")
    if column is None and name not in PLAIN:
        hint = f"; {name}(COLUMN) names a column" if name in WITH_COLUMN else ""
        raise UsageError(
            f"unknown metric {name!r} in rule {text!r}{hint}; metrics: {', '.join(PLAIN)}, "
            f"{', '.join(m + '(COLUMN)' for m in WITH_COLUMN)}"
        )
    if column is not None and name not in WITH_COLUMN:
        raise UsageError(f"{name} takes no column in rule {text!r}; these do: {', '.join(WITH_COLUMN)}")
    window = DEFAULT_WINDOW_MS
    if match.group("window"):
        window = window_ms(match.group("window") + match.group("unit"))
    canonical = f"{name}({column})" if column else name
    suffix = f" per {match.group('window')}{match.group('unit').lower()}" if match.group("window") else ""
    return Rule(
        name,
        column,
        match.group("op"),
        float(match.group("number")),
        window,
        f"{canonical} {match.group('op')} {match.group('number')}{suffix}",
    )
