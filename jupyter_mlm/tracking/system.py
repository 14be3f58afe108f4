"""System metrics of the kernel while runs are active: CPU, memory and, where ``nvidia-smi``
answers, each GPU's utilisation and memory — logged as ``system/…`` metrics of every active run
every ``$MLM_SYSTEM_METRICS_SECONDS`` seconds (default 10; 0 turns them off;
``c.MLM.system_metrics_seconds`` on the server), from a daemon thread that is idle in between.

The first sample is taken when the interval has passed, so a run shorter than that has none.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from typing import Any

DEFAULT_SECONDS = 10.0
_GPU_QUERY = ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"]


def interval_seconds() -> float:
    from ..errors import UsageError

    raw = os.environ.get("MLM_SYSTEM_METRICS_SECONDS", "").strip()
    if not raw:
        return DEFAULT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        raise UsageError(f"MLM_SYSTEM_METRICS_SECONDS must be a number of seconds (0: off), not {raw!r}") from None
    if seconds < 0:
        raise UsageError(f"MLM_SYSTEM_METRICS_SECONDS must be 0 (off) or more, not {raw!r}")
    return seconds


def gpu_metrics(text: str) -> dict[str, float]:
    """``nvidia-smi``'s CSV (utilisation %, memory MiB per line) as metrics."""
    metrics: dict[str, float] = {}
    for index, line in enumerate(line for line in text.splitlines() if line.strip()):
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 2:
            continue
        for key, part in zip(("utilization_percent", "memory_mb"), parts, strict=True):
            try:
                metrics[f"system/gpu{index}_{key}"] = float(part)
            except ValueError:
                continue  # "[N/A]" on GPUs that do not report it
    return metrics


class Sampler:
    """Samples this process and hands the metrics to ``log(metrics)`` while ``active()`` (the
    thread, once started, stays: between runs it only waits)."""

    def __init__(self, log: Callable[[dict[str, float]], None], active: Callable[[], bool]) -> None:
        self._log = log
        self._active = active
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: Any = None
        self._gpu = shutil.which("nvidia-smi") is not None

    def ensure_running(self) -> None:
        seconds = interval_seconds()
        if seconds <= 0 or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(target=self._loop, args=(seconds,), name="mlm-system-metrics", daemon=True)
        self._thread.start()

    def sample(self) -> dict[str, float]:
        metrics: dict[str, float] = {}
        try:
            import psutil
        except ImportError:  # pragma: no cover - a dependency; without it only GPUs are sampled
            psutil = None
        if psutil is not None:
            if self._process is None:
                self._process = psutil.Process()
                self._process.cpu_percent(None)  # the first call only starts the count
            with self._process.oneshot():
                metrics["system/cpu_percent"] = float(self._process.cpu_percent(None))
                metrics["system/memory_rss_mb"] = self._process.memory_info().rss / 1e6
                metrics["system/threads"] = float(self._process.num_threads())
            metrics["system/memory_percent"] = float(psutil.virtual_memory().percent)
        if self._gpu:
            try:
                result = subprocess.run(_GPU_QUERY, capture_output=True, text=True, timeout=5, check=False)
                if result.returncode == 0:
                    metrics.update(gpu_metrics(result.stdout))
            except (OSError, subprocess.TimeoutExpired):
                self._gpu = False
        return metrics

    def _loop(self, seconds: float) -> None:
        self.sample()  # starts the CPU count, so the first logged figure covers a whole interval
        while not self._wake.wait(seconds):
            with contextlib.suppress(Exception):  # changed since: followed; 0 stops sampling
                seconds = interval_seconds()
            if seconds <= 0:
                self._thread = None
                return
            if not self._active():
                continue
            try:
                self._log(self.sample())
            except Exception:  # a store that cannot be written now: the next sample tries again
                continue

    def stop(self) -> None:
        self._wake.set()
