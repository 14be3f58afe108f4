"""A model's loop as one ordered story: alerts, the jobs they queued, comparisons, promotion
requests and decisions, promotions, rollbacks — read from the audit log (one sequence across
the registry, monitoring and the loop), each step with a one-line account and links by id."""

from __future__ import annotations

from typing import Any

from ..store import Store

SHOWN = {
    "alert", "add_rule", "set_loop_policy", "job_queued", "job_started", "job_succeeded", "job_failed", "compare",
    "promotion_requested", "promoted", "rolled_back", "transition", "approve", "reject", "restore",
}  # fmt: skip


def _number(value: Any) -> str:
    return "—" if value is None else f"{value:.4g}"


def describe(action: str, after: dict[str, Any]) -> str:
    """One line for an event, as people say it."""
    if action == "alert":
        return f"alert: {after.get('expression')} = {_number(after.get('value'))} on v{after.get('version')}"
    if action == "add_rule":
        suffix = " (retrains on alert)" if after.get("action") else ""
        return f"rule added: {after.get('expression')}{suffix}"
    if action == "set_loop_policy":
        policy = after.get("policy") or {}
        parts = [f"promote if {policy['promote_if']}" if policy.get("promote_if") else "",
                 f"roll back if {policy['rollback_if']}" if policy.get("rollback_if") else ""]  # fmt: skip
        return "policy: " + "; ".join(p for p in parts if p)
    if action == "job_queued":
        spec = after.get("spec") or {}
        return f"retraining job queued: {spec.get('notebook', '?')}" + (
            " (for the alert)" if after.get("alert") else ""
        )
    if action == "job_started":
        return f"job started (attempt {after.get('attempt')}) on {after.get('runner')}"
    if action in ("job_succeeded", "job_failed"):
        outcome = "succeeded" if action == "job_succeeded" else f"failed: {after.get('error', '')}"
        return f"job {outcome}" + (f", run {str(after['run'])[:8]}" if after.get("run") else "")
    if action == "compare":
        values = f"{_number(after.get('value_b'))} vs {_number(after.get('value_a'))}"
        return (f"compared v{after.get('b')} with v{after.get('a')} on {after.get('rows')} rows "
                f"({after.get('source')}): {after.get('metric')} {values}")  # fmt: skip
    if action == "promotion_requested":
        return (
            f"promotion of v{after.get('version')} requested by the policy ({after.get('rule')}): waiting for approval"
        )
    if action == "promoted":
        return f"v{after.get('version')} promoted by the policy ({after.get('rule')})"
    if action == "rolled_back":
        return (f"automatic rollback: v{after.get('version')} → v{after.get('to')} ({after.get('rule')}: "
                f"{_number(after.get('value'))} vs {_number(after.get('previous_value'))})")  # fmt: skip
    if action in ("approve", "reject"):
        return f"{'approved' if action == 'approve' else 'rejected'} v{after.get('version')} → {after.get('stage')}"
    if action == "transition":
        return f"v{after.get('version')} → {after.get('stage')}"
    if action == "restore":
        return f"v{after.get('version')} restored to {after.get('stage')}"
    return action


def timeline(store: Store, model: str) -> list[dict[str, Any]]:
    events = store.model_story(model)
    out = []
    for event in events:
        if event.action not in SHOWN:
            continue
        after = event.after or {}
        out.append({"seq": event.seq, "ts_ms": event.ts_ms, "actor": event.actor, "action": event.action,
                    "kind": event.entity_type, "text": describe(event.action, after), "after": after})  # fmt: skip
    return out
