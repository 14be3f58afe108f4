"""``jupyter mlm serve``: a model version behind HTTP, following its stage or alias.

Routes: ``POST /predict`` (our answer: predictions, class probabilities, version, request id),
``POST /invocations`` (MLflow's scoring protocol), ``GET /health``, ``GET /ready``,
``GET /schema``. Every answer names the version that made it (``X-MLM-Model-Version``).

- **Following**: a thread re-resolves the reference (``churn@production``, ``churn@champion``)
  every ``poll`` seconds; when it moves, the new version is loaded beside the old one (bytes
  checked against the audit log's digest) and swapped in by one assignment, so requests in flight
  finish on the old model and none fails.
- **Monitoring**: each answered request's rows go to ``MonitorSink`` (off the response path).
  Rows are identified by the request id (``X-Request-Id`` or a generated one; rows of a
  multi-row request are ``ID/0``, ``ID/1``, …) so ``mlm.monitor.log_labels`` can join labels later.
- **Shadow** (``--shadow @challenger``): a copy of each request is predicted by the shadow
  model on a thread of its own and logged as ``source="shadow"``; its answer is never returned.
- **A/B** (``--split champion=90,challenger=10``): each caller (``X-MLM-Caller``, else each
  request) is assigned an arm by a hash, so a caller keeps its arm; arms are logged as
  ``source="serve:ARM"`` and the answer says which arm served it (``X-MLM-Arm``).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import queue
import random
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MLMError, UsageError
from .inputs import BadInput, Rows, check_columns, read_rows
from .model import Served, load_served
from .sink import Entry, MonitorSink

if TYPE_CHECKING:
    from ..store import Store

MAX_BODY = 16 * 1024 * 1024
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/-]{1,128}$")
SHADOW_QUEUE = 1000


@dataclass
class Followed:
    """A reference and the version it currently serves."""

    ref: str
    current: Served | None = None
    error: str = ""
    swaps: int = 0


@dataclass
class Options:
    ref: str
    store_uri: str | None = None
    objects_uri: str | None = None
    shadow: str | None = None
    split: list[tuple[str, int]] = field(default_factory=list)
    poll_seconds: float = 1.0
    monitor: bool = True
    trusted: bool = False
    caller_header: str = "X-MLM-Caller"
    token: str | None = None
    # "process": batches are logged by a writer process (its own core and GIL); "thread": here.
    monitor_writer: str = "process"
    keep_rows: bool = False  # store each logged batch's rows too (Parquet), for retraining on them
    compile_models: bool = True  # scikit-learn's arithmetic without its per-call checks (serving/compiled.py)


def parse_split(text: str | None) -> list[tuple[str, int]]:
    """``champion=90,challenger=10`` → [(champion, 90), (challenger, 10)]."""
    if not text:
        return []
    arms = []
    for part in text.split(","):
        name, _, weight = part.strip().partition("=")
        name = name.strip().lstrip("@")
        if not name or not weight.strip().isdigit() or int(weight) <= 0:
            raise UsageError(f"--split takes ARM=WEIGHT pairs such as champion=90,challenger=10, not {part!r}")
        arms.append((name, int(weight)))
    if len({n for n, _ in arms}) != len(arms):
        raise UsageError("--split names each arm once")
    return arms


def _model_of(ref: str) -> str:
    from ..registry import parse_ref

    return parse_ref(ref)[0]


def _relative(model: str, ref: str) -> str:
    """``@challenger`` → ``churn@challenger``; full references pass through."""
    return f"{model}{ref}" if ref.startswith("@") else ref


class Service:
    """What one serving process holds: the followed references, the sink, the shadow thread."""

    def __init__(self, options: Options) -> None:
        from ..config import MLM, model_cache_dir
        from ..identity import login_name
        from ..store import open_store

        self.options = options
        if options.keep_rows and options.monitor and importlib.util.find_spec("pyarrow") is None:
            # Found at start, not as a writer error on the first batch once traffic flows.
            raise UsageError("--keep-rows stores request rows as Parquet: pip install pyarrow")
        self.model = _model_of(options.ref)
        self.user = login_name()
        self._open_store: Callable[[], Store] = lambda: open_store(options.store_uri, options.objects_uri)
        self.store = self._open_store()
        self.publishers = list(MLM().trusted_publishers)
        self.cache = model_cache_dir()
        if options.split:
            self.arms = [(name, weight, Followed(f"{self.model}@{name}")) for name, weight in options.split]
        else:
            self.arms = [("", 1, Followed(options.ref))]
        self.total_weight = sum(w for _, w, _ in self.arms)
        self.shadow = Followed(_relative(self.model, options.shadow)) if options.shadow else None
        for followed in self.followed():
            self._refresh(followed, self.store)
        self.sink: MonitorSink | None = None
        if options.monitor:
            writer: Any = "thread" if options.monitor_writer == "thread" else (
                options.store_uri, options.objects_uri, self.user)  # fmt: skip
            self.sink = MonitorSink(self.model, self._monitor, writer=writer, keep_rows=options.keep_rows)
        self._shadow_queue: queue.Queue[tuple[Rows, str, int]] = queue.Queue(SHADOW_QUEUE)
        self.shadow_dropped = 0
        self.shadow_rows = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._follow, name="mlm-follow", daemon=True)]
        if self.shadow is not None:
            self._threads.append(threading.Thread(target=self._shadow_loop, name="mlm-shadow", daemon=True))
        for thread in self._threads:
            thread.start()

    def followed(self) -> list[Followed]:
        return [f for _, _, f in self.arms] + ([self.shadow] if self.shadow else [])

    def _monitor(self) -> Any:
        from ..monitoring.service import Monitor

        return Monitor(self._open_store(), self.user)

    # -- following stages and aliases --------------------------------------------------------------
    def _refresh(self, followed: Followed, store: Any) -> None:
        from ..registry import Governance, resolve

        try:
            record = resolve(store, followed.ref, Governance(store, self.user).policy())
        except MLMError as error:
            followed.error = str(error)
            return
        current = followed.current
        if current is not None and current.record.version == record.version and current.record.digest == record.digest:
            return
        try:
            loaded = load_served(store, f"{record.model}/{record.version}", self.user, self.cache,
                                 self.options.trusted, self.publishers, self.options.compile_models)  # fmt: skip
        except MLMError as error:
            followed.error = f"cannot load {record.model}/{record.version}: {error}"
            print(f"jupyter mlm serve: {followed.error}", file=sys.stderr)
            return
        for text in loaded.warnings:
            print(f"jupyter mlm serve: {text}", file=sys.stderr)
        followed.current = loaded  # one assignment: a request sees the old model or the new one
        followed.error = ""
        if current is not None:
            followed.swaps += 1
            print(f"jupyter mlm serve: {followed.ref} moved: now serving {loaded.ref} (was {current.ref})", flush=True)

    def _follow(self) -> None:
        store = self._open_store()
        while not self._stop.wait(self.options.poll_seconds):
            for followed in self.followed():
                self._refresh(followed, store)

    # -- routing ---------------------------------------------------------------------------------
    def route(self, caller: str | None) -> tuple[str, Followed]:
        if len(self.arms) == 1:
            return self.arms[0][0], self.arms[0][2]
        if caller:
            bucket = int.from_bytes(hashlib.blake2b(caller.encode(), digest_size=8).digest(), "big") % self.total_weight
        else:
            bucket = random.randrange(self.total_weight)
        for name, weight, followed in self.arms:
            if bucket < weight:
                return name, followed
            bucket -= weight
        return self.arms[-1][0], self.arms[-1][2]  # pragma: no cover - weights cover every bucket

    def ready(self) -> bool:
        """Every arm has a version loaded (a shadow may come later: an alias set after start)."""
        return all(f.current is not None for _, _, f in self.arms)

    # -- after the answer ------------------------------------------------------------------------
    def record(self, served: Served, source: str, rows: Rows, request_id: str,
               predictions: np.ndarray, scores: np.ndarray | None, latency_ms: float) -> None:  # fmt: skip
        ts = time.time_ns() // 1_000_000
        if self.sink is not None:
            self.sink.put(Entry(served.record.version, source, rows, request_id, predictions, scores, latency_ms, ts))
        if self.shadow is not None:
            try:
                self._shadow_queue.put_nowait((rows, request_id, ts))
            except queue.Full:
                self.shadow_dropped += len(predictions)

    def _shadow_loop(self) -> None:
        while not self._stop.is_set():
            try:
                rows, request_id, ts = self._shadow_queue.get(timeout=0.2)
            except queue.Empty:
                continue
            served = self.shadow.current if self.shadow else None
            if served is None:
                continue
            start = time.perf_counter()
            try:
                checked = rows if rows.names == [n for n, _ in served.signature or []] else _recheck(rows, served)
                predictions, scores = served.predict(checked)
            except Exception as error:
                print(f"jupyter mlm serve: shadow {served.ref}: {type(error).__name__}: {error}", file=sys.stderr)
                continue
            if self.sink is not None:
                latency = (time.perf_counter() - start) * 1000
                self.sink.put(Entry(served.record.version, "shadow", checked, request_id, predictions, scores, latency,
                                    ts))  # fmt: skip
            self.shadow_rows += len(predictions)

    def stats(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "serving": [
                {"arm": name or None, "ref": f.ref, "version": f.current.record.version if f.current else None,
                 "engine": f.current.engine if f.current else None,
                 "model_loaded": f.current.model_loaded if f.current else False, "weight": weight, "swaps": f.swaps,
                 "error": f.error or None}
                for name, weight, f in self.arms
            ],
            "shadow": None if self.shadow is None else {
                "ref": self.shadow.ref, "version": self.shadow.current.record.version if self.shadow.current else None,
                "rows": self.shadow_rows, "dropped_rows": self.shadow_dropped, "error": self.shadow.error or None,
            },
            "monitoring": self.sink.stats() if self.sink else None,
        }  # fmt: skip

    def close(self) -> None:
        self._stop.set()
        if self.sink is not None:
            self.sink.close()


def _recheck(rows: Rows, served: Served) -> Rows:
    """The primary's rows as another version (a shadow with its own signature) takes them."""
    columns = {name: [None if isinstance(v, float) and v != v else v for v in values.tolist()]
               for name, values in rows.arrays().items()}  # fmt: skip
    checked = check_columns(columns, served.signature, served.ref)
    return Rows(list(checked), None, checked)


