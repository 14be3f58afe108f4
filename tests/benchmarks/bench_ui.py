"""Runs UI speed with 10,000 runs, side by side with MLflow's UI, in one run (issue 16).

Both stores get the same runs (``MLM_BENCH_RUNS``, default 10,000: params ``a``, ``b``, metric
``score``); chromium (Playwright) measures, inside the page (``performance.now()`` until the
frame where the result shows):
  - ours, in JupyterLab: opening the sidebar → its first rows; sorting by ``score``; filtering
    ``metrics.score > 0.5``; and, in the expanded table, Plots → parallel coordinates of 1,000
    runs drawn (plus the render time the plot itself records);
  - MLflow 3.17 (``mlflow server``, SQLite, its UI in ``.venv-mlflow-ui``: the project venv's
    ``mlflow-skinny`` has none): from the home page, opening the experiment's Runs page → its
    first row is the newest run; Enter in the search box with ``metrics.score > 0.5`` → the first
    row is the newest matching run; "Sort" → ``score`` → the first row is the best run.
The "first rows" figures differ in what precedes them (ours: a sidebar in a loaded JupyterLab;
MLflow: its home page) and ours sorts by an attribute, MLflow's by the metric (its sort menu
offers no duration) — each is what its user waits for. Goals: first rows, sort and filter
≤ 300 ms; parallel coordinates of 1,000 runs ≤ 500 ms. Prints figures; asserts nothing.
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
ROOT = Path(__file__).resolve().parents[2]


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


def fill_mlflow(uri: str, runs: int) -> str:
    """MLflow's store with the same runs; run by the MLflow UI venv's interpreter (``--fill-mlflow``).

    One run is logged through ``MlflowClient`` as a template; the others are its rows (run,
    tags, params, metrics, latest metrics) copied with their own ids, names, values and times in
    one transaction into MLflow's own tables — what the client writes, minus 60 ms a run."""
    import uuid

    import sqlalchemy as sa
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.create_experiment("bench")
    now = int(time.time() * 1000)
    template = client.create_run(experiment, run_name="template").info.run_id
    client.log_batch(template, metrics=[Metric("score", 0.0, now, 0)], params=[Param("a", "0"), Param("b", "0")])
    client.set_terminated(template)
    engine = sa.create_engine(uri)
    meta = sa.MetaData()
    meta.reflect(engine, only=["runs", "tags", "params", "metrics", "latest_metrics"])
    tables = {name: meta.tables[name] for name in ("runs", "tags", "params", "metrics", "latest_metrics")}
    started = time.perf_counter()
    with engine.begin() as conn:
        rows = {
            name: [dict(r) for r in conn.execute(sa.select(t).where(t.c.run_uuid == template)).mappings()]
            for name, t in tables.items()
        }
        for name in ("tags", "params", "metrics", "latest_metrics", "runs"):
            conn.execute(sa.delete(tables[name]).where(tables[name].c.run_uuid == template))
        copies: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
        for i in range(runs):
            run_id, name, score = uuid.uuid4().hex, f"bench-{i:05d}", ((i * 7919) % runs) / runs
            start = now - (runs - i) * 1000  # newest last, as they were logged
            for row in rows["runs"]:
                copies["runs"].append({**row, "run_uuid": run_id, "name": name, "start_time": start,
                                       "end_time": start + 20, "artifact_uri": row["artifact_uri"].replace(template, run_id)})  # fmt: skip
            for row in rows["tags"]:
                value = name if row["key"] == "mlflow.runName" else row["value"]
                copies["tags"].append({**row, "run_uuid": run_id, "value": value})
            for row in rows["params"]:
                value = str(i % 97) if row["key"] == "a" else str((i * 7) % 13)
                copies["params"].append({**row, "run_uuid": run_id, "value": value})
            for table in ("metrics", "latest_metrics"):
                for row in rows[table]:
                    copies[table].append({**row, "run_uuid": run_id, "value": score, "timestamp": start})
        for name in ("runs", "tags", "params", "metrics", "latest_metrics"):
            conn.execute(sa.insert(tables[name]), copies[name])
    print(f"  MLflow: {runs:,} runs stored in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return str(experiment)


def mlflow_ui_python() -> Path | None:
    """The interpreter of the venv holding MLflow with its UI (``make bench`` makes it): the
    project venv's MLflow is ``mlflow-skinny``, which has no UI."""
    python = ROOT / ".venv-mlflow-ui" / "bin" / "python"
    return python if python.is_file() else None


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


def score(i: int) -> float:
    return ((i * 7919) % RUNS) / RUNS


def measure_mlflow(browser: Any, work: Path) -> dict[str, list[float]] | None:
    python = mlflow_ui_python()
    if python is None:
        print("  MLflow with its UI is not installed here (make bench installs it in .venv-mlflow-ui): no side-by-side")
        return None
    uri = f"sqlite:///{work / 'mlflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    filled = subprocess.run([str(python), __file__, "--fill-mlflow", uri, str(RUNS)], env=env, check=True,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    experiment = filled.stdout.split()[-1]
    port = free_port()
    server = subprocess.Popen(
        [str(python.parent / "mlflow"), "server", "--backend-store-uri", uri, "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    # What each step must show first: the newest run; the newest run with score > 0.5; the best score.
    newest = f"bench-{RUNS - 1:05d}"
    filtered = f"bench-{max(i for i in range(RUNS) if score(i) > 0.5):05d}"
    best = f"bench-{max(range(RUNS), key=score):05d}"
    first_name = "(document.querySelector('[row-index=\"0\"] [col-id*=\"Run Name\"]')?.innerText || '').match(/bench-\\d{5}/)?.[0]"
    figures: dict[str, list[float]] = {"first rows": [], "sort": [], "filter": []}
    try:
        wait_http(f"http://127.0.0.1:{port}/health", server)
        for _ in range(REPEATS):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")  # the app loaded once: what a user has open
            page.wait_for_function("document.body.innerText.includes('Recent Experiments')", timeout=120_000)
            page.get_by_role("button", name="Model training").click()
            start_clock(page)
            page.evaluate(f"() => {{ window.location.hash = '#/experiments/{experiment}/runs'; }}")
            figures["first rows"].append(until(page, f"{first_name} === '{newest}'", 120_000))
            box = page.get_by_test_id("search-box")
            box.fill("metrics.score > 0.5")
            start_clock(page)
            box.press("Enter")
            figures["filter"].append(until(page, f"{first_name} === '{filtered}'", 120_000))
            box.fill("")
            box.press("Enter")
            page.wait_for_function(f"{first_name} === '{newest}'", timeout=120_000)
            page.get_by_role("button", name="Sort: Created").click()
            option = page.get_by_role("menuitemcheckbox", name="score")
            if option.count() == 0:
                option = page.get_by_text("score", exact=True).last
            start_clock(page)
            option.click()
            figures["sort"].append(until(page, f"{first_name} === '{best}'", 120_000))
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
        print()
        for name in theirs:
            ratio = statistics.median(theirs[name]) / statistics.median(ours[name])
            print(f"  {name}: MLflow's takes {ratio:.1f}x ours")
    print(f"  goals: first rows, sort, filter <= 300 ms; parallel coordinates of {PC_RUNS:,} runs <= 500 ms")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--fill-mlflow"]:
        print(fill_mlflow(sys.argv[2], int(sys.argv[3])))
    else:
        main()
