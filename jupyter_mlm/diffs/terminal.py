"""The run diff as a terminal report."""

from __future__ import annotations

from typing import Any

from .model import RunDiffData


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


def clean(value: Any) -> str:
    """A value as text that cannot drive the terminal: control characters (escape sequences,
    carriage returns, bidi overrides) shown escaped."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def run_diff_lines(diff: RunDiffData, color: bool = False) -> list[str]:
    """A terminal report; ANSI colours when ``color``; values from the store shown escaped."""
    red, green, yellow, bold, dim, reset = (
        ("\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[1m", "\x1b[2m", "\x1b[0m") if color else ("",) * 6
    )
    out = [
        f"{bold}{clean(diff.a.info.name)}{reset} ({diff.a.info.id[:8]}) → "
        f"{bold}{clean(diff.b.info.name)}{reset} ({diff.b.info.id[:8]})"
    ]
    changed = dict(diff.sections())

    def keyed(title: str, section: dict[str, Any]) -> None:
        if not changed[title]:
            out.append(f"{dim}{title}: no differences{reset}")
            return
        out.append(f"{bold}{title}{reset}")
        out.extend(f"  {green}+ {clean(k)} = {clean(v)}{reset}" for k, v in section["added"].items())
        out.extend(f"  {red}- {clean(k)} = {clean(v)}{reset}" for k, v in section["removed"].items())
        out.extend(
            f"  {yellow}~ {clean(k)}: {clean(o)} → {clean(n)}{reset}" for k, (o, n) in section["changed"].items()
        )

    keyed("params", diff.params)
    if changed["metrics"]:
        out.append(f"{bold}metrics{reset}")
        for m in diff.changed_metrics:
            colour = green if m["verdict"] == "better" else red if m["verdict"] == "worse" else ""
            delta = "" if m["delta"] is None else f"  Δ {m['delta']:+.6g}"
            rel = "" if m["relative"] is None else f" ({m['relative']:+.1%})"
            verdict = f" {m['verdict']}" if m["verdict"] else ""
            out.append(f"  {colour}{m['key']}: {_num(m['a'])} → {_num(m['b'])}{delta}{rel}{verdict}{reset}")
    else:
        out.append(f"{dim}metrics: no differences{reset}")
    keyed("tags", diff.tags)
    if changed["environment"]:
        out.append(f"{bold}environment{reset}")
        for key in ("python", "platform"):
            if diff.environment.get(key):
                old, new = diff.environment[key]
                out.append(f"  {yellow}~ {key}: {old} → {new}{reset}")
        packages = diff.environment.get("packages", {})
        out.extend(f"  {green}+ {k} {v}{reset}" for k, v in packages.get("added", {}).items())
        out.extend(f"  {red}- {k} {v}{reset}" for k, v in packages.get("removed", {}).items())
        out.extend(f"  {yellow}~ {k} {o} → {n}{reset}" for k, (o, n) in packages.get("changed", {}).items())
    else:
        out.append(f"{dim}environment: no differences{reset}")
    if changed["data"]:
        out.append(f"{bold}data{reset}")
        out.extend(f"  {green}+ {clean(p)}{reset}" for p in diff.data["added"])
        out.extend(f"  {red}- {clean(p)}{reset}" for p in diff.data["removed"])
        out.extend(
            f"  {yellow}~ {clean(d['path'])} ({d['old'][:10]} → {d['new'][:10]}){reset}" for d in diff.data["changed"]
        )
    else:
        out.append(f"{dim}data: no differences{reset}")
    if changed["executions"]:
        out.append(f"{bold}execution log{reset}")
        if diff.executions["order_changed"]:
            out.append(f"  {yellow}~ cells ran in a different order{reset}")
        out.extend(
            f"  {red}- ran only in {clean(diff.a.info.name)}: {clean(s)}{reset}" for s in diff.executions["only_a"]
        )
        out.extend(
            f"  {green}+ ran only in {clean(diff.b.info.name)}: {clean(s)}{reset}" for s in diff.executions["only_b"]
        )
    else:
        out.append(f"{dim}execution log: no differences{reset}")
    sources = diff.sources
    if changed["sources"]:
        out.append(f"{bold}source files{reset}")
        out.extend(f"  {green}+ {p}{reset}" for p in sources["added"])
        out.extend(f"  {red}- {p}{reset}" for p in sources["removed"])
        for item in sources["changed"]:
            out.append(f"  {yellow}~ {item['path']}{reset}")
            for line in item["unified"]:
                colour = green if line.startswith("+") else red if line.startswith("-") else dim
                out.append(f"    {colour}{clean(line)}{reset}")
    elif sources:
        out.append(f"{dim}source files: no differences{reset}")
    if diff.notebook is None:
        out.append(f"{dim}notebook: not captured in both runs{reset}")
    elif changed["notebook"]:
        summary = diff.notebook["summary"]
        out.append(
            f"{bold}notebook{reset}: {summary['changed']} changed, {summary['added']} added, "
            f"{summary['removed']} removed, {summary['unchanged']} unchanged cells"
        )
        out.extend(f"  {clean(line)}" for line in diff.notebook["cells"])
    else:
        out.append(f"{dim}notebook: no differences{reset}")
    return out
