"""Reliability: many writers at once, kill -9 at random moments, and grammars fuzzed with
hypothesis — on both backends. Each test prints its figures (``-s`` or the CI log's summary)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlm.errors import MLMError, UsageError
from jupyter_mlm.store import Store, open_store
from jupyter_mlm.store.health import fsck

from ..figures import FIGURES

WRITER = textwrap.dedent("""
    import sys
    import jupyter_mlm as mlm
    mlm.start_run(f"writer-{sys.argv[1]}", experiment="load")
    for i in range(100_000):
        mlm.log_metric("loss", i * 0.25)
        if i % 10_000 == 0:
            mlm.flush()
    mlm.end_run()
""")


@pytest.mark.timeout(600)
def test_eight_processes_of_100k_points_store_800k(store_uri: str, tmp_path: Path) -> None:
    objects = str(tmp_path / "objects")
    open_store(store_uri, objects).close()
    env = {**os.environ, "MLM_STORE_URI": store_uri, "MLM_OBJECTS_URI": objects}
    start = time.perf_counter()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(n)], env=env, stderr=subprocess.PIPE, text=True)
               for n in range(8)]  # fmt: skip
    errors = [w.communicate(timeout=500)[1] for w in writers]
    elapsed = time.perf_counter() - start
    assert [w.returncode for w in writers] == [0] * 8, errors
    store = open_store(store_uri, objects)
    runs, total = store.search_runs(["load"])
    stored = sum(len(store.get_metric_series(r.info.id, "loss")) for r in runs)
    assert total == 8 and stored == 800_000
    for run in runs:
        assert list(store.get_metric_series(run.info.id, "loss").steps) == list(range(100_000))
    FIGURES.append(f"{store.location.backend}: 8 processes × 100,000 points → {stored:,} stored in {elapsed:.1f} s")
    store.close()


VICTIM = textwrap.dedent("""
    import sys, os
    import jupyter_mlm as mlm
    run = mlm.start_run("victim", experiment="kill")
    mlm.log_param("seed", sys.argv[1])
    i = 0
    while True:
        mlm.log_metric("x", float(i))
        i += 1
        if i % 2_000 == 0:
            mlm.flush()
            print(i, flush=True)                     # every point before this is on disk
        if i % 5_000 == 0:
            mlm.log_artifact(os.path.join(sys.argv[2], "blob.bin"), name=f"b{i}.bin")
