"""Requests to monitoring, off the response path.

A request hands its rows to a bounded queue and returns; one writer thread drains it, gathers
rows per (version, source) for up to ``FLUSH_SECONDS`` or ``BATCH_ROWS`` rows, and logs each
gathered batch through ``monitoring.Monitor`` (profiles, outputs for later labels, rules). A full
queue drops the request's rows and counts them: serving never waits for the store, and a failing
store is counted and reported, never raised into a request.
"""

from __future__ import annotations

import functools
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .inputs import Rows

BATCH_ROWS = 1000
FLUSH_SECONDS = 1.0
QUEUE_REQUESTS = 10_000
_TICK = object()  # the queue stayed empty: time to look at what is pending


@dataclass
class Entry:
    version: int
    source: str
    rows: Rows
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


def _writer_main(jobs: Any, counters: Any, parent: int, store_uri: str | None, objects_uri: str | None, user: str,
                 model: str) -> None:  # fmt: skip
    """The monitoring writer process: logs the batches the serving process gathered, on a core
    of its own (profiling and the store's writes never take the serving process's GIL)."""
    from ..monitoring.service import Monitor
    from ..store import open_store

    monitor = Monitor(open_store(store_uri, objects_uri), user)
    while True:
        try:
            job = jobs.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:
                return  # the serving process died without saying so: nothing more will come
            continue
        if job is None:
            return
        try:
            monitor.log(model, **job)
            with counters.get_lock():
                counters[0] += len(job["ids"])
        except Exception as error:
            with counters.get_lock():
                counters[1] += 1
            print(f"jupyter mlm serve: monitoring: {type(error).__name__}: {error}", file=sys.stderr, flush=True)


class MonitorSink:
    """Gathers answered requests into batches on a thread, and logs each batch either on that
    thread (``writer="thread"``) or in a writer process (``writer=(store_uri, objects_uri, user)``)."""

    def __init__(
        self,
        model: str,
        monitor_factory: Callable[[], Any],
        capacity: int = QUEUE_REQUESTS,
        writer: str | tuple[str | None, str | None, str] = "thread",
        keep_rows: bool = False,
    ) -> None:
        self.model = model
        self.keep_rows = keep_rows
        self._factory = monitor_factory
        self._queue: queue.Queue[Entry | None] = queue.Queue(capacity)
        self.dropped_rows = 0
        self._logged_rows = 0
        self._errors = 0
        self.last_error = ""
        self._process: Any = None
        if writer != "thread":
            import multiprocessing

            context = multiprocessing.get_context("spawn")  # threads are running: never fork
            self._jobs = context.Queue(maxsize=64)
            self._counters = context.Array("q", 2)
            args = (self._jobs, self._counters, os.getpid(), *writer, model)
            self._process = context.Process(target=_writer_main, args=args,
                                            name="mlm-monitor-writer", daemon=True)  # fmt: skip
            self._process.start()
        self._thread = threading.Thread(target=self._run, name="mlm-monitor-sink", daemon=True)
        self._thread.start()

    @property
    def logged_rows(self) -> int:
        return self._logged_rows + (int(self._counters[0]) if self._process is not None else 0)

    @property
    def errors(self) -> int:
        return self._errors + (int(self._counters[1]) if self._process is not None else 0)

    def put(self, entry: Entry) -> None:
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self.dropped_rows += len(entry.ids)

    def stats(self) -> dict[str, Any]:
        return {"queued": self._queue.qsize(), "logged_rows": self.logged_rows, "dropped_rows": self.dropped_rows,
                "errors": self.errors, "last_error": self.last_error,
                "writer": "process" if self._process is not None else "thread"}  # fmt: skip

    def close(self, timeout: float = 10.0) -> None:
        """Log what is queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout)
        if self._process is not None:
            self._jobs.put(None)
            self._process.join(timeout)

    def _run(self) -> None:
        monitor = None
        pending: dict[tuple[int, str], list[Entry]] = {}
        oldest, rows = 0.0, 0
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
                rows += len(entry.ids)
            if pending and (stop or rows >= BATCH_ROWS or time.monotonic() - oldest >= FLUSH_SECONDS):
                if monitor is None and self._process is None:
                    monitor = self._safe(self._factory)
                for (version, source), group in pending.items():
                    for part in _unique_id_runs(group):
                        if monitor is not None or self._process is not None:
                            self._safe(functools.partial(self._log, monitor, version, source, part))
                pending, rows = {}, 0
            if stop:
                return

    def _log(self, monitor: Any, version: int, source: str, group: list[Entry]) -> None:
        import numpy as np

        frame: dict[str, Any]
        if all(e.rows.matrix is not None and e.rows.names == group[0].rows.names for e in group):
            matrix = np.concatenate([e.rows.matrix for e in group])  # type: ignore[misc]
            frame = {name: matrix[:, i] for i, name in enumerate(group[0].rows.names)}
        else:
            parts = [e.rows.arrays() for e in group]
            frame = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        scores = [s for e in group for s in (e.scores or [])] if all(e.scores is not None for e in group) else None
        ids = [i for e in group for i in e.ids]
        job: dict[str, Any] = {
            "data": frame, "predictions": np.asarray([p for e in group for p in e.predictions]),
            "ids": ids, "scores": scores,
            "latency_ms": [e.latency_ms for e in group for _ in e.ids], "version": version,
            "timestamp": group[-1].ts_ms, "source": source, "keep_rows": self.keep_rows,
        }  # fmt: skip
        if self._process is not None:
            try:
                self._jobs.put(job, timeout=FLUSH_SECONDS)
            except queue.Full:  # the writer cannot keep up: drop, count, go on
                self.dropped_rows += len(ids)
            return
        monitor.log(self.model, job.pop("data"), **job)
        self._logged_rows += len(ids)

    def _safe(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except Exception as error:
            self._errors += 1
            self.last_error = f"{type(error).__name__}: {error}"
            print(f"jupyter mlm serve: monitoring: {self.last_error}", file=sys.stderr)
            return None
