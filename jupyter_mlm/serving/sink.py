"""Requests to monitoring, off the response path.

With a writer process (``jupyter mlm serve``'s default), a request's rows, predictions and scores
are copied into the shared block being filled for its version and source (``blocks.Filling``) —
no thread woken, and nothing of the request kept once it is answered — and the request's id and
latency are noted beside them. A gatherer thread looks every ``TICK_SECONDS`` and hands the writer
each block filled for ``FLUSH_SECONDS`` or full (``BATCH_ROWS`` rows); the writer logs it through
``monitoring.Monitor`` (profiles, outputs for later labels, rules).

What cannot travel in a block (labels as strings, rows without one float64 matrix, a request
larger than a block, or no block free) goes to a bounded in-memory queue instead, which the
gatherer gathers per (version, source) and sends whole; with ``writer="thread"`` every request
goes that way and is logged on the gatherer thread. Serving never waits for the store: a full
queue, or a writer holding every block, drops the request's rows and counts them, and a failing
store is counted and reported, never raised into a request.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import blocks as shared
from .inputs import Rows

# A batch's fixed cost (profile, store rows) is a few milliseconds: at tens of thousands of rows a
# second, small batches would keep the writer busier than the rows themselves do.
BATCH_ROWS = 50_000
FLUSH_SECONDS = 1.0
TICK_SECONDS = 0.05
QUEUE_REQUESTS = 10_000
WRITER_NICENESS = 10
WRITER_BATCHES = 4  # gathered batches waiting for the writer process (each at most BATCH_ROWS rows)


@dataclass
class Entry:
    version: int
    source: str
    rows: Rows
    request_id: str  # its rows' ids: ``monitoring.service.RequestIds``
    predictions: Any  # numpy arrays, one entry per row
    scores: Any
    latency_ms: float
    ts_ms: int

    @property
    def count(self) -> int:
        return len(self.predictions)


class _RowIds:
    """Whether a request keeps a batch's row ids unique: labels join rows by id, so a batch's ids
    are unique, and a caller that reuses a request id starts a new batch. Decided on request ids
    (never expanding the rows'), erring towards a new batch: a repeated request id, or a one-row
    request ``P/n`` beside a many-row request ``P``."""

    __slots__ = ("many", "seen", "single_prefixes")

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.many: set[str] = set()
        self.single_prefixes: set[str] = set()

    def admits(self, request_id: str, count: int) -> bool:
        if request_id in self.seen:
            return False
        if count > 1:
            return request_id not in self.single_prefixes
        return request_id.rpartition("/")[0] not in self.many

    def add(self, request_id: str, count: int) -> None:
        self.seen.add(request_id)
        if count > 1:
            self.many.add(request_id)
        else:
            prefix = request_id.rpartition("/")[0]
            if prefix:
                self.single_prefixes.add(prefix)


def _unique_id_runs(group: list[Entry]) -> list[list[Entry]]:
    """Consecutive runs of entries whose row ids do not repeat (``_RowIds``)."""
    runs: list[list[Entry]] = [[]]
    ids = _RowIds()
    for entry in group:
        if not ids.admits(entry.request_id, entry.count):
            runs.append([])
            ids = _RowIds()
        runs[-1].append(entry)
        ids.add(entry.request_id, entry.count)
    return [run for run in runs if run]


class _Filled:
    """A batch being written into a shared block as its requests are answered: the block, and
    what travels beside it (request ids, latencies)."""

    def __init__(self, filling: shared.Filling, version: int, source: str, names: list[str]) -> None:
        self.filling = filling
        self.version = version
        self.source = source
        self.names = names
        self.started = time.monotonic()
        self.ids = _RowIds()
        self.id_parts: list[tuple[str, int]] = []
        self.latency_ms: list[float] = []
        self.ts_ms = 0

    def takes(self, entry: Entry) -> bool:
        names = entry.rows.names
        return (
            (names is self.names or names == self.names)
            and self.filling.takes(entry.rows.matrix, entry.predictions, entry.scores)  # type: ignore[arg-type]
            and self.ids.admits(entry.request_id, entry.count)
        )

    def add(self, entry: Entry) -> None:
        self.filling.append(entry.rows.matrix, entry.predictions, entry.scores)  # type: ignore[arg-type]
        count = entry.count
        self.ids.add(entry.request_id, count)
        self.id_parts.append((entry.request_id, count))
        self.latency_ms.append(entry.latency_ms)
        self.ts_ms = entry.ts_ms


def _shareable(predictions: list[Any], scores: list[Any] | None) -> bool:
    """Whether a batch's predictions and scores can travel in a shared block: one numeric dtype
    of one value per row, and float64 scores of one width."""
    import numpy as np

    dtype = predictions[0].dtype
    if dtype.kind not in shared.SHARED_PREDICTION_KINDS or any(p.dtype != dtype or p.ndim != 1 for p in predictions):
        return False
    if scores is None:
        return True
    width = scores[0].shape[1] if scores[0].ndim == 2 else -1
    return width >= 0 and all(s.dtype == np.float64 and s.ndim == 2 and s.shape[1] == width for s in scores)


def _two_d(scores: Any) -> bool:
    return scores is not None and getattr(scores, "ndim", 0) == 2


def _expand(job: dict[str, Any]) -> dict[str, Any]:
    """A gathered job as ``Monitor.log`` takes it. Done by whoever logs it (the writer process):
    the serving process sends one matrix and request ids, not a column per name and an id per row."""
    import numpy as np

    from ..monitoring.service import RequestIds

    job = dict(job)
    if "matrix" in job:
        columns = np.asfortranarray(job.pop("matrix"))  # contiguous columns, for the profile's passes
        job["data"] = {name: columns[:, i] for i, name in enumerate(job.pop("names"))}
    parts = job.pop("id_parts")
    job["ids"] = RequestIds([rid for rid, _ in parts], [count for _, count in parts])
    job["latency_ms"] = np.repeat(np.asarray(job["latency_ms"], dtype=float), [count for _, count in parts])
    return job


def _background() -> None:
    """Make this process background work: where cores are short, the answers come first, and the
    writer logs in the time they leave idle (its queue is bounded: what it cannot take in time is
    dropped and counted, never waited for). Linux's idle class runs it only on an otherwise idle
    core; a niceness is the next best thing elsewhere."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        with contextlib.suppress(OSError, AttributeError):
            os.nice(WRITER_NICENESS)


def _writer_main(jobs: Any, counters: Any, parent: int, store_uri: str | None, objects_uri: str | None, user: str,
                 model: str, handles: list[Any] | None = None, returned: Any = None) -> None:  # fmt: skip
    """The monitoring writer process: logs the batches the serving process gathered, on a core
    of its own (profiling and the store's writes never take the serving process's GIL)."""
    from ..monitoring.service import Monitor
    from ..store import open_store

    _background()
    # One thread per math library: OpenBLAS's idle threads spin after each call, on the cores
    # the serving process answers on (7 µs of CPU per logged row here before, under 1 µs after).
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        threadpool_limits(1)
    monitor = Monitor(open_store(store_uri, objects_uri), user)
    reader = shared.Reader(handles, returned) if handles else None
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
            if "block" in job and reader is not None:
                job["matrix"], job["predictions"], job["scores"] = reader.read(job.pop("block"))
            logged = _expand(job)
            monitor.log(model, **logged)
            with counters.get_lock():
                counters[0] += len(logged["ids"])
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
        self._capacity = capacity
        self._incoming: collections.deque[Entry] = collections.deque()
        self._closing = threading.Event()
        self.dropped_rows = 0
        self._logged_rows = 0
        self._errors = 0
        self.last_error = ""
        self._process: Any = None
        self._blocks: shared.Blocks | None = None
        self._shared_batches = 0
        # Requests copied into blocks as they are answered, per (version, source); sealed ones
        # wait for the gatherer to send them. The lock is the serving thread's and the gatherer's.
        self._lock = threading.Lock()
        self._filled: dict[tuple[int, str], _Filled] = {}
        self._sealed: list[_Filled] = []
        self._no_block_until = 0.0
        if writer != "thread":
            import multiprocessing

            context = multiprocessing.get_context("spawn")  # threads are running: never fork
            self._jobs = context.Queue(maxsize=WRITER_BATCHES)
            self._counters = context.Array("q", 2)
            if shared.supported():
                with contextlib.suppress(OSError):  # no memory files here: batches are pickled
                    self._blocks = shared.Blocks(WRITER_BATCHES + 2, context)
            handles = (self._blocks.handles(), self._blocks.returned) if self._blocks else (None, None)
            args = (self._jobs, self._counters, os.getpid(), *writer, model, *handles)
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
        if self._blocks is not None and self._fill(entry):
            return
        if len(self._incoming) >= self._capacity:
            self._drop(entry.count)
        else:
            self._incoming.append(entry)  # atomic under the GIL; the gatherer pops from the other end

    def _drop(self, rows: int) -> None:
        with self._lock:  # the serving, shadow and gatherer threads all drop
            self.dropped_rows += rows

    def _fill(self, entry: Entry) -> bool:
        """Copy the request into the block being filled for its version and source, starting a
        new one when it does not fit; False when there is no block for it (then it is gathered)."""
        if not shared.fillable(entry.rows.matrix, entry.predictions, entry.scores):
            return False
        key = (entry.version, entry.source)
        with self._lock:
            filled = self._filled.get(key)
            if filled is not None and not filled.takes(entry):
                self._sealed.append(self._filled.pop(key))
                filled = None
            if filled is None:
                filled = self._start(entry)
                if filled is None:
                    return False
                self._filled[key] = filled
            filled.add(entry)
        return True

    def _start(self, entry: Entry) -> _Filled | None:
        assert self._blocks is not None and entry.rows.matrix is not None
        now = time.monotonic()
        if now < self._no_block_until:
            return None
        matrix, predictions, scores = entry.rows.matrix, entry.predictions, entry.scores
        width = scores.shape[1] if scores is not None else 0
        if shared.Blocks.rows_for(self._blocks.size, matrix.shape[1], predictions.dtype.itemsize, width) < entry.count:
            return None
        number = self._blocks.take(timeout=0)
        if number is None:  # the writer holds every block: wait a tick before asking again
            self._no_block_until = now + TICK_SECONDS
            return None
        filling = self._blocks.filling(number, matrix.shape[1], predictions.dtype, width, BATCH_ROWS)
        return _Filled(filling, entry.version, entry.source, entry.rows.names)

    def _send_filled(self, final: bool) -> None:
        """Hand the writer the blocks filled for ``FLUSH_SECONDS`` (all of them when closing)."""
        now = time.monotonic()
        with self._lock:
            for key in [k for k, f in self._filled.items() if final or now - f.started >= FLUSH_SECONDS]:
                self._sealed.append(self._filled.pop(key))
            sealed, self._sealed = self._sealed, []
        for filled in sealed:
            self._safe(functools.partial(self._send, filled))

    def _send(self, filled: _Filled) -> None:
        layout = filled.filling.seal()
        job = {"block": layout, "names": filled.names, "id_parts": filled.id_parts, "latency_ms": filled.latency_ms,
               "version": filled.version, "timestamp": filled.ts_ms, "source": filled.source,
               "keep_rows": self.keep_rows}  # fmt: skip
        try:
            self._jobs.put(job, timeout=FLUSH_SECONDS)
        except queue.Full:  # the writer cannot keep up: drop, count, go on
            self._drop(layout.rows)
            assert self._blocks is not None
            self._blocks.give_back(layout.number)
            return
        self._shared_batches += 1

    def _queued(self) -> int:
        with self._lock:
            filled = sum(len(f.id_parts) for f in [*self._filled.values(), *self._sealed])
        return len(self._incoming) + filled

    def stats(self) -> dict[str, Any]:
        return {"queued": self._queued(), "logged_rows": self.logged_rows, "dropped_rows": self.dropped_rows,
                "errors": self.errors, "last_error": self.last_error,
                "writer": "process" if self._process is not None else "thread",
                "shared_batches": self._shared_batches}  # fmt: skip

    def close(self, timeout: float = 10.0) -> None:
        """Log what is queued, then stop."""
        self._closing.set()
        self._thread.join(timeout)
        if self._process is not None:
            # A writer that died leaves its queue full: never wait on it for ever.
            with contextlib.suppress(queue.Full):
                self._jobs.put(None, timeout=timeout)
            self._process.join(timeout)
            if self._process.is_alive():
                self._process.terminate()
            if self._blocks is not None:
                self._blocks.close()

    def _run(self) -> None:
        monitor = None
        pending: dict[tuple[int, str], list[Entry]] = {}
        oldest, rows, values = 0.0, 0, 0
        while True:
            stop = self._closing.wait(TICK_SECONDS)
            while self._incoming:
                entry = self._incoming.popleft()
                if not pending:
                    oldest = time.monotonic()
                pending.setdefault((entry.version, entry.source), []).append(entry)
                rows += entry.count
                # A row's values in a block: its columns, its prediction and its scores.
                scores = entry.scores
                values += entry.count * (len(entry.rows.names) + 1 + (scores.shape[1] if _two_d(scores) else 0))
            full = rows >= BATCH_ROWS or values * 8 >= shared.BLOCK_BYTES
            if pending and (stop or full or time.monotonic() - oldest >= FLUSH_SECONDS):
                if monitor is None and self._process is None:
                    monitor = self._safe(self._factory)
                for (version, source), group in pending.items():
                    for part in _unique_id_runs(group):
                        if monitor is not None or self._process is not None:
                            self._safe(functools.partial(self._log, monitor, version, source, part))
                pending, rows, values = {}, 0, 0
            if self._blocks is not None:
                self._send_filled(final=stop)
            if stop:
                return

    def _log(self, monitor: Any, version: int, source: str, group: list[Entry]) -> None:
        import numpy as np

        predictions = [np.asarray(e.predictions) for e in group]
        scores = [e.scores for e in group] if all(e.scores is not None for e in group) else None
        job: dict[str, Any] = {
            "id_parts": [(e.request_id, e.count) for e in group], "latency_ms": [e.latency_ms for e in group],
            "version": version, "timestamp": group[-1].ts_ms, "source": source, "keep_rows": self.keep_rows,
        }  # fmt: skip
        rows = sum(e.count for e in group)
        if all(e.rows.matrix is not None and e.rows.names == group[0].rows.names for e in group):
            parts: list[np.ndarray] = [e.rows.matrix for e in group]  # type: ignore[misc]
            job["names"] = group[0].rows.names
            blocks = self._blocks
            if (
                blocks is not None
                and all(p.dtype == np.float64 for p in parts)
                and _shareable(predictions, scores)
                and blocks.fits(parts, predictions, scores)
            ):
                number = blocks.take(timeout=FLUSH_SECONDS)
                if number is None:  # the writer holds every block: it cannot keep up
                    self._drop(rows)
                    return
                job["block"] = blocks.fill(number, parts, predictions, scores)
                self._shared_batches += 1
            else:
                job["matrix"] = np.concatenate(parts)
        else:
            columns = [e.rows.arrays() for e in group]
            job["data"] = {name: np.concatenate([c[name] for c in columns]) for name in columns[0]}
        if "block" not in job:
            job["predictions"] = np.concatenate(predictions)
            job["scores"] = np.concatenate(scores) if scores is not None else None
        if self._process is not None:
            try:
                self._jobs.put(job, timeout=FLUSH_SECONDS)
            except queue.Full:  # the writer cannot keep up: drop, count, go on
                self._drop(rows)
                if "block" in job and self._blocks is not None:
                    self._blocks.give_back(job["block"].number)
            return
        logged = _expand(job)
        monitor.log(self.model, logged.pop("data"), **logged)
        self._logged_rows += rows

    def _safe(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except Exception as error:
            self._errors += 1
            self.last_error = f"{type(error).__name__}: {error}"
            print(f"jupyter mlm serve: monitoring: {self.last_error}", file=sys.stderr)
            return None
