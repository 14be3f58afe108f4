"""Serving speed, side by side with ``mlflow models serve --env-manager local``, in one run.

The same scikit-learn pipeline (StandardScaler + LogisticRegression on breast_cancer), one worker
each, one client on this machine sending MLflow's ``dataframe_split`` JSON to ``/invocations``
over a kept-alive connection. Measures startup (process start → first 200 from the readiness
route), single-row latency p50/p99 and requests/s, rows/s with 100-row requests, resident memory
(``MLM_BENCH_ROUNDS`` rounds, medians), and for jupyter_mlm what logging every request to
monitoring costs: the throughput and CPU per row of a server with monitoring against one started
with ``--no-monitor``, both running at once, their load phases alternating (``MLM_BENCH_SETS``
such pairs, each a pair of fresh processes).
Prints figures and ratios; asserts nothing. (Issue 14, item 7.)
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PHASE_SECONDS = 4.0  # each load phase runs this long (at least MIN_REQUESTS requests)
MIN_REQUESTS = 50
ROUNDS = int(os.environ.get("MLM_BENCH_ROUNDS", "3"))
# Monitoring's cost is a few per cent; here a 4 s phase's rows/s swings by ±10 % from one moment
# to the next (host noise) and ±5 % from one server process to the next, whatever it runs. So
# the two servers compared run side by side, their phases alternate in a random order, and fresh
# pairs are started SETS times: each pair's cost is the ratio of its servers' median phases.
SETS = int(os.environ.get("MLM_BENCH_SETS", "6"))
CYCLES = 5  # alternations per pair
COST_PHASE_SECONDS = 2.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def data() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    return X, y


def wait_ready(port: int, path: str, process: subprocess.Popen[bytes], timeout: float = 120) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError("server not ready")


def load_while_model_loads(port: int, body: bytes, timeout: float = 120) -> tuple[float, list[float]]:
    """Single-row requests from ready until the model behind the kept form has loaded: how long
    that took, and the requests' latencies (the load holds the GIL much of that time)."""
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port)
    times: list[float] = []
    while time.perf_counter() - start < timeout:
        if len(times) % 20 == 0:
            connection.request("GET", "/health")
            if all(arm["model_loaded"] for arm in json.loads(connection.getresponse().read())["serving"]):
                return time.perf_counter() - start, times
        times.append(invoke(connection, body))
    raise RuntimeError("model not loaded")


def rss_mb(pid: int) -> float:
    import psutil

    process = psutil.Process(pid)
    return float(sum(p.memory_info().rss for p in [process, *process.children(recursive=True)])) / 1e6


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds used so far by a process, and by its children."""
    import psutil

    def used(process: psutil.Process) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    process = psutil.Process(pid)
    return used(process), sum(used(child) for child in process.children(recursive=True))


def invoke(connection: http.client.HTTPConnection, body: bytes) -> float:
    """One ``/invocations`` request on a kept-alive connection: its latency in seconds."""
    start = time.perf_counter()
    connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"status {response.status}")
    return time.perf_counter() - start


def load(port: int, body: bytes, seconds: float) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    times: list[float] = []
    until = time.perf_counter() + seconds
    while time.perf_counter() < until or len(times) < MIN_REQUESTS:
        times.append(invoke(connection, body))
    return times


def monitoring_counts(port: int, ready: str) -> dict[str, int] | None:
    """What our server's monitoring logged and dropped, once it has caught up."""
    if ready != "/ready":
        return None
    monitoring = drain(port)
    return {k: int(monitoring[k]) for k in ("logged_rows", "dropped_rows")} if monitoring else None


def measure(name: str, command: list[str], port: int, ready: str, env: dict[str, str]) -> dict[str, float]:
    X, _ = data()
    one = json.dumps({"dataframe_split": {"columns": list(X.columns), "data": X.iloc[:1].values.tolist()}}).encode()
    hundred = json.dumps({"dataframe_split": {"columns": list(X.columns), "data": X.iloc[:100].values.tolist()}})
    # A pipe nobody reads would fill and stall a chatty server: its output goes to a file.
    with tempfile.TemporaryFile() as log:
        return _measure(name, command, port, ready, env, one, hundred.encode(), log)


