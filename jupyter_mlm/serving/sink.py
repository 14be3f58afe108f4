"""Requests to monitoring, off the response path.

A request hands its rows to a bounded queue and returns; one writer thread drains it, gathers
rows per (version, source) for up to ``FLUSH_SECONDS`` or ``BATCH_ROWS`` rows, and logs each
gathered batch through ``monitoring.Monitor`` (profiles, outputs for later labels, rules). A full
queue drops the request's rows and counts them: serving never waits for the store, and a failing
store is counted and reported, never raised into a request.
"""

from __future__ import annotations

import functools
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BATCH_ROWS = 1000
FLUSH_SECONDS = 1.0
QUEUE_REQUESTS = 10_000
_TICK = object()  # the queue stayed empty: time to look at what is pending


@dataclass
class Entry:
    version: int
    source: str
    columns: dict[str, list[Any]]
    ids: list[str]
    predictions: list[Any]
    scores: list[list[float]] | None
    latency_ms: float
    ts_ms: int


def _unique_id_runs(group: list[Entry]) -> list[list[Entry]]:
    """Consecutive runs of entries whose row ids do not repeat: labels join rows by id, so a
    batch's ids are unique, and a caller that reuses a request id starts a new batch."""
    runs: list[list[Entry]] = [[]]
    seen: set[str] = set()
    for entry in group:
        if seen.intersection(entry.ids):
            runs.append([])
            seen = set()
        runs[-1].append(entry)
        seen.update(entry.ids)
    return [run for run in runs if run]


class MonitorSink:
    def __init__(self, model: str, monitor_factory: Callable[[], Any], capacity: int = QUEUE_REQUESTS) -> None:
        self.model = model
        self._factory = monitor_factory
        self._queue: queue.Queue[Entry | None] = queue.Queue(capacity)
        self.dropped_rows = 0
        self.logged_rows = 0
        self.errors = 0
        self.last_error = ""
        self._thread = threading.Thread(target=self._run, name="mlm-monitor-sink", daemon=True)
        self._thread.start()

    def put(self, entry: Entry) -> None:
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self.dropped_rows += len(entry.ids)

    def stats(self) -> dict[str, Any]:
        return {"queued": self._queue.qsize(), "logged_rows": self.logged_rows, "dropped_rows": self.dropped_rows,
                "errors": self.errors, "last_error": self.last_error}  # fmt: skip

    def close(self, timeout: float = 10.0) -> None:
        """Log what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        monitor = None
        pending: dict[tuple[int, str], list[Entry]] = {}
        oldest = 0.0
        while True:
            wait = max(0.01, FLUSH_SECONDS - (time.monotonic() - oldest)) if pending else None
            entry: Entry | object | None
            try:
                entry = self._queue.get(timeout=wait)
            except queue.Empty:
                entry = _TICK
            stop = entry is None
            if isinstance(entry, Entry):
                if not pending:
                    oldest = time.monotonic()
                pending.setdefault((entry.version, entry.source), []).append(entry)
            rows = sum(len(e.ids) for group in pending.values() for e in group)
            if pending and (stop or rows >= BATCH_ROWS or time.monotonic() - oldest >= FLUSH_SECONDS):
                if monitor is None:
                    monitor = self._safe(self._factory)
                for (version, source), group in pending.items():
                    for part in _unique_id_runs(group):
                        if monitor is not None:
                            self._safe(functools.partial(self._log, monitor, version, source, part))
                pending = {}
            if stop:
                return

    def _log(self, monitor: Any, version: int, source: str, group: list[Entry]) -> None:
        columns = {name: [v for e in group for v in e.columns[name]] for name in group[0].columns}
        predictions = [p for e in group for p in e.predictions]
        scores = [s for e in group for s in (e.scores or [])] if all(e.scores is not None for e in group) else None
        latency = [e.latency_ms for e in group for _ in e.ids]
        ids = [i for e in group for i in e.ids]
        import numpy as np

        frame: dict[str, Any] = {}
        for name, values in columns.items():
            try:
                frame[name] = np.asarray(values, dtype=float)
            except (TypeError, ValueError):
                frame[name] = np.asarray(["" if v is None else str(v) for v in values], dtype=object)
        monitor.log(self.model, frame, predictions=np.asarray(predictions), ids=ids, scores=scores,
                    latency_ms=latency, version=version, timestamp=group[-1].ts_ms, source=source)  # fmt: skip
        self.logged_rows += len(ids)

    def _safe(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except Exception as error:
            self.errors += 1
            self.last_error = f"{type(error).__name__}: {error}"
            print(f"jupyter mlm serve: monitoring: {self.last_error}", file=sys.stderr)
            return None
