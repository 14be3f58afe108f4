"""The metric hot path: ``add`` appends to per-key lists; writes happen in batches.

A batch is written when the buffer holds ``max_points`` points (in the caller's thread, which
bounds memory), when the oldest pending point is ``interval`` seconds old (a daemon thread), and
whenever ``flush`` is called (end of each cell, ``end_run``, interpreter exit). A ``kill -9``
therefore loses at most the points logged in the last ``interval`` seconds (1 s by default).
A failed write keeps its points pending and the error is raised by the next ``flush``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Batch = dict[str, tuple[list[int], list[float], list[int]]]
Writer = Callable[[str, Batch], object]


class MetricBuffer:
    def __init__(self, write: Writer, max_points: int = 100_000, interval: float = 1.0) -> None:
        self._write = write
        self.max_points = max_points
        self.interval = interval
        self._run_id: str | None = None
        self._pending: Batch = {}
        self._count = 0
        self._oldest = 0.0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def pending(self) -> int:
        return self._count

    def add(self, run_id: str, key: str, value: float, step: int, timestamp_ms: int) -> None:
        if run_id != self._run_id:
            self.flush()
            self._run_id = run_id
        with self._lock:
            lists = self._pending.get(key)
            if lists is None:
                lists = self._pending[key] = ([], [], [])
            lists[0].append(step)
            lists[1].append(value)
            lists[2].append(timestamp_ms)
            if not self._count:
                self._oldest = time.monotonic()
            self._count += 1
            full = self._count >= self.max_points
        if full:
            self.flush()
        elif self._thread is None:
            self._start_timer()

    def flush(self) -> int:
        """Write everything pending; returns the number of points written."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending, count = self._pending, {}, self._count
                self._count = 0
            error, self._error = self._error, None
            if count:
                assert self._run_id is not None
                try:
                    self._write(self._run_id, batch)
                except BaseException:
                    self._restore(batch, count)
                    raise
            if error is not None:
                raise error
            return count

    def _restore(self, batch: Batch, count: int) -> None:
        with self._lock:
            for key, (steps, values, stamps) in self._pending.items():
                target = batch.setdefault(key, ([], [], []))
                target[0].extend(steps)
                target[1].extend(values)
                target[2].extend(stamps)
            self._pending = batch
            self._count += count

    def _start_timer(self) -> None:
        self._thread = threading.Thread(target=self._age_loop, name="mlm-metric-flush", daemon=True)
        self._thread.start()

    def _age_loop(self) -> None:
        while not self._stop.wait(self.interval / 4):
            if self._count and time.monotonic() - self._oldest >= self.interval:
                try:
                    self.flush()
                except BaseException as exc:  # kept, and raised by the next foreground flush
                    self._error = exc

    def close(self) -> None:
        self._stop.set()
        self.flush()
