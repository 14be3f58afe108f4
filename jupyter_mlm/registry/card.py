"""The model card: one page saying what a version is, where it came from and what happened to it."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from ..entities import ModelVersionRecord, StagePolicy
from ..store import Store
from .flavors import SAFE_SERIALIZERS
from .models import lineage, read_profile


def load_safety(serializer: str) -> str:
    if serializer in ("pickle", "joblib"):
        return (f"{serializer}: loading can run arbitrary code; load only if you trust the publisher "
                "(prefer skops, ONNX or a native format)")  # fmt: skip
    if serializer == "torch":
        return "torch state_dict, loaded with weights_only=True: no code runs"
    if serializer == "skops":
        return "skops: only trusted types are loaded unless you pass trusted=True"
    if serializer in ("file", "tar"):
        return "stored files, written into the model cache and never executed by jupyter_mlm"
    return f"{serializer} native format: loading runs no code"


STAGE_COLOURS = {"production": "#2e7d32", "staging": "#ef6c00", "archived": "#757575"}


def when(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def model_card(store: Store, record: ModelVersionRecord, policy: StagePolicy) -> dict[str, Any]:
    chain = lineage(store, record)
    history = [
        asdict(e)
        for e in store.audit_events(record.model, newest_first=False)
        if (e.after or {}).get("version") == record.version or (e.before or {}).get("version") == record.version
    ]
    approvals = [asdict(r) for r in store.approval_requests(record.model) if r.version_id == record.id]
    profile = read_profile(store, record)
    return {
        "model": record.model,
        "version": record.version,
        "stage": record.stage,
        "aliases": list(record.aliases),
        "flavor": record.flavor,
        "serializer": record.serializer,
        "safe_to_load": record.serializer in SAFE_SERIALIZERS,
        "load_safety": load_safety(record.serializer),
        "digest": record.digest,
        "size": record.size,
        "description": record.description,
        "created_by": record.created_by,
        "created_ms": record.created_ms,
        "signature": json.loads(record.signature) if record.signature else None,
        "reference_rows": profile["rows"] if profile else None,
        "lineage": chain.to_dict(),
        "history": history,
        "approvals": approvals,
        "production_stage": policy.production,
        # Comparisons this version took part in (compare_models, the CI gate, shadow traffic).
        "comparisons": [asdict(c) for c in store.comparisons(record.model, record.version)],
    }


def _event_text(event: dict[str, Any]) -> str:
    before, after = event.get("before") or {}, event.get("after") or {}
    action = event["action"]
    if action in ("transition", "rollback", "restore", "approve") and "stage" in after:
        return f"{action}: {before.get('stage', '?')} → {after['stage']}"
    if action == "request":
        return f"requested {after.get('stage')}"
    if action == "reject":
        return f"rejected {before.get('stage')} → (request {str(after.get('request', ''))[:8]})"
    if action == "register":
        return f"registered in {after.get('stage')}"
    if action in ("alias", "delete_alias"):
        return f"{action} {(after or before).get('alias', '')!s}"
    return str(action)


def _comparison_text(c: dict[str, Any], version: int) -> str:
    first = c["version_a"] == version
    other = c["version_b"] if first else c["version_a"]
    mine, theirs = (c["value_a"], c["value_b"]) if first else (c["value_b"], c["value_a"])

    def number(value: float | None) -> str:
        return "—" if value is None else f"{value:.4f}"

    interval = "" if c["ci_low"] is None else f", b−a 95 % [{c['ci_low']:+.4f}, {c['ci_high']:+.4f}]"
    return (f"compared with v{other} ({c['source']}, {c['rows']} rows): {c['metric']} {number(mine)} "
            f"vs {number(theirs)}{interval}")  # fmt: skip


def card_lines(card: dict[str, Any]) -> list[str]:
    chain = card["lineage"]
    out = [
        f"{card['model']} version {card['version']}  [{card['stage']}]"
        + (f"  aliases: {', '.join(card['aliases'])}" if card["aliases"] else ""),
        f"flavor {card['flavor']} ({card['serializer']}), {card['size']:,} bytes, blake3 {card['digest']}",
        f"loading: {card['load_safety']}",
        f"registered by {card['created_by']} at {when(card['created_ms'])}",
    ]
    if card["description"]:
        out.append(card["description"])
    run = chain.get("run")
    if run:
        out.append(f"source run: {run['name']} ({run['id'][:8]}, {run['status']}) in {run['experiment']}")
        out.append("metrics: " + (", ".join(f"{k}={v:.6g}" for k, v in sorted(run["metrics"].items())) or "none"))
        out.append("params: " + (", ".join(f"{k}={v}" for k, v in sorted(run["params"].items())) or "none"))
    else:
        out.append("source run: none")
    out.append(f"data: {len(chain['data'])} file(s)")
    out += [f"  {d['digest'][:12]}  {d['path']}" for d in chain["data"]]
    env = chain.get("environment")
    if env:
        git = env.get("git") or {}
        out.append(
            f"environment: Python {env['python']} on {env['platform']}, {env['packages']} packages"
            + (f", git {str(git.get('commit', ''))[:10]}{' (dirty)' if git.get('dirty') else ''}" if git else "")
        )
    if chain.get("notebook"):
        out.append(
            f"notebook: {chain['notebook']['path'] or '(no file)'} snapshot {chain['notebook']['manifest'][:12]}"
        )
    out.append("history:")
    out += [f"  {when(e['ts_ms'])}  {e['actor']:<12} {_event_text(e)}" + (f" — {e['comment']}" if e["comment"] else "")
            for e in card["history"]]  # fmt: skip
    out.append(f"approvals: {len(card['approvals'])}")
    out += [
        f"  {a['to_stage']}: {a['status']} (asked by {a['requested_by']}"
        + (f", decided by {a['decided_by']}" if a["decided_by"] else "")
        + ")"
        + (f" — {a['decision_comment']}" if a["decision_comment"] else "")
        for a in card["approvals"]
    ]
    out += [_comparison_text(c, card["version"]) for c in card.get("comparisons", [])]
    return out


def stage_badge(stage: str) -> str:
    colour = STAGE_COLOURS.get(stage, "#1976d2" if stage != "none" else "#9e9e9e")
    return (
        f'<span style="background:{colour};color:#fff;border-radius:8px;padding:1px 7px;font-size:0.85em">'
        f"{html.escape(stage)}</span>"
    )


def card_html(card: dict[str, Any]) -> str:
    e = html.escape
    chain = card["lineage"]
    run = chain.get("run")

    def table(rows: list[tuple[str, str]]) -> str:
        return (
            "<table>"
            + "".join(f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in rows)
            + "</table>"
        )

    parts = [
        f"<div class='mlm-model-card'><h4 style='margin:0'>{e(card['model'])} v{card['version']} "
        + stage_badge(card["stage"])
        + "".join(f" <code>@{e(a)}</code>" for a in card["aliases"])
        + "</h4>",
        table(
            [
                ("flavor", e(f"{card['flavor']} ({card['serializer']})")),
                ("loading", e(card["load_safety"])),
                ("digest", f"<code>{e(card['digest'])}</code>"),
                ("size", f"{card['size']:,} bytes"),
                ("registered", e(f"{card['created_by']}, {when(card['created_ms'])}")),
                ("source run", e(f"{run['name']} ({run['id'][:8]}) in {run['experiment']}") if run else "none"),
            ]
        ),
    ]
    if card["description"]:
        parts.append(f"<p>{e(card['description'])}</p>")
    if run:
        parts.append("<b>Metrics</b>" + table([(e(k), f"{v:.6g}") for k, v in sorted(run["metrics"].items())]))
        parts.append("<b>Params</b>" + table([(e(k), e(str(v))) for k, v in sorted(run["params"].items())]))
    if chain["data"]:
        parts.append(
            "<b>Data</b>" + table([(f"<code>{e(d['digest'][:12])}</code>", e(d["path"])) for d in chain["data"]])
        )
    env = chain.get("environment")
    if env:
        parts.append(
            f"<b>Environment</b> Python {e(str(env['python']))} on {e(str(env['platform']))}, "
            f"{env['packages']} packages"
        )
    if card["history"]:
        parts.append("<br><b>History</b>" + table([
            (e(when(ev["ts_ms"])),
             e(f"{ev['actor']}: {_event_text(ev)}" + (f" — {ev['comment']}" if ev["comment"] else "")))
            for ev in card["history"]
        ]))  # fmt: skip
    if card["approvals"]:
        parts.append("<b>Approvals</b>" + table([
            (e(a["to_stage"]), e(f"{a['status']}: asked by {a['requested_by']}"
                               + (f", decided by {a['decided_by']}" if a["decided_by"] else "")))
            for a in card["approvals"]
        ]))  # fmt: skip
    parts.append("</div>")
    return "".join(parts)
