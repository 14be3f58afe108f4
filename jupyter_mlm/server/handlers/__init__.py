"""REST routes under /mlm/api; one module per resource."""

from __future__ import annotations

from typing import Any

from .runs import ArtifactHandler, MetricSeriesHandler, RunHandler, RunListHandler
from .status import StatusHandler

API = r"/mlm/api"


def routes() -> list[tuple[str, Any]]:
    return [
        (rf"{API}/status", StatusHandler),
        (rf"{API}/runs", RunListHandler),
        (rf"{API}/runs/(?P<ref>[^/]+)", RunHandler),
        (rf"{API}/runs/(?P<ref>[^/]+)/metrics/(?P<key>.+)", MetricSeriesHandler),
        (rf"{API}/runs/(?P<ref>[^/]+)/artifacts/(?P<path>.+)", ArtifactHandler),
    ]
