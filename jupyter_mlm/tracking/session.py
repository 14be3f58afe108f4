"""Per-process tracking state: the store (opened on first use), the run stack, the metric buffer.

The store is opened lazily so that ``import jupyter_mlm`` and ``%load_ext`` stay cheap; opening
also marks as crashed the runs this host left running in processes that no longer exist.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..entities import RunRecord
from ..errors import UsageError
from ..validation import check_key, check_name, metric_step, metric_value
from . import console, context, system
from .buffer import Batch, MetricBuffer

if TYPE_CHECKING:
    from ..capture.snapshot import SnapshotWriter
    from ..store import Store


def _capture_enabled() -> bool:
    return os.environ.get("MLM_CAPTURE", "1").strip().lower() not in ("0", "false", "no", "off")


def _data_max_bytes() -> int:
    raw = os.environ.get("MLM_STORE_DATA_MAX_BYTES", "")
    try:
        return int(raw) if raw else 50 * 1000 * 1000
    except ValueError:
        raise UsageError(f"MLM_STORE_DATA_MAX_BYTES must be a whole number of bytes, not {raw!r}") from None


class TrackingSession:
    def __init__(self) -> None:
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        self.stack: list[tuple[RunRecord, bool]] = []  # (run, started implicitly)
        self.buffer = MetricBuffer(self._write_batch)
        self._valid_keys: set[str] = set()
        self._next_step: dict[tuple[str, str], int] = {}
        self.kernel_id: str | None = None
        self._atexit_registered = False
        self._heartbeat: threading.Thread | None = None
        self._stopping = threading.Event()
        self.capture = _capture_enabled()
        self._writer: SnapshotWriter | None = None
        # Files read since the last top-level run ended: what the next run could depend on.
        self._reads: set[str] = set()
        self._explicit: dict[str, tuple[set[str], set[str]]] = {}
        # A model registered just after its run ended belongs to that run.
        self.last_ended: str | None = None
        # Told (phase, run) after each start and end snapshot: the kernel face asks the
        # frontend, if any, for the notebook as the user saw it at that moment.
        self.snapshot_listeners: list[Callable[[str, RunRecord], None]] = []
        self.sampler = system.Sampler(self._log_system, lambda: bool(self.stack))
        self._ending = threading.RLock()  # held while a run ends and while system metrics are written
        self._system_steps: dict[str, int] = {}

    # -- store ---------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    from ..store import open_store

                    store = open_store()
                    store.mark_crashed(context.current_host(), context.pid_alive, context.pid_namespace())
                    self._exclude_store(store)
                    self._store = store
        return self._store

    def use_store(self, store: Store | None) -> None:
        """Point this session at another store (tests, notebooks switching stores)."""
        from ..capture.data import RECORDER

        self.flush()
        with self._ending:
            for record, _ in self.stack:  # left behind, not ended: their console goes with them
                console.CONSOLE.stop(record.id)
                console.CONSOLE.last_error.pop(record.id, None)
            self.stack.clear()
            self._system_steps.clear()
        RECORDER.take()  # reads made while another store was in use are not this store's runs' data
        self._store = store
        self._writer = None
        self._reads.clear()
        self._explicit.clear()
        self.last_ended = None
        if store is not None:
            self._exclude_store(store)

    def _exclude_store(self, store: Store) -> None:
        from ..capture.data import RECORDER

        if store.location.local_dir is not None:
            RECORDER.exclude(str(store.location.local_dir))
        if "://" not in store.objects.uri:
            RECORDER.exclude(store.objects.uri)

    @property
    def writer(self) -> SnapshotWriter:
        if self._writer is None:
            from ..capture.snapshot import SnapshotWriter

            self._writer = SnapshotWriter(self.store, _data_max_bytes())
        return self._writer

    def _write_batch(self, run_id: str, batch: Batch) -> None:
        self.store.log_metric_batch(run_id, batch)

    # -- runs ----------------------------------------------------------------------------
    @property
    def active(self) -> RunRecord | None:
        return self.stack[-1][0] if self.stack else None

    def start_run(
        self,
        name: str | None = None,
        experiment: str | None = None,
        tags: Mapping[str, Any] | None = None,
        parent: str | None = None,
        implicit: bool = False,
    ) -> RunRecord:
        if name is not None:
            name = check_name(name)
        system.interval_seconds()  # a bad setting is refused before anything is written
        if self.stack and parent is None:
            current, was_implicit = self.stack[-1]
            if not was_implicit:
                raise UsageError(
                    f"run {current.name!r} is still active; end it first (mlm.end_run() or %mlm_run end), "
                    "or pass parent=… to start a nested run"
                )
            self.end_run("finished")
        store = self.store
        parent_record = store.resolve_run(parent) if parent is not None else None
        parent_id = parent_record.id if parent_record is not None else None
        if experiment is None and parent_record is not None:
            experiment = parent_record.experiment  # a nested run belongs with its parent, as in MLflow
        exp = store.get_or_create_experiment(experiment)
        reproduces = os.environ.get("MLM_REPRODUCES")
        if reproduces:
            tags = {**(tags or {}), "reproduces": reproduces}
        # A retraining job's kernel: its runs name the job and the alert that started it.
        job = {k: os.environ.get(v, "") for k, v in (("mlm.job", "MLM_JOB_ID"), ("mlm.alert", "MLM_JOB_ALERT"))}
        if job["mlm.job"]:
            tags = {**{k: v for k, v in job.items() if v}, **(tags or {})}
        record = store.create_run(
            exp.id, name or context.default_run_name(), user=context.current_user(), host=context.current_host(),
            pid=os.getpid(), notebook_path=context.notebook_path(), kernel_id=self.kernel_id,
            parent_id=parent_id, tags=tags, pid_namespace=context.pid_namespace(),
        )  # fmt: skip
        self.stack.append((record, implicit))
        self._start_heartbeat()
        if console.enabled():
            console.CONSOLE.start(record.id)
        self.sampler.ensure_running()
        if self.capture:
            from ..capture.data import RECORDER

            # Scripts that never ran %load_ext record their data reads too, from the first run on.
            if not RECORDER.recording:
                RECORDER.install()
        self.snapshot(record, "start")
        self._announce("start", record)
        if not self._atexit_registered:
            atexit.register(self.shutdown)
            self._atexit_registered = True
        return record

    def _start_heartbeat(self) -> None:
        if self._heartbeat is None or not self._heartbeat.is_alive():
            self._heartbeat = threading.Thread(target=self._beat, name="mlm-heartbeat", daemon=True)
            self._heartbeat.start()

    def _beat(self) -> None:
        """While runs are active, say so every ``HEARTBEAT_SECONDS``: how processes that cannot
        see this one's PID (another host, another container) tell it from a crashed one."""
        from ..store.runs import HEARTBEAT_SECONDS

        while not self._stopping.wait(HEARTBEAT_SECONDS):
            active = [record.id for record, _ in list(self.stack)]
            if active and self._store is not None:
                with contextlib.suppress(Exception):  # an unreachable store: the next beat tries again
                    self._store.heartbeat(active)

    def ensure_run(self) -> RunRecord:
        """The active run, starting one named after the notebook when there is none."""
        if self.stack:
            return self.stack[-1][0]
        return self.start_run(implicit=True)

    def end_run(self, status: str = "finished") -> RunRecord | None:
        if not self.stack:
            return None
        record = self.stack[-1][0]
        with self._ending:
            # If the last points cannot be written the run stays active, so nothing is lost and
            # end_run can be called again once the store is reachable.
            self.flush()
            self.snapshot(record, "end")
            self._store_console(record.id, status)
            self.stack.pop()
            self._system_steps.pop(record.id, None)
        ended = self.store.end_run(record.id, status)
        self.last_ended = record.id
        self._explicit.pop(record.id, None)
        if not self.stack:
            self._reads.clear()
        self._announce("end", record)
        return ended

    def _announce(self, phase: str, record: RunRecord) -> None:
        if not self.capture:
            return
        for listener in self.snapshot_listeners:
            try:
                listener(phase, record)
            except Exception:  # a frontend that cannot be told must never fail the run
                continue

    def shutdown(self) -> None:
        """At interpreter exit: write pending points and finish open runs as ``killed``."""
        self._stopping.set()
        self.sampler.stop()
        try:
            self.buffer.close()
        except Exception as exc:
            print(f"jupyter_mlm: could not write the last metric points at exit: {exc}", file=sys.stderr)
        finally:
            while self.stack:
                with self._ending:
                    record = self.stack.pop()[0]
                with contextlib.suppress(Exception):  # already ended elsewhere: nothing left to save
                    self.snapshot(record, "exit")
                    self._store_console(record.id, "killed")
                    self.store.end_run(record.id, "killed")

    def _store_console(self, run_id: str, status: str) -> None:
        """The run's stdout, stderr and (failed) exception as ``mlm/…`` artifacts. Like a
        snapshot, losing them must never lose the run: a failure is a warning."""
        streams = console.CONSOLE.stop(run_id)
        noted = console.CONSOLE.last_error.pop(run_id, None)
        files = {f"mlm/{name}.txt": text for name, text in streams.items() if text}
        error = sys.exc_info()[1]  # ending as failed while an exception is handled: that one
        if status == "failed" and (error is not None or noted):
            files["mlm/exception.txt"] = console.format_exception(error) if error is not None else noted or ""
        if not files:
            return
        from ..capture.secrets import redact_secrets

        try:
            store = self.store
            for path, text in files.items():
                data = redact_secrets(text).encode("utf-8", "replace")
                store.add_artifact(run_id, path, store.objects.put_bytes(data), len(data))
            if "mlm/exception.txt" in files:
                line = console.exception_line(redact_secrets(files["mlm/exception.txt"]))
                store.set_tags(run_id, {console.EXCEPTION_TAG: line})
        except Exception as exc:
            import warnings

            warnings.warn(f"jupyter_mlm could not store run {run_id[:8]}'s console output: {exc}", stacklevel=3)

    def _log_system(self, metrics: dict[str, float]) -> None:
        """One sample for every active run, written straight to the store (the metric buffer
        belongs to the user's thread). Under the lock that ending a run takes, so no point is
        ever written to a run that has just ended."""
        if not metrics:
            return
        stamp = time.time_ns() // 1_000_000
        with self._ending:
            for record, _ in list(self.stack):
                step = self._system_steps.get(record.id, 0)
                self._system_steps[record.id] = step + 1
                batch = {key: ([step], [float(value)], [stamp]) for key, value in metrics.items()}
                self.store.log_metric_batch(record.id, batch)

    def flush(self) -> int:
        return self.buffer.flush() if self.buffer.pending or self.buffer._error else 0

    # -- snapshots -----------------------------------------------------------------------------
    def snapshot(self, record: RunRecord, phase: str) -> None:
        """Capture notebook, executions, environment and data for ``record``.

        A failure here is reported as a warning: losing a snapshot must never lose the run.
        """
        if not self.capture:
            return
        from ..capture.data import RECORDER

        self._reads.update(RECORDER.take())
        files, folders = self._explicit.get(record.id, (set(), set()))
        try:
            with RECORDER.paused():
                self._take_snapshot(record, phase, files, folders)
        except Exception as exc:
            import warnings

            warnings.warn(f"jupyter_mlm could not snapshot run {record.name!r}: {exc}", stacklevel=2)

    def _take_snapshot(self, record: RunRecord, phase: str, files: set[str], folders: set[str]) -> None:
        from ..capture.executions import LOG
        from ..capture.snapshot import notebook_for_run, notebook_id_of

        notebook, source, digest, path = notebook_for_run(
            self.store, record, context.notebook_file(record.notebook_path)
        )
        self.writer.take(
            record, phase, notebook=notebook, notebook_source=source, executions=list(LOG.entries),
            sources=LOG.sources, data_files=self._reads | files, data_folders=folders, notebook_digest=digest,
            notebook_path=path,
        )  # fmt: skip
        notebook_id = notebook_id_of(notebook) if notebook is not None else None
        if notebook_id is not None and record.notebook_id != notebook_id:
            self.store.set_run_notebook_id(record.id, notebook_id)

    def log_data(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Record a data file or folder for the active run; returns its digest entry."""
        full = os.path.abspath(os.fspath(path))
        if not os.path.exists(full):
            from ..errors import NotFound

            raise NotFound(f"cannot log data {os.fspath(path)!r}: no such file or folder")
        if not os.path.isdir(full) and not os.path.isfile(full):
            from ..errors import UsageError

            raise UsageError(f"cannot log data {os.fspath(path)!r}: not a regular file or folder (a device or a pipe)")
        record = self.ensure_run()
        files, folders = self._explicit.setdefault(record.id, (set(), set()))
        if os.path.isdir(full):
            folders.add(full)
            return self.writer.data_entries([], [full])[0]
        files.add(full)
        return self.writer.data_entries([full])[0]

    # -- metrics (hot path) ------------------------------------------------------------------
    def log_metric(
        self, key: str, value: Any, step: Any = None, timestamp: Any = None, run_id: str | None = None
    ) -> None:
        if key not in self._valid_keys:
            check_key(key, "metric name")
            self._valid_keys.add(key)
        number = value if type(value) is float else metric_value(key, value)
        if run_id is None:
            run_id = self.stack[-1][0].id if self.stack else self.ensure_run().id
        counter = (run_id, key)
        step = self._next_step.get(counter, 0) if step is None else metric_step(step)
        self._next_step[counter] = step + 1
        if timestamp is None:
            stamp = time.time_ns() // 1_000_000
        elif isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
            stamp = int(timestamp)
        else:
            raise UsageError(f"metric timestamp must be milliseconds since the epoch, not {timestamp!r}")
        self.buffer.add(run_id, key, number, step, stamp)


SESSION = TrackingSession()
