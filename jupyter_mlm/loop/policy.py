"""Promotion and rollback policies, decided from monitoring data.

``promote_if`` compares the challenger's shadow predictions with the champion's answers on the
same labeled requests: ``challenger.roc_auc >= champion.roc_auc + 0.01`` (or a fixed bound:
``challenger.accuracy > 0.9``). When it holds on at least ``min_rows`` labeled rows, the
challenger is moved to production — a request, when the registry wants an approval for that
stage: the loop stops there, and says so, until another person approves.

``rollback_if`` watches a version after it entered production: ``roc_auc < previous.roc_auc -
0.02 within 1d`` compares its metric on rows labeled since its promotion with the previous
version's on the same length of time before; within the window after a promotion, when it holds
on ``min_rows`` rows, the previous version is put back (``Governance.rollback``).

A small parsed grammar, never ``eval``. Every decision is an audit event naming the comparison
it rests on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..entities import ApprovalRequest
from ..errors import UsageError
from ..monitoring.rules import window_ms
from ..registry import Governance, resolve
from ..stats.performance import aligned_predictions, metrics
from ..store import Store
from .compare import METRICS, compare_on_traffic

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_OPS = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}
_PROMOTE = re.compile(
    rf"^\s*challenger\.(?P<metric>\w+)\s*(?P<op>>=|<=|>|<)\s*(?:(?:champion\.(?P<other>\w+))\s*"
    rf"(?:(?P<sign>[-+])\s*(?P<margin>{_NUMBER}))?|(?P<bound>{_NUMBER}))\s*$"
)
_ROLLBACK = re.compile(
    rf"^\s*(?P<metric>\w+)\s*(?P<op>>=|<=|>|<)\s*(?:(?:previous\.(?P<other>\w+))\s*"
    rf"(?:(?P<sign>[-+])\s*(?P<margin>{_NUMBER}))?|(?P<bound>{_NUMBER}))\s*within\s+(?P<window>\w+)\s*$"
)


@dataclass(frozen=True)
class Condition:
    text: str
    metric: str
    op: str
    relative: bool  # against the other version's metric (plus margin), else a fixed bound
    offset: float
    window: str | None = None

    def holds(self, value: float | None, other: float | None) -> bool:
        if value is None or (self.relative and other is None):
            return False
        target = (other or 0.0) + self.offset if self.relative else self.offset
        return bool(_OPS[self.op](value, target))


def _parse(text: Any, pattern: re.Pattern[str], example: str) -> Condition:
    if not isinstance(text, str):
        raise UsageError(f"a policy condition is a text such as {example!r}")
    found = pattern.match(text)
    if found is None:
        raise UsageError(f"cannot read {text!r}; write it like {example!r}")
    metric = found["metric"]
    if metric not in METRICS or (found["other"] and found["other"] != metric):
        raise UsageError(f"{text!r}: compare one metric ({', '.join(METRICS)}) on both sides")
    relative = found["other"] is not None
    offset = (
        float(found["bound"]) if not relative else float(found["margin"] or 0) * (-1 if found["sign"] == "-" else 1)
    )
    window = found.groupdict().get("window")
    if window is not None:
        window_ms(window)
    return Condition(text.strip(), metric, found["op"], relative, offset, window)


def parse_promote(text: Any) -> Condition:
    return _parse(text, _PROMOTE, "challenger.roc_auc >= champion.roc_auc + 0.01")


def parse_rollback(text: Any) -> Condition:
    return _parse(text, _ROLLBACK, "roc_auc < previous.roc_auc - 0.02 within 1d")


def check_policy(spec: dict[str, Any]) -> dict[str, Any]:
    """A policy as stored: conditions re-parsed, defaults filled."""
    out: dict[str, Any] = {
        "promote_if": None, "rollback_if": None, "min_rows": 500, "challenger": "challenger", "window": "7d",
    }  # fmt: skip
    unknown = set(spec) - set(out)
    if unknown:
        raise UsageError(f"unknown policy setting {sorted(unknown)[0]!r} (settings: {', '.join(out)})")
    out.update({k: v for k, v in spec.items() if v is not None})
    if out["promote_if"] is None and out["rollback_if"] is None:
        raise UsageError("a policy says promote_if=..., rollback_if=..., or both")
    if out["promote_if"] is not None:
        out["promote_if"] = parse_promote(out["promote_if"]).text
    if out["rollback_if"] is not None:
        out["rollback_if"] = parse_rollback(out["rollback_if"]).text
    if isinstance(out["min_rows"], bool) or not isinstance(out["min_rows"], int) or out["min_rows"] < 1:
        raise UsageError("min_rows must be a positive whole number")
    window_ms(out["window"])
    return out


def _metric_of(joined: dict[str, np.ndarray] | None, metric: str) -> tuple[float | None, int]:
    if joined is None or len(joined["labels"]) == 0:
        return None, 0
    labels = joined["labels"]
    predictions = aligned_predictions(labels, joined["predictions"])
    scores = joined.get("scores")
    if scores is not None:
        scores = np.asarray(scores, dtype=float)
        scores = scores[:, -1] if scores.ndim == 2 else scores
    return metrics(labels, predictions, scores).get(metric), len(labels)


class Loop:
    """Policies of one store, decided as ``actor`` (the process's identity)."""

    def __init__(self, store: Store, actor: str) -> None:
        self.store = store
        self.actor = actor

    def set_policy(self, model: str, spec: dict[str, Any] | None) -> dict[str, Any] | None:
        from ..registry import check_model_name

        name = check_model_name(model)
        self.store.get_model(name)
        checked = None if spec is None else check_policy(spec)
        self.store.set_loop_policy(name, checked, self.actor)
        return checked

    def evaluate(self, model: str) -> list[dict[str, Any]]:
        """Decide ``model``'s policy on the data as it stands; returns what was done."""
        spec = self.store.loop_policy(model)
        if spec is None:
            return []
        done: list[dict[str, Any]] = []
        if spec.get("rollback_if"):
            done += self._rollback(model, spec)
        if spec.get("promote_if") and not done:
            done += self._promote(model, spec)
        return done

    def evaluate_all(self) -> list[dict[str, Any]]:
        done = []
        for model in self.store.monitored_models():
            done += self.evaluate(model)
        return done

    # -- promotion -------------------------------------------------------------------------------
    def _promote(self, model: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
        from ..errors import MLMError

        condition = parse_promote(spec["promote_if"])
        governance = Governance(self.store, self.actor)
        policy = governance.policy()
        try:
            champion = resolve(self.store, f"{model}@{policy.production}", policy)
            challenger = resolve(self.store, f"{model}@{spec['challenger']}", policy)
        except MLMError:
            return []
        if challenger.version == champion.version or challenger.stage == policy.archived:
            return []  # nothing to promote, or a version that was retired (or rolled back) already
        pending = [r for r in governance.pending(model) if r.version == challenger.version]
        if pending:
            return []  # waiting for a person: the sidebar shows the request
        try:
            comparison = compare_on_traffic(self.store, self.actor, model, policy.production, spec["challenger"],
                                            condition.metric, spec["window"], resamples=200)  # fmt: skip
        except UsageError:
            return []
        if comparison.rows < spec["min_rows"] or not condition.holds(comparison.value_b, comparison.value_a):
            return []
        comment = (f"promotion policy: {condition.text} ({comparison.value_b:.4g} vs {comparison.value_a:.4g} on "
                   f"{comparison.rows} labeled rows; comparison {comparison.id})")  # fmt: skip
        result = governance.transition(model, challenger.version, policy.production, comment)
        action = "promotion_requested" if isinstance(result, ApprovalRequest) else "promoted"
        event = {"action": action, "model": model, "version": challenger.version, "from": champion.version,
                 "comparison": comparison.id, "rule": condition.text}  # fmt: skip
        self._log(model, action, event)
        return [event]

    # -- rollback --------------------------------------------------------------------------------
    def _rollback(self, model: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
        from ..errors import MLMError
        from ..monitoring.service import Monitor

        condition = parse_rollback(spec["rollback_if"])
        monitor = Monitor(self.store, self.actor)
        promotions = monitor.promotions(model)
        if len(promotions) < 2:
            return []
        latest, previous = promotions[-1], promotions[-2]
        window = window_ms(condition.window or "1d")
        newest = self.store.latest_batch(model)
        now = newest.ts_ms if newest is not None else 0
        # Only a promotion is watched: a rollback (a "restore") is where the loop came back to.
        if latest["action"] != "transition" or now - latest["ts_ms"] > window:
            return []
        if latest["version"] == previous["version"]:
            return []
        policy = Governance(self.store, self.actor).policy()
        try:
            current = resolve(self.store, f"{model}@{policy.production}", policy)
        except MLMError:
            return []
        if current.version != latest["version"]:
            return []
        batches = self.store.batches(model, latest["ts_ms"], None, current.version)
        value, rows = _metric_of(monitor._joined(model, batches), condition.metric)
        other = None
        if condition.relative:
            span = max(now - latest["ts_ms"], 1)
            before = self.store.batches(
                model, latest["ts_ms"] - max(span, window), latest["ts_ms"], previous["version"]
            )
            other, _ = _metric_of(monitor._joined(model, before), condition.metric)
        if rows < spec["min_rows"] or not condition.holds(value, other):
            return []
        comment = (f"automatic rollback: {condition.text} ({value:.4g} vs "
                   f"{'—' if other is None else f'{other:.4g}'} on {rows} labeled rows)")  # fmt: skip
        restored = Governance(self.store, self.actor).rollback(model, comment)
        event = {"action": "rolled_back", "model": model, "version": current.version, "to": restored.version,
                 "value": value, "previous_value": other, "rows": rows, "rule": condition.text}  # fmt: skip
        self._log(model, "rolled_back", event)
        return [event]

    def _log(self, model: str, action: str, event: dict[str, Any]) -> None:
        self.store.record_loop_event(self.actor, action, model, event)
