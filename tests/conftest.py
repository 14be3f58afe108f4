"""Shared fixtures: stores on both backends, and the rule that CI never skips a backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mlm.store import Store, open_store

pytest_plugins = ["pytest_jupyter.jupyter_server"]

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("MLM_TEST_POSTGRES_URL", "")
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
    ):  # fmt: skip
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

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


@pytest.fixture
def store(store_uri: str, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(store_uri, str(tmp_path / "objects"))
    yield opened
    opened.close()


@pytest.fixture
def session(store: Store) -> Iterator[Store]:
    """The process's tracking session pointed at a fresh store of each backend."""
    from jupyter_mlm.tracking import SESSION

    SESSION.use_store(store)
    yield store
    SESSION.use_store(None)