def make_app(service: Service) -> Any:
    import tornado.web

    class Base(tornado.web.RequestHandler):
        def set_default_headers(self) -> None:
            self.set_header("Content-Type", "application/json")

        def prepare(self) -> None:
            token = service.options.token
            if token and self.request.headers.get("Authorization", "") != f"Bearer {token}":
                self.fail(401, "send Authorization: Bearer <token> (the token jupyter mlm serve was started with)")

        def fail(self, status: int, message: str) -> None:
            self.set_status(status)
            self.finish(json.dumps({"message": message}))

        def write_error(self, status_code: int, **kwargs: Any) -> None:
            self.finish(json.dumps({"message": self._reason}))

    class Predict(Base):
        mlflow = False

        def post(self) -> None:
            start = time.perf_counter()
            request_id = self.request.headers.get("X-Request-Id") or uuid.uuid4().hex
            if not REQUEST_ID.match(request_id):
                return self.fail(400, "X-Request-Id takes 1-128 letters, digits and . _ : / -")
            arm, followed = service.route(self.request.headers.get(service.options.caller_header))
            served = followed.current
            if served is None:
                return self.fail(503, f"no version of {followed.ref} is loaded yet: {followed.error or 'starting'}")
            try:
                rows = read_rows(self.request.body, self.request.headers.get("Content-Type", ""), served.signature,
                                 served.ref)  # fmt: skip
            except BadInput as error:
                return self.fail(error.status, str(error))
            try:
                predictions, scores = served.predict(rows)
            except Exception as error:
                return self.fail(400, f"{served.ref} could not predict on this input: {type(error).__name__}: {error}")
            self.set_header("X-MLM-Model-Version", str(served.record.version))
            self.set_header("X-MLM-Model", served.record.model)
            self.set_header("X-Request-Id", request_id)
            if arm:
                self.set_header("X-MLM-Arm", arm)
            if self.mlflow:
                body: dict[str, Any] = {"predictions": predictions.tolist()}
            else:
                body = {"predictions": predictions.tolist(), "model": served.record.model,
                        "version": served.record.version, "request_id": request_id}  # fmt: skip
                if scores is not None:
                    body["scores"] = scores.tolist()
                if arm:
                    body["arm"] = arm
            text = json.dumps(body)
            latency = (time.perf_counter() - start) * 1000
            # Queued (microseconds) before the answer leaves, so an answered request is a logged one.
            service.record(served, f"serve:{arm}" if arm else "serve", rows, request_id, predictions, scores, latency)
            self.finish(text)

    class Invocations(Predict):
        mlflow = True

    class Health(Base):
        def get(self) -> None:
            self.finish(json.dumps({"status": "ok", **service.stats()}))

    class Ready(Base):
        def get(self) -> None:
            if not service.ready():
                waiting = [f"{f.ref}: {f.error or 'loading'}" for _, _, f in service.arms if f.current is None]
                return self.fail(503, "not ready: " + "; ".join(waiting))
            self.finish(json.dumps({"status": "ready", **service.stats()}))

    class Schema(Base):
        def get(self) -> None:
            served = service.arms[0][2].current
            if served is None:
                return self.fail(503, "no version is loaded yet")
            inputs = [{"name": n, "type": t} for n, t in served.signature or []]
            formats = ["dataframe_split", "dataframe_records", "instances", "inputs", "text/csv"]
            self.finish(json.dumps({
                "model": served.record.model, "version": served.record.version, "inputs": inputs,
                "scores": served.has_proba, "formats": formats,
            }))  # fmt: skip

    return tornado.web.Application(
        [
            (r"/predict", Predict),
            (r"/invocations", Invocations),
            (r"/health", Health),
            (r"/ready", Ready),
            (r"/schema", Schema),
        ],
        compress_response=False,
    )