""")


@pytest.mark.timeout(900)
def test_twenty_kill_9_trials_lose_nothing_flushed(store_uri: str, tmp_path: Path) -> None:
    objects = str(tmp_path / "objects")
    open_store(store_uri, objects).close()
    (tmp_path / "blob.bin").write_bytes(os.urandom(256 * 1024))
    env = {**os.environ, "MLM_STORE_URI": store_uri, "MLM_OBJECTS_URI": objects}
    rng = random.Random(20261201)
    kept: list[int] = []
    for trial in range(20):
        victim = subprocess.Popen([sys.executable, "-c", VICTIM, str(trial), str(tmp_path)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
        assert victim.stdout is not None
        flushed = int(victim.stdout.readline())  # running and writing
        time.sleep(rng.uniform(0.0, 0.6))  # a random moment: mid-flush, mid-artifact, between
        os.kill(victim.pid, signal.SIGKILL)
        rest = victim.stdout.read()
        victim.wait(30)
        flushed = max([flushed, *(int(line) for line in rest.split())])
        store = open_store(store_uri, objects)
        run = store.search_runs(["kill"], order_by="start DESC", limit=1)[0][0]
        series = store.get_metric_series(run.info.id, "x")
        assert len(series) >= flushed, (trial, len(series), flushed)
        assert list(series.values) == [float(i) for i in range(len(series))]  # a prefix: no gap, no torn batch
        kept.append(len(series) - flushed)
        store.close()
    store = open_store(store_uri, objects)
    report = fsck(store)
    assert report.ok, report.problems
    runs, _ = store.search_runs(["kill"])
    store.close()
    FIGURES.append(f"{store.location.backend}: 20 kill -9 trials, every flushed point kept, fsck clean "
                   f"({report.referenced} blobs referenced); {len(runs)} runs")  # fmt: skip


# -- grammars, fuzzed ------------------------------------------------------------------------------
FILTER_TOKENS = ["params.lr", "metrics.auc", "tags.team", "status", "name", "notebook_id", "=", "!=", "<", ">=",
                 "and", "or", "in", "like", "is", "null", "not", "(", ")", ",", "'a'", "'it''s'", "0.5", "-1e308",
                 "1e999", "nan", "'%'", "\"x\"", "params.", "metrics.a b", "tags.`x`", ";", "--", "/*"]  # fmt: skip
filters = st.lists(st.one_of(st.sampled_from(FILTER_TOKENS), st.text(max_size=6)), max_size=12).map(" ".join)


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("fuzz")
    store = open_store(str(folder / "store"), str(folder / "objects"))
    run = store.create_run(store.get_or_create_experiment("f").id, "r")
    store.log_params(run.id, {"lr": 0.1})
    store.log_metric_batch(run.id, {"auc": ([0], [0.8], [0])})
    return store


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=filters)
def test_the_filter_grammar_answers_or_refuses_in_one_line(fuzz_store: Store, text: str) -> None:
    try:
        fuzz_store.search_runs(filter=text, limit=5)
    except UsageError as error:
        assert "\n" not in str(error) and str(error)


RULE_TOKENS = ["drift(age)", "drift(*)", "psi(age)", "roc_auc", "accuracy", "missing(age)", "p95_latency_ms", "rows",
               "<", ">", "<=", ">=", "==", "0.78", "-1", "1e400", "and", "over", "1d", "7d", "0s", "within", "(", ")",
               "previous.roc_auc", "champion.roc_auc", "challenger.roc_auc", "+", "-", "*", "nan"]  # fmt: skip
rules = st.lists(st.one_of(st.sampled_from(RULE_TOKENS), st.text(max_size=6)), max_size=10).map(" ".join)


@settings(max_examples=400, deadline=None)
@given(text=rules)
def test_rule_and_policy_grammars_answer_or_refuse_in_one_line(text: str) -> None:
    from jupyter_mlm.loop.policy import parse_promote, parse_rollback
    from jupyter_mlm.monitoring.rules import parse_rule

    for parse in (parse_rule, parse_promote, parse_rollback):
        try:
            parse(text)
        except UsageError as error:
            assert "\n" not in str(error) and str(error)


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_mlm.tracking import SESSION

    folder = tmp_path_factory.mktemp("magic-fuzz")
    SESSION.use_store(open_store(str(folder / "store"), str(folder / "objects")))
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jupyter_mlm")
    yield ip
    SESSION.use_store(None)


MAGIC_TOKENS = ["metric", "param", "tag", "artifact", "data", "model", "start", "end", "loss=0.1", "lr=1e-3",
                "x=", "=1", "--step", "5", "-5", "huge=" + "9" * 400, "/dev/null", "--flavor", "onnx", "--name",
                "'a b'", '"', "--filter", "metrics.x > 1", "--retrain", "train.ipynb", "--param", "k=v", "rule"]  # fmt: skip
magic_lines = st.lists(st.one_of(st.sampled_from(MAGIC_TOKENS), st.text(max_size=5)), max_size=8).map(" ".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(magic=st.sampled_from(["mlm_log", "mlm_run", "mlm_runs", "mlm_monitor", "mlm_register", "mlm_diff"]),
       line=magic_lines)  # fmt: skip
def test_magics_answer_or_refuse_with_a_usage_error(shell: Any, magic: str, line: str) -> None:
    from IPython.core.error import UsageError as MagicUsageError

    from jupyter_mlm.tracking import SESSION

    try:
        shell.run_line_magic(magic, line)
    except MagicUsageError as error:
        assert str(error).strip() and "Traceback" not in str(error)
    except MLMError as error:  # a store-level refusal reached directly (still one line)
        assert "\n" not in str(error)
    finally:
        while SESSION.stack:
            SESSION.end_run()


def test_a_rule_checked_by_two_processes_at_once_fires_once(store_uri: str, tmp_path: Path) -> None:
    """The serving writer checks the rules after a batch while a labeller checks them after
    labels: both see the rule broken, one alert and one retraining job must come of it."""
    import threading

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlm.loop.jobs import retrain
    from jupyter_mlm.monitoring.service import Monitor
    from jupyter_mlm.registry import register

    X = np.random.default_rng(0).normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    stores = [open_store(store_uri, str(tmp_path / "objects")) for _ in range(2)]
    register(stores[0], LogisticRegression().fit(X, y), "m", run_id=None, actor="t", reference_data=X)
    monitors = [Monitor(s, "t") for s in stores]
    stamps = [1_700_000_000_000 + trial * 10**9 for trial in range(8)]  # days apart: a new window each
    for trial, ts in enumerate(stamps):
        monitors[0].log("m", X, predictions=1 - y, labels=y, ids=[f"t{trial}-{i}" for i in range(200)], version=1,
                        timestamp=ts)  # fmt: skip
    monitors[0].add_rule("m", "accuracy < 0.9", retrain("train.ipynb"))
    fired = 0
    for ts in stamps:
        gate = threading.Barrier(2)
        results: list[int] = []

        def check(monitor: Monitor, end: int = ts, gate: Any = gate, results: list[int] = results) -> None:
            gate.wait()
            results.append(len(monitor.check_rules("m", end_ms=end)))

        threads = [threading.Thread(target=check, args=(m,)) for m in monitors]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(results) == 1, results  # one of the two fired it, the other saw it fired
        fired += 1
    alerts, jobs = stores[0].alerts("m"), stores[0].jobs("m")
    assert len(alerts) == len(jobs) == fired == 8, (len(alerts), len(jobs), fired)
    assert len({(a.window_start_ms, a.window_end_ms) for a in alerts}) == len(alerts)  # never twice for one window
    for store in stores:
        store.close()
    FIGURES.append(f"{store.location.backend}: a rule checked by two processes at once, 8 times: {len(alerts)} alerts")
