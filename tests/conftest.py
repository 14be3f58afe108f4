"""Shared fixtures: stores on both backends, and the rule that CI never skips a backend."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlm.store import Store, open_store

pytest_plugins = ["pytest_jupyter.jupyter_server"]

IN_CI = os.environ.get("CI", "").lower() == "true"
BASE_POSTGRES_URL = os.environ.get("MLM_TEST_POSTGRES_URL", "")
# Under xdist each worker resets its own database (``mlm_test_gw0``, …), made on first use.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _worker_url(url: str) -> str:
    if not url or not WORKER:
        return url
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{WORKER}").render_as_string(hide_password=False)


POSTGRES_URL = _worker_url(BASE_POSTGRES_URL)
CHROMIUM = os.environ.get("MLM_TEST_CHROMIUM", "/usr/bin/chromium")


def require(available: bool, what: str) -> None:
    """Skip locally when a service is missing; in CI a missing service is a failure."""
    if not available:
        if IN_CI:
            pytest.fail(f"{what} is required in CI but is not available")
        pytest.skip(f"{what} is not available")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own MLM_* settings must never leak into (or be written by) the tests.
    # setenv first so that teardown restores the variable's absence even if a test (or the
    # server extension under test) sets it.
    for name in (
        "MLM_STORE_URI", "MLM_OBJECTS_URI", "MLM_USER", "MLM_TRUSTED_PUBLISHERS", "JUPYTERHUB_USER",
        "MLM_CAPTURE_OUTPUT", "MLM_SYSTEM_METRICS_SECONDS",
    ):  # fmt: skip
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    # A sample every 10 s would land in whichever test's run is active then: tests that look
    # at system metrics turn them on themselves.
    monkeypatch.setenv("MLM_SYSTEM_METRICS_SECONDS", "0")


def _ensure_database(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    admin = create_engine(BASE_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    if url != BASE_POSTGRES_URL:
        _ensure_database(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def postgres_url() -> str:
    require(bool(POSTGRES_URL), "PostgreSQL (MLM_TEST_POSTGRES_URL)")
    reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URI of each backend, empty and ready to be opened."""
    if request.param == "sqlite":
        return str(tmp_path / "store")
    return str(request.getfixturevalue("postgres_url"))


# The suites that also run with their blobs on the S3 API (moto's server): tracking, snapshots,
# the registry. Their tests get an ``-s3`` variant next to ``-local``.
S3_SUITES = ("tests.unit.test_tracking", "tests.unit.test_registry", "tests.unit.test_capture",
             "tests.kernel.test_snapshots")  # fmt: skip


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "objects_backend" in metafunc.fixturenames:
        on_s3 = metafunc.module.__name__ in S3_SUITES
        metafunc.parametrize("objects_backend", ["local", "s3"] if on_s3 else ["local"])


# `make test` runs two xdist workers (--dist loadgroup). A package whose tests share one lab
# server (and run in an order they rely on) is one group; every other module is a group of its
# own, so module-scoped fixtures are made once. The longest groups go first: a long group
# started last would leave the other worker idle at the end.
SHARED_PACKAGES = ("tests/ui/", "tests/story/")
LONGEST_FIRST = ("tests/binder/", "tests/ui/", "tests/story/", "tests/kernel/test_binder_demos.py",
                 "tests/reliability/", "tests/interop/", "tests/serving/", "tests/kernel/")  # fmt: skip


def _group(path: str) -> str:
    return next((package for package in SHARED_PACKAGES if path.startswith(package)), path)


def _rank(path: str) -> int:
    return next((i for i, prefix in enumerate(LONGEST_FIRST) if path.startswith(prefix)), len(LONGEST_FIRST))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The S3 variants run on SQLite: PostgreSQL with S3 (the team setup) has suites of its own
    (tests/store/test_s3.py, tests/team/), and twice the S3 variants would add minutes, not cover more."""
    items[:] = [
        item for item in items
        if not (getattr(item, "callspec", None) and item.callspec.params.get("objects_backend") == "s3"
                and item.callspec.params.get("store_uri") == "postgresql")
    ]  # fmt: skip
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item.nodeid.split("::")[0])))
    items.sort(key=lambda item: _rank(item.nodeid))  # stable: each module keeps its own order


@pytest.fixture
def store(store_uri: str, objects_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Store]:
    objects = str(tmp_path / "objects") if objects_backend == "local" else request.getfixturevalue("s3_objects")
    opened = open_store(store_uri, objects)
    yield opened
    opened.close()


@pytest.fixture
def session(store: Store) -> Iterator[Store]:
    """The process's tracking session pointed at a fresh store of each backend."""
    from jupyter_mlm.tracking import SESSION

    SESSION.use_store(store)
    yield store
    SESSION.use_store(None)


# -- an S3 API on loopback (moto's server, a real HTTP S3 endpoint in its own process) ----------
# Made at run time: a literal would be in this file's text, which snapshots rightly capture
# (with its git diff) as a local source of any run these tests start.
S3_KEY, S3_SECRET = "mlm-test-access-key", "mlm-" + uuid.uuid4().hex + uuid.uuid4().hex


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import shutil
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    server = shutil.which("moto_server", path=os.path.dirname(sys.executable))
    require(server is not None, "moto's S3 server (pip install 'moto[server]')")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start (see {log.name})") from None
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(30)
    log.close()


@pytest.fixture
def s3_objects(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``s3://BUCKET/objects`` on the loopback S3 API, a new bucket per test; credentials and the
    endpoint come from the usual AWS variables, as they would for a team's store."""
    import fsspec

    for name, value in (("AWS_ACCESS_KEY_ID", S3_KEY), ("AWS_SECRET_ACCESS_KEY", S3_SECRET),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", s3_endpoint)):  # fmt: skip
        monkeypatch.setenv(name, value)
    bucket = f"mlm-{uuid.uuid4().hex[:16]}"
    fsspec.filesystem("s3").mkdir(bucket)  # the cached filesystem: botocore loads its models once
    return f"s3://{bucket}/objects"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The security and reliability suites' figures, at the end of the run (and of CI's log)."""
    from .figures import FIGURES

    if FIGURES:
        terminalreporter.section("figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker hands its figures to the controller, which prints them all."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        from .figures import FIGURES

        workeroutput["mlm_figures"] = list(FIGURES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    from .figures import FIGURES

    FIGURES.extend(getattr(node, "workeroutput", {}).get("mlm_figures", []))
