"""RunDiff as compact HTML for notebooks: changed sections open, unchanged ones collapsed."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import RunDiffData

_GREEN, _RED, _AMBER = "#2e7d32", "#c62828", "#b26a00"


def _num(value: Any) -> str:
    return "—" if value is None else html.escape(f"{value:.6g}")


def _section(title: str, changed: bool, body: str) -> str:
    label = "" if changed else " <span style='opacity:0.6'>— no differences</span>"
    return f"<details{' open' if changed else ''}><summary><b>{title}</b>{label}</summary>{body}</details>"


def _code(value: Any) -> str:
    return f"<code>{html.escape(str(value))}</code>"


def _row(colour: str, label: str, old: str, new: str) -> str:
    return f"<tr style='color:{colour}'><td>{html.escape(label)}</td><td>{old}</td><td>{new}</td></tr>"


def _keyed(section: dict[str, Any]) -> str:
    rows = [_row(_GREEN, f"+ {k}", "", _code(v)) for k, v in section.get("added", {}).items()]
    rows += [_row(_RED, f"- {k}", _code(v), "") for k, v in section.get("removed", {}).items()]
    rows += [_row(_AMBER, f"~ {k}", _code(o), _code(n)) for k, (o, n) in section.get("changed", {}).items()]
    return f"<table>{''.join(rows)}</table>" if rows else ""


def run_diff_html(diff: RunDiffData) -> str:
    changed = dict(diff.sections())
    a, b = diff.a.info, diff.b.info
    head = (
        f"<div><b>{html.escape(a.name)}</b> <code>{a.id[:8]}</code> → <b>{html.escape(b.name)}</b> "
        f"<code>{b.id[:8]}</code></div>"
    )
    metric_rows = []
    for m in diff.metrics:
        colour = _GREEN if m["verdict"] == "better" else _RED if m["verdict"] == "worse" else "inherit"
        rel = "" if m["relative"] is None else f" ({m['relative']:+.1%})"
        delta = "" if m["delta"] is None else html.escape(f"{m['delta']:+.6g}") + rel
        metric_rows.append(
            f"<tr style='color:{colour}'><td>{html.escape(m['key'])}</td><td>{_num(m['a'])}</td>"
            f"<td>{_num(m['b'])}</td><td>{delta}</td><td>{m['verdict'] or ''}</td></tr>"
        )
    header = "<tr><th>metric</th><th>a</th><th>b</th><th>Δ</th><th></th></tr>"
    metrics = f"<table>{header}{''.join(metric_rows)}</table>" if metric_rows else ""
    env = diff.environment
    env_rows = "".join(
        f"<div>~ {k}: {html.escape(str(env[k][0]))} → {html.escape(str(env[k][1]))}</div>"
        for k in ("python", "platform")
        if env.get(k)
    )
    data = diff.data
    data_body = "".join(
        [f"<div style='color:{_GREEN}'>+ {html.escape(p)}</div>" for p in data.get("added", [])]
        + [f"<div style='color:{_RED}'>- {html.escape(p)}</div>" for p in data.get("removed", [])]
        + [f"<div style='color:{_AMBER}'>~ {html.escape(d['path'])}</div>" for d in data.get("changed", [])]
    )
    ex = diff.executions
    ex_body = ("<div>cells ran in a different order</div>" if ex.get("order_changed") else "") + "".join(
        [f"<div style='color:{_RED}'>only in a: <code>{html.escape(s)}</code></div>" for s in ex.get("only_a", [])]
        + [f"<div style='color:{_GREEN}'>only in b: <code>{html.escape(s)}</code></div>" for s in ex.get("only_b", [])]
    )
    src = diff.sources or {}
    src_body = "".join(
        [f"<div style='color:{_GREEN}'>+ {html.escape(p)}</div>" for p in src.get("added", [])]
        + [f"<div style='color:{_RED}'>- {html.escape(p)}</div>" for p in src.get("removed", [])]
        + [
            f"<div style='color:{_AMBER}'>~ {html.escape(c['path'])}</div>"
            f"<pre>{html.escape(chr(10).join(c['unified']))}</pre>"
            for c in src.get("changed", [])
        ]
    )
    nb = diff.notebook
    if nb is None:
        nb_section = _section("Notebook", False, "<div>not captured in both runs</div>")
    else:
        s = nb["summary"]
        nb_body = (
            f"<div>{s['changed']} changed, {s['added']} added, {s['removed']} removed, {s['unchanged']} unchanged</div>"
            + "".join(f"<div><code>{html.escape(line)}</code></div>" for line in nb["cells"])
        )
        nb_section = _section("Notebook", changed["notebook"], nb_body)
    return (
        "<div class='mlm-diff'>"
        + head
        + "".join(
            [
                _section("Params", changed["params"], _keyed(diff.params)),
                _section("Metrics", changed["metrics"], metrics),
                _section("Tags", changed["tags"], _keyed(diff.tags)),
                _section("Environment", changed["environment"], env_rows + _keyed(env.get("packages", {}))),
                _section("Data", changed["data"], data_body),
                _section("Execution log", changed["executions"], ex_body),
                _section("Source files", changed["sources"], src_body),
                nb_section,
            ]
        )
        + "</div>"
    )