def _measure(name: str, command: list[str], port: int, ready: str, env: dict[str, str], one: bytes, hundred: bytes,
             log: Any) -> dict[str, float]:  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        startup = wait_ready(port, ready, process)
        # Ours is ready from the compiled form kept at an earlier start while the model itself
        # loads in the background: the measured phases start once it has.
        loading, while_loading = load_while_model_loads(port, one) if ready == "/ready" else (0.0, [])
        loaded = startup + loading
        load(port, one, 0.5)  # warm up
        singles = load(port, one, PHASE_SECONDS)
        time.sleep(1.5)  # monitoring logs what it gathered (1 s batches) before the next phase
        server, helpers = cpu_seconds(process.pid)
        hundreds = load(port, hundred, PHASE_SECONDS)
        server_after, _ = cpu_seconds(process.pid)
        memory = rss_mb(process.pid)
        logged = monitoring_counts(port, ready)  # waits for the writer to catch up
        _, helpers_after = cpu_seconds(process.pid)
    finally:
        process.terminate()
        process.wait(30)
    figures = {
        "startup_s": startup,
        "loaded_s": loaded,
        "loading_requests": len(while_loading),
        "loading_p50_ms": statistics.median(while_loading) * 1000 if while_loading else 0.0,
        "loading_p99_ms": sorted(while_loading)[int(len(while_loading) * 0.99) - 1] * 1000 if while_loading else 0.0,
        "p50_ms": statistics.median(singles) * 1000,
        "p99_ms": sorted(singles)[int(len(singles) * 0.99) - 1] * 1000,
        "requests_per_s": len(singles) / sum(singles),
        "rows_per_s": 100 * len(hundreds) / sum(hundreds),
        "rss_mb": memory,
        # CPU per row answered in the 100-row phase: the serving process, and its helpers (the
        # monitoring writer, counted until it has logged everything).
        "server_us_per_row": 1e6 * (server_after - server) / (100 * len(hundreds)),
        "helpers_us_per_row": 1e6 * (helpers_after - helpers) / (100 * len(hundreds)),
    }
    print(f"  {name:<28} startup {figures['startup_s']:5.2f} s (model loaded {figures['loaded_s']:4.2f} s) | 1 row p50 {figures['p50_ms']:6.2f} ms, "
          f"p99 {figures['p99_ms']:6.2f} ms, {figures['requests_per_s']:7.0f} req/s | 100 rows "
          f"{figures['rows_per_s']:8.0f} rows/s | {figures['rss_mb']:.0f} MB")  # fmt: skip
    print(f"  {'':<28} CPU per row (100-row phase): server {figures['server_us_per_row']:.2f} µs, "
          f"helper processes {figures['helpers_us_per_row']:.2f} µs")  # fmt: skip
    if figures["loading_requests"]:
        print(f"  {'':<28} while the model loaded behind the kept form: {figures['loading_requests']} requests, "
              f"p50 {figures['loading_p50_ms']:.2f} ms, p99 {figures['loading_p99_ms']:.2f} ms")  # fmt: skip
    if logged:
        answered = len(singles) + 100 * len(hundreds)
        print(f"  {'':<28} monitoring: {logged['logged_rows']:,} rows logged, {logged['dropped_rows']:,} dropped, "
              f"of the {answered:,} rows answered in the measured phases (plus warm-up)")  # fmt: skip
    return figures


