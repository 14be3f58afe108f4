"""Runs UI speed with 10,000 runs, side by side with MLflow's UI, in one run (issue 16).

Both stores get the same runs (``MLM_BENCH_RUNS``, default 10,000: params ``a``, ``b``, metric
``score``); chromium (Playwright) measures, inside the page (``performance.now()`` until the
frame where the result shows):
  - ours, in JupyterLab: opening the sidebar → its first rows; sorting by ``score``; filtering
    ``metrics.score > 0.5``; and, in the expanded table, Plots → parallel coordinates of 1,000
    runs drawn (plus the render time the plot itself records);
  - MLflow (``mlflow server``, SQLite): opening the experiment page → the first run names.
The two "first rows" figures differ in what precedes them (ours: a sidebar in a loaded
JupyterLab; MLflow: its page) — each is what its user waits for. Goals: first rows, sort and
filter ≤ 300 ms; parallel coordinates of 1,000 runs ≤ 500 ms. Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

RUNS = int(os.environ.get("MLM_BENCH_RUNS", "10000"))
PC_RUNS = 1000
REPEATS = 5
CHROMIUM = "/usr/bin/chromium"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def fill_ours(folder: Path) -> None:
    from jupyter_mlm.store import open_store

    store = open_store(str(folder))
    started = time.perf_counter()
    for name, count in (("bench", RUNS), ("pc", PC_RUNS)):
        experiment = store.get_or_create_experiment(name)
        for i in range(count):
            run = store.create_run(experiment.id, f"{name}-{i:05d}")
            store.log_params(run.id, {"a": i % 97, "b": (i * 7) % 13})
            store.log_metric_batch(run.id, {"score": ([0], [((i * 7919) % count) / count], [0])})
            store.end_run(run.id)
    print(f"  jupyter_mlm: {RUNS + PC_RUNS:,} runs logged in {time.perf_counter() - started:.1f} s")
    store.close()


def fill_mlflow(uri: str) -> str:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.create_experiment("bench")
    started = time.perf_counter()
    now = int(time.time() * 1000)
    for i in range(RUNS):
        run = client.create_run(experiment, run_name=f"bench-{i:05d}")
        client.log_batch(run.info.run_id, metrics=[Metric("score", ((i * 7919) % RUNS) / RUNS, now, 0)],
                         params=[Param("a", str(i % 97)), Param("b", str((i * 7) % 13))])  # fmt: skip
        client.set_terminated(run.info.run_id)
    print(f"  MLflow: {RUNS:,} runs logged in {time.perf_counter() - started:.1f} s")
    return str(experiment)


def until(page: Any, condition: str, timeout: float = 60_000) -> float:
    """Milliseconds from ``window.__t0`` to the first frame where ``condition`` holds."""
    handle = page.wait_for_function(f"() => ({condition}) && (performance.now() - window.__t0)", timeout=timeout)
    return float(handle.json_value())


def start_clock(page: Any) -> None:
    page.evaluate("() => { window.__t0 = performance.now(); }")


def measure_ours(browser: Any, work: Path) -> dict[str, list[float]]:
    root = work / "lab"
    root.mkdir()
    fill_ours(root / ".mlm")
    port, token = free_port(), secrets.token_hex(8)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLM_")}
    lab = subprocess.Popen(
        [str(BIN / "jupyter"), "lab", "--allow-root", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}", "--LabApp.news_url=None",
         "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    figures: dict[str, list[float]] = {"first rows": [], "sort": [], "filter": [], "parallel coordinates": [],
                                       "parallel coordinates (render)": []}  # fmt: skip
    rows = "document.querySelectorAll('#jupyter-mlm-sidebar .jp-mlm-row[data-run-id]').length > 0"
    first_id = "document.querySelector('#jupyter-mlm-sidebar .jp-mlm-row[data-run-id]')?.dataset.runId"
    try:
        wait_http(f"http://127.0.0.1:{port}/api/status?token={token}", lab)
        for _ in range(REPEATS):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/lab?token={token}&reset")
            page.wait_for_selector('li[data-id="jupyter-mlm-sidebar"]', timeout=60_000)
            page.wait_for_timeout(500)
            start_clock(page)
            page.locator('li[data-id="jupyter-mlm-sidebar"]').click()
            figures["first rows"].append(until(page, rows))
            panel = page.locator("#jupyter-mlm-sidebar")
            panel.locator(".jp-mlm-experiment").select_option("bench")
            page.wait_for_function(f"() => document.querySelector('.jp-mlm-count')?.innerText === '{RUNS:,} runs'")
            page.wait_for_function(f"() => {rows}")
            before = page.evaluate(f"() => {first_id}")
            start_clock(page)
            panel.locator(".jp-mlm-filter").fill("metrics.score > 0.5")
            panel.locator(".jp-mlm-filter").press("Enter")
            expected = sum(1 for i in range(RUNS) if ((i * 7919) % RUNS) / RUNS > 0.5)
            figures["filter"].append(until(page, f"document.querySelector('.jp-mlm-count')?.innerText === "
                                                 f"'{expected:,} runs' && ({rows})"))  # fmt: skip
            panel.locator(".jp-mlm-clear-filter").click()
            page.wait_for_function(f"() => document.querySelector('.jp-mlm-count')?.innerText === '{RUNS:,} runs'")
            before = page.evaluate(f"() => {first_id}")
            header = panel.locator("[role='columnheader']", has_text="Duration")
            start_clock(page)
            header.click()
            figures["sort"].append(until(page, f"({first_id}) && ({first_id}) !== '{before}'"))
            panel.get_by_role("button", name="Expand").click()
            table = page.locator(".jp-mlm-runs-widget")
            table.locator(".jp-mlm-experiment").select_option("pc")
            page.wait_for_function(f"() => document.querySelector('.jp-mlm-runs-widget .jp-mlm-count')?.innerText"
                                   f" === '{PC_RUNS:,} runs'")  # fmt: skip
            start_clock(page)
            table.locator(".jp-mlm-plots-button").click()
            figures["parallel coordinates"].append(
                until(page, f"document.querySelector(\".jp-mlm-parallel[data-runs='{PC_RUNS}']\")")
            )
            page.wait_for_timeout(300)
            figures["parallel coordinates (render)"].append(
                float(table.locator(".jp-mlm-parallel").get_attribute("data-draw-ms") or "nan")
            )
            page.close()
    finally:
        lab.terminate()
        lab.wait(30)
    return figures


def measure_mlflow(browser: Any, work: Path) -> dict[str, list[float]] | None:
    mlflow = shutil.which("mlflow", path=str(BIN))
    if mlflow is None:
        print("  MLflow is not installed here (make bench installs it): no side-by-side figures")
        return None
    import mlflow.server

    if not (Path(mlflow.server.__file__).parent / "js" / "build" / "index.html").is_file():
        print("  MLflow's UI is not part of this MLflow installation (no js/build/index.html): no side-by-side")
        return None
    uri = f"sqlite:///{work / 'mlflow.db'}"
    experiment = fill_mlflow(uri)
    port = free_port()
    server = subprocess.Popen(
        [mlflow, "server", "--backend-store-uri", uri, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    figures: dict[str, list[float]] = {"first rows": []}
    try:
        wait_http(f"http://127.0.0.1:{port}/health", server)
        for _ in range(REPEATS):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")  # the app loaded once: what a user has open
            page.wait_for_load_state("networkidle")
            start_clock(page)
            page.evaluate(f"() => {{ window.location.hash = '#/experiments/{experiment}'; }}")
            figures["first rows"].append(until(page, "/bench-\\d{5}/.test(document.body.innerText)", 120_000))
            page.close()
    finally:
        server.terminate()
        server.wait(30)
    return figures


def report(tool: str, figures: dict[str, list[float]]) -> None:
    print()
    for name, values in figures.items():
        runs = ", ".join(f"{v:.0f}" for v in values)
        print(f"  {tool:<12} {name:<30} {statistics.median(values):8.1f} ms   (each: {runs})", flush=True)


def main() -> None:
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    print(f"Runs UI benchmark: {RUNS:,} runs (this machine, chromium; medians of {REPEATS})\n")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        ours = measure_ours(browser, work)
        report("jupyter_mlm", ours)
        theirs = measure_mlflow(browser, work)
        browser.close()
    if theirs:
        report("MLflow", theirs)
        ratio = statistics.median(theirs["first rows"]) / statistics.median(ours["first rows"])
        print(f"\n  first rows: {ratio:.1f}x MLflow's")
    print(f"  goals: first rows, sort, filter <= 300 ms; parallel coordinates of {PC_RUNS:,} runs <= 500 ms")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
