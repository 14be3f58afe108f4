"""A monitoring report as HTML for notebooks: summary, per-feature table (method, score,
threshold, verdict, PSI) with a small reference-vs-current distribution per feature, as
inline SVG so nothing needs a plotting library."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .service import MonitorReport

_REF, _CUR, _RED, _GREEN = "#90a4ae", "#ef6c00", "#c62828", "#2e7d32"


def _bars(reference: list[float], current: list[float], width: int = 120, height: int = 28) -> str:
    if not reference or not current or sum(reference) == 0 or sum(current) == 0:
        return ""
    ref = [r / sum(reference) for r in reference]
    cur = [c / sum(current) for c in current]
    top = max(ref + cur) or 1.0
    step = width / len(ref)
    bars = []
    for i, (r, c) in enumerate(zip(ref, cur, strict=True)):
        x = i * step
        bars.append(
            f"<rect x='{x:.1f}' y='{height * (1 - r / top):.1f}' width='{step / 2:.1f}' "
            f"height='{height * r / top:.1f}' fill='{_REF}'/>"
        )
        bars.append(
            f"<rect x='{x + step / 2:.1f}' y='{height * (1 - c / top):.1f}' width='{step / 2:.1f}' "
            f"height='{height * c / top:.1f}' fill='{_CUR}'/>"
        )
    return f"<svg width='{width}' height='{height}' role='img' aria-label='reference vs current'>{''.join(bars)}</svg>"


def _distribution(bins: dict[str, Any] | None) -> str:
    return _bars(bins["reference"], bins["current"]) if bins else ""


def _fmt(value: Any) -> str:
    return "—" if value is None else html.escape(f"{value:.4g}")


def report_html(report: MonitorReport) -> str:
    parts = [
        f"<div class='mlm-monitor'><b>{html.escape(report.model)}/{report.version}</b> — "
        f"{report.rows:,} rows in {report.batches} batch(es), window {html.escape(report.window)}"
    ]
    drift = report.drift
    if drift is not None:
        colour = _RED if drift["dataset_drift"] else _GREEN
        verdict = "dataset drift" if drift["dataset_drift"] else "no dataset drift"
        parts.append(
            f"<div style='color:{colour}'>{drift['drifted']} of {len(drift['columns'])} columns drifted "
            f"({drift['share']:.0%}; threshold {drift['share_threshold']:.0%}): <b>{verdict}</b></div>"
        )
        rows = []
        distributions = report.distributions()
        for c in drift["columns"]:
            flag = f"<span style='color:{_RED}'>drift</span>" if c["drifted"] else "ok"
            rows.append(
                f"<tr><td>{html.escape(c['column'])}</td><td>{c['type']}</td><td>{c['method']}</td>"
                f"<td>{_fmt(c['score'])}</td><td>{c['threshold']:g}</td><td>{flag}</td><td>{_fmt(c['psi'])}</td>"
                f"<td>{_distribution(distributions.get(c['column']))}</td></tr>"
            )
        parts.append(
            "<table><tr><th>column</th><th>type</th><th>method</th><th>score</th><th>threshold</th>"
            "<th>verdict</th><th>PSI</th><th><span style='color:" + _REF + "'>reference</span> / "
            "<span style='color:" + _CUR + "'>current</span></th></tr>" + "".join(rows) + "</table>"
        )
    elif not report.has_reference:
        parts.append("<div>No reference: register the version with <code>reference_data=…</code>.</div>")
    if report.performance is not None:
        shown = ", ".join(f"{k} {_fmt(v)}" for k, v in report.performance["metrics"].items() if v is not None)
        parts.append(f"<div>Performance on {report.performance['rows']:,} labelled rows: {shown}</div>")
    if report.latency:
        parts.append("<div>Latency (ms): " + ", ".join(f"{k} {_fmt(v)}" for k, v in report.latency.items()) + "</div>")
    for alert in report.alerts:
        parts.append(
            f"<div style='color:{_RED}'>Alert: <code>{html.escape(alert.expression)}</code> "
            f"(value {_fmt(alert.value)})</div>"
        )
    return "".join(parts) + "</div>"


def series_svg(
    title: str, times: list[int], values: list[float | None], alerts: list[int], width: int = 420, height: int = 120
) -> str:
    """A small line chart of a series over time, with a red mark at each alert time."""
    points = [(t, v) for t, v in zip(times, values, strict=True) if v is not None]
    head = f"<div style='font-weight:bold'>{html.escape(title)}</div>"
    if not points:
        return head + "<div style='opacity:0.6'>no values yet</div>"
    t0, t1 = min(t for t, _ in points), max(t for t, _ in points)
    v0, v1 = min(v for _, v in points), max(v for _, v in points)
    t1, v1 = (t1 if t1 > t0 else t0 + 1), (v1 if v1 > v0 else v0 + 1)

    def x(t: float) -> float:
        return 30 + (width - 40) * (t - t0) / (t1 - t0)

    def y(v: float) -> float:
        return 10 + (height - 30) * (1 - (v - v0) / (v1 - v0))

    line = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    marks = "".join(
        f"<line x1='{x(a):.1f}' x2='{x(a):.1f}' y1='10' y2='{height - 20}' stroke='{_RED}' stroke-dasharray='3,2'/>"
        for a in alerts
        if t0 <= a <= t1
    )
    labels = (
        f"<text x='2' y='14' font-size='10'>{v1:.3g}</text><text x='2' y='{height - 20}' font-size='10'>{v0:.3g}</text>"
    )
    return (
        head + f"<svg width='{width}' height='{height}' role='img' aria-label='{html.escape(title)}'>"
        f"{labels}{marks}<polyline fill='none' stroke='{_CUR}' stroke-width='2' points='{line}'/></svg>"
    )
