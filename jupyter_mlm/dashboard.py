"""``%mlm_monitor MODEL``: a live monitoring dashboard in the notebook, built from ipywidgets.

Version and window pickers, drift share and performance over time (with alert marks), the
per-feature table with reference-vs-current distributions, and the alerts. While it is shown,
a background thread checks the store every few seconds and redraws when batches or labels
arrived (widget values set from a thread travel over the widget comm as any other change).
Without ipywidgets the static report is shown instead.
"""

from __future__ import annotations

import threading
from typing import Any

from .tracking import monitor_api
from .tracking.session import SESSION


class MonitorDashboard:
    def __init__(self, model: str, window: str = "1d", every: str = "1h", refresh_seconds: float = 10.0) -> None:
        import ipywidgets as widgets

        from .monitoring.rules import window_ms

        window_ms(every)  # a bad bucket size fails here, clearly
        self.model, self.every = model, every
        record = monitor_api._monitor().version(model)
        self.name = record.model
        versions = sorted({b.version for b in SESSION.store.batches(self.name)} | {record.version})
        self.version = widgets.Dropdown(
            options=[(f"v{record.version} (production)", None)] + [(f"v{v}", v) for v in versions],
            value=None,
            description="version",
        )
        windows = ["1h", "1d", "7d", "all"]
        self.window = widgets.Dropdown(
            options=windows if window in windows else [window, *windows], value=window, description="window"
        )
        self.summary = widgets.HTML()
        self.charts = widgets.HTML()
        self.features = widgets.HTML()
        self.alert_list = widgets.HTML()
        title = widgets.HTML(f"<b>Monitoring {self.name}</b>")
        self.widget = widgets.VBox(
            [
                widgets.HBox([title, self.version, self.window]),
                self.summary,
                self.charts,
                self.features,
                self.alert_list,
            ]
        )
        self.version.observe(lambda _: self.refresh(), names="value")
        self.window.observe(lambda _: self.refresh(), names="value")
        self._seen: tuple[int, int] = (-1, -1)
        self.refresh()
        self._stop = threading.Event()
        if refresh_seconds > 0:
            thread = threading.Thread(target=self._follow, args=(refresh_seconds,), daemon=True, name="mlm-monitor")
            thread.start()

    def _marker(self) -> tuple[int, int]:
        store = SESSION.store
        return len(store.batches(self.name)), sum(s.rows for s in store.label_sets(self.name))

    def _follow(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                if self._marker() != self._seen:
                    self.refresh()
            except Exception:  # a store briefly unreachable: try again next time
                continue

    def stop(self) -> None:
        """Stop following the store (the dashboard stays as it is)."""
        self._stop.set()

    def refresh(self) -> None:
        from .monitoring.report_html import report_html, series_svg

        self._seen = self._marker()
        report = monitor_api.report(self.model, window=self.window.value, version=self.version.value)
        self.summary.value = f"<div>{report.rows:,} rows in {report.batches} batch(es) · v{report.version}</div>"
        alerts = [a.ts_ms for a in monitor_api.alerts(self.name)]
        drift = monitor_api.series(self.name, "drift_share", every=self.every)
        charts = [
            series_svg(
                "drift share",
                [int(t.timestamp() * 1000) for t in drift["time"]],
                [None if v != v else v for v in drift["value"]],
                alerts,
            )
        ]
        metric = next(
            (
                m
                for m in ("roc_auc", "accuracy", "rmse")
                if (report.performance or {}).get("metrics", {}).get(m) is not None
            ),
            None,
        )
        if metric is not None:
            perf = monitor_api.series(self.name, metric, every=self.every)
            charts.append(
                series_svg(
                    metric,
                    [int(t.timestamp() * 1000) for t in perf["time"]],
                    [None if v != v else v for v in perf["value"]],
                    alerts,
                )
            )
        self.charts.value = (
            "<div style='display:flex;gap:16px'>" + "".join(f"<div>{c}</div>" for c in charts) + "</div>"
        )
        self.features.value = report_html(report)
        recent = monitor_api.alerts(self.name)[:10]
        self.alert_list.value = (
            "".join(
                f"<div style='color:#c62828'>alert: <code>{a.expression}</code> = {a.value:.4g} (v{a.version})</div>"
                for a in recent
                if a.value is not None
            )
            or "<div style='opacity:0.6'>no alerts</div>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def dashboard(model: str, window: str = "1d", every: str = "1h", refresh_seconds: float = 10.0) -> Any:
    """The dashboard, or the static report where ipywidgets is not installed."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return monitor_api.report(model, window=window)
    return MonitorDashboard(model, window, every, refresh_seconds)