def _fork_workers(count: int) -> bool:
    """Fork ``count`` workers sharing the bound socket. In a worker returns False (go on and
    serve); in the parent waits for them and returns True. SIGTERM and SIGINT to the parent are
    passed on, so stopping the parent stops the workers (and their monitoring writers flush)."""
    children: list[int] = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            return False
        children.append(pid)

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, 0)  # PEP 475: retried across the forwarded signals
    return True


def serve(options: Options, host: str = "127.0.0.1", port: int = 5100, workers: int = 1) -> None:
    """Run until interrupted (``workers`` > 1: that many processes share the port)."""
    import asyncio

    import tornado.httpserver
    import tornado.netutil

    if workers < 1:
        raise UsageError("--workers must be at least 1")
    sockets = tornado.netutil.bind_sockets(port, host)
    if workers > 1 and _fork_workers(workers):
        return  # the parent: its workers have stopped

    async def run() -> None:
        service = Service(options)  # threads and store connections belong to each worker
        server = tornado.httpserver.HTTPServer(make_app(service), max_body_size=MAX_BODY, xheaders=False)
        server.add_sockets(sockets)
        serving = ", ".join(f"{f.current.ref} ({f.ref})" if f.current else f"{f.ref} (not loaded: {f.error})"
                            for _, _, f in service.arms)  # fmt: skip
        bound = sockets[0].getsockname()
        print(f"jupyter mlm serve: {serving} on http://{bound[0]}:{bound[1]} (pid {os.getpid()})", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            await stop.wait()
        finally:
            server.stop()
            service.close()  # what monitoring has queued is logged before the process ends

    asyncio.run(run())
