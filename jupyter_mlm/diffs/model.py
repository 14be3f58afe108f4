"""The run diff as data: sections of JSON-able values. Computing it is ``runs``; rendering it is
``terminal`` (text) and ``render`` (HTML)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..entities import RunData


def empty(section: dict[str, Any]) -> bool:
    return not any(section.values())


def finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass(repr=False)
class RunDiffData:
    """Sections: ``params``, ``metrics``, ``tags``, ``environment``, ``data``, ``executions``, ``notebook``."""

    a: RunData
    b: RunData
    params: dict[str, Any] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    executions: dict[str, Any] = field(default_factory=dict)
    notebook: dict[str, Any] | None = None
    sources: dict[str, Any] = field(default_factory=dict)
    strict: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (non-finite numbers become None)."""

        def run(data: RunData) -> dict[str, Any]:
            info = data.info
            return {
                "id": info.id,
                "name": info.name,
                "experiment": info.experiment,
                "status": info.status,
                "start_ms": info.start_ms,
                "end_ms": info.end_ms,
            }

        metrics = [{k: (finite(v) if isinstance(v, float) else v) for k, v in row.items()} for row in self.metrics]
        return {
            "a": run(self.a),
            "b": run(self.b),
            "params": self.params,
            "metrics": metrics,
            "tags": self.tags,
            "environment": self.environment,
            "data": self.data,
            "executions": self.executions,
            "notebook": self.notebook,
            "sources": self.sources,
            "strict": self.strict,
        }

    @property
    def changed_metrics(self) -> list[dict[str, Any]]:
        return [m for m in self.metrics if m["a"] != m["b"] and not (m["a"] is None and m["b"] is None)]

    def sections(self) -> list[tuple[str, bool]]:
        """(section name, has differences), in display order."""
        notebook_changed = bool(self.notebook and self.notebook["diff"])
        return [
            ("params", not empty(self.params)),
            ("metrics", bool(self.changed_metrics)),
            ("tags", not empty(self.tags)),
            (
                "environment",
                bool(
                    self.environment.get("python")
                    or self.environment.get("platform")
                    or not empty(self.environment.get("packages", {}))
                ),
            ),
            ("data", not empty(self.data)),
            (
                "executions",
                bool(
                    self.executions.get("only_a")
                    or self.executions.get("only_b")
                    or self.executions.get("order_changed")
                ),
            ),
            ("sources", bool(self.sources.get("added") or self.sources.get("removed") or self.sources.get("changed"))),
            ("notebook", notebook_changed),
        ]