def health_monitoring(port: int) -> dict[str, Any] | None:
    """The monitoring part of the server's ``/health`` (None: the server does not monitor)."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", "/health")
    monitoring: dict[str, Any] | None = json.loads(connection.getresponse().read()).get("monitoring")
    return monitoring


def drain(port: int, timeout: float = 20) -> dict[str, Any] | None:
    """Wait until the server's monitoring has logged all it was sent (the next phase, maybe the
    other server's, must not pay for this one's writing), or ``timeout`` s; its figures then."""
    deadline = time.perf_counter() + timeout
    last = -1
    while True:
        monitoring = health_monitoring(port)
        if not monitoring or (monitoring["queued"] == 0 and monitoring["logged_rows"] == last):
            return monitoring
        if time.perf_counter() > deadline:
            print(f"  monitoring did not catch up in {timeout:.0f} s: {monitoring}")
            return monitoring
        last = monitoring["logged_rows"]
        time.sleep(0.25)


def monitoring_cost(env: dict[str, str], one: bytes, hundred: bytes) -> None:
    """A server with monitoring and one without, started together; each load phase (single-row
    requests for COST_PHASE_SECONDS / 2, then 100-row ones for COST_PHASE_SECONDS, each after 0.25 s
    of warm-up) runs on one of them while the other idles, in a random order, CYCLES times; the
    writer's backlog is drained after each phase. SETS fresh pairs."""
    import random

    labels = ("monitoring on", "--no-monitor")
    per_set: dict[str, list[dict[str, float]]] = {label: [] for label in labels}
    logged = dropped = answered = 0
    for number in range(SETS):
        servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:
            for label in labels if number % 2 == 0 else labels[::-1]:
                port = free_port()
                extra = ["--no-monitor"] if label == "--no-monitor" else []
                command = [str(BIN / "jupyter-mlm"), "serve", "cancer", "--port", str(port), "--trusted", *extra]
                process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                servers[label] = (process, port)
                wait_ready(port, "/ready", process)
                load_while_model_loads(port, one)
            phases: dict[str, list[tuple[float, float, float]]] = {label: [] for label in labels}
            for _ in range(CYCLES):
                for label in random.sample(labels, len(labels)):
                    process, port = servers[label]
                    load(port, one, 0.25)
                    singles = load(port, one, COST_PHASE_SECONDS / 2)
                    load(port, hundred, 0.25)
                    before, _ = cpu_seconds(process.pid)
                    hundreds = load(port, hundred, COST_PHASE_SECONDS)
                    after, _ = cpu_seconds(process.pid)
                    drain(port)
                    rows = 100 * len(hundreds)
                    phases[label].append(
                        (len(singles) / sum(singles), rows / sum(hundreds), 1e6 * (after - before) / rows)
                    )
                    if label == "monitoring on":
                        answered += 100 * len(hundreds) + len(singles)
            for label in labels:
                per_set[label].append({key: statistics.median(phase[i] for phase in phases[label])
                                       for i, key in enumerate(("requests_per_s", "rows_per_s", "us_per_row"))})  # fmt: skip
            monitoring = health_monitoring(servers["monitoring on"][1]) or {"logged_rows": 0, "dropped_rows": 0}
            logged += monitoring["logged_rows"]
            dropped += monitoring["dropped_rows"]
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(30)
        on, off = per_set["monitoring on"][-1], per_set["--no-monitor"][-1]
        print(f"  pair {number + 1}: 100-row requests {on['rows_per_s']:8.0f} vs {off['rows_per_s']:8.0f} rows/s "
              f"({1 - on['rows_per_s'] / off['rows_per_s']:+.1%}), single rows {on['requests_per_s']:6.0f} vs "
              f"{off['requests_per_s']:6.0f} requests/s ({1 - on['requests_per_s'] / off['requests_per_s']:+.1%}), "
              f"serving CPU {on['us_per_row']:.2f} vs {off['us_per_row']:.2f} µs/row")  # fmt: skip

    def ratios(key: str) -> list[float]:
        """Each pair's on / off."""
        return [on[key] / off[key] for on, off in zip(per_set["monitoring on"], per_set["--no-monitor"], strict=True)]

    rows_costs = [1 - r for r in ratios("rows_per_s")]
    request_costs = [1 - r for r in ratios("requests_per_s")]
    cpu = [r - 1 for r in ratios("us_per_row")]
    print(f"  monitoring on costs {statistics.median(rows_costs):.1%} of rows/s (mean {statistics.mean(rows_costs):.1%})"
          f" and {statistics.median(request_costs):.1%} of single-row requests/s (mean "
          f"{statistics.mean(request_costs):.1%}), medians of {SETS} pairs (goal ≤ 5 %); the serving process's CPU per "
          f"row {statistics.median(cpu):+.1%}")  # fmt: skip
    print(
        f"  monitoring logged {logged:,} rows and dropped {dropped:,}, of the {answered:,} answered in measured "
        "phases (plus warm-ups)"
    )


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    # MLflow starts uvicorn by name: the venv must be on PATH.
    env = {**os.environ, "MLM_STORE_URI": str(work / "store"), "MLM_CACHE_DIR": str(work / "cache"),
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
    os.environ.update({k: env[k] for k in ("MLM_STORE_URI", "MLM_CACHE_DIR")})
    import jupyter_mlm as mlm

    version = mlm.register_model(model, "cancer", reference_data=X)
    mlm.transition("cancer", version.version, "production")
    print("jupyter_mlm serving benchmark (this machine, one run; MLflow measured alongside)\n")
    # The first start of a version keeps its compiled form; the rounds below start from it.
    port = free_port()
    command = [str(BIN / "jupyter-mlm"), "serve", "cancer", "--port", str(port), "--trusted", "--no-monitor"]
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as first:
        first_start = wait_ready(port, "/ready", first)
        first.terminate()
    print(f"  first start of the version (nothing kept yet): ready in {first_start:.2f} s\n")
    rounds: dict[str, list[dict[str, float]]] = {"jupyter mlm serve": [], "jupyter mlm serve --no-monitor": []}
    modes = [("jupyter mlm serve", []), ("jupyter mlm serve --no-monitor", ["--no-monitor"])]
    for number in range(ROUNDS):
        # Which goes first alternates: a server started right after another one stopped
        # measured a few per cent slower here, whichever it was.
        for label, extra in modes if number % 2 == 0 else modes[::-1]:
            port = free_port()
            command = [str(BIN / "jupyter-mlm"), "serve", "cancer", "--port", str(port), "--trusted", *extra]
            rounds[label].append(measure(label, command, port, "/ready", env))
    results = {label: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
               for label, runs in rounds.items()}  # fmt: skip
    print(f"\n  the cost of monitoring, {SETS} pairs of servers side by side:")
    first_rows = X.iloc[:100].values.tolist()
    one = json.dumps({"dataframe_split": {"columns": list(X.columns), "data": first_rows[:1]}}).encode()
    hundred = json.dumps({"dataframe_split": {"columns": list(X.columns), "data": first_rows}}).encode()
    monitoring_cost(env, one, hundred)
    mlflow_bin = shutil.which("mlflow", path=str(BIN))
    if mlflow_bin is None:
        print("\n  MLflow is not installed here (make bench installs it): no side-by-side figures")
        return
    import mlflow.models
    import mlflow.sklearn

    path = work / "mlflow-model"
    mlflow.sklearn.save_model(model, str(path), signature=mlflow.models.infer_signature(X, model.predict(X)))
    port = free_port()
    command = [mlflow_bin, "models", "serve", "-m", str(path), "--env-manager", "local", "-p", str(port), "-w", "1"]
    results["mlflow"] = measure(f"mlflow models serve {mlflow_version()}", command, port, "/ping", env)
    ours, theirs = results["jupyter mlm serve"], results["mlflow"]
    print(f"\n  requests/s {ours['requests_per_s'] / theirs['requests_per_s']:.1f}× MLflow, rows/s "
          f"{ours['rows_per_s'] / theirs['rows_per_s']:.1f}×, startup {theirs['startup_s'] / ours['startup_s']:.1f}× "
          f"faster, memory {ours['rss_mb'] / theirs['rss_mb']:.2f}× (goals: p50 ≤ 2 ms, ≥ 10× req/s and rows/s, "
          "startup ≤ 2 s)")  # fmt: skip
    print(f"  medians of {ROUNDS} rounds; monitoring's cost is measured above, side by side")
    shutil.rmtree(work, ignore_errors=True)


def mlflow_version() -> str:
    import mlflow

    return str(mlflow.__version__)


if __name__ == "__main__":
    main()
