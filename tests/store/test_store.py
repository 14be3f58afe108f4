"""The metadata store on SQLite and PostgreSQL: schema, migrations, pragmas, bad input."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from jupyter_mlm.errors import StoreError, UsageError
from jupyter_mlm.store import Store, open_store
from jupyter_mlm.store.schema import MIGRATIONS_DIR, head_revision, known_revisions


def test_fresh_store_is_migrated_to_head(store_uri: str, tmp_path: Path) -> None:
    store = open_store(store_uri, str(tmp_path / "objects"))
    assert store.schema_version == head_revision()
    status = store.status()
    assert (status.experiments, status.runs, status.models, status.objects) == (0, 0, 0, 0)
    assert status.schema_version == head_revision()
    store.close()
    # Opening again finds it current and changes nothing.
    again = open_store(store_uri, str(tmp_path / "objects"))
    assert again.schema_version == head_revision()
    again.close()


def test_head_matches_alembic_script_directory() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    assert script.get_current_head() == head_revision()
    # One linear chain: every revision's parent is the one before it.
    revisions = known_revisions()
    for previous, current in itertools.pairwise(revisions):
        assert script.get_revision(current).down_revision == previous


def test_experiments_are_created_once(store) -> None:  # type: ignore[no-untyped-def]
    first = store.get_or_create_experiment("churn")
    again = store.get_or_create_experiment("churn")
    assert first == again
    default = store.get_or_create_experiment()
    assert default.name == "Default"
    assert [e.name for e in store.list_experiments()] == ["Default", "churn"]
    assert store.status().experiments == 2


@pytest.mark.parametrize("bad", ["", "   ", "x" * 251])
def test_bad_experiment_name_is_refused(store, bad: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match="experiment name"):
        store.get_or_create_experiment(bad)
    assert store.status().experiments == 0


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s"))
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    store.close()


def _open_at_once(
    uri: str, objects: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    barrier.wait()
    try:
        store = open_store(uri, objects)
        store.get_or_create_experiment("shared")
        out.put(("ok", store.schema_version))
    except Exception as exc:  # reported to the parent, which fails the test
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def test_processes_opening_a_fresh_store_at_once(store_uri: str, tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    out = context.Queue()
    workers = [
        context.Process(target=_open_at_once, args=(store_uri, str(tmp_path / "objects"), barrier, out))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert results == [("ok", head_revision())] * 4
    store = open_store(store_uri, str(tmp_path / "objects"))
    assert [e.name for e in store.list_experiments()] == ["shared"]
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    store.close()


def test_newer_schema_is_refused_and_left_alone(store_uri: str, tmp_path: Path) -> None:
    store = open_store(store_uri, str(tmp_path / "objects"))
    db_url = store.location.db_url
    store.close()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match=r"schema version 9999, newer than .* upgrade jupyter_mlm"):
        open_store(store_uri, str(tmp_path / "objects"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "9999"
    engine.dispose()


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("mysql://user@host/db", "unsupported store URI"),
        ("bogus://x", "unsupported store URI"),
        ("sqlite://", "no database file"),
        ("sqlite:///:memory:", "no database file"),
        ("postgresql+psycopg://user@localhost", "names no database"),
    ],
)
def test_malformed_uri_gives_one_clear_message(uri: str, message: str, tmp_path: Path) -> None:
    os.chdir(tmp_path)
    with pytest.raises(StoreError, match=message) as caught:
        open_store(uri)
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_store_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "not-a-folder"
    target.write_text("x")
    with pytest.raises(StoreError, match="is a file, not a folder"):
        open_store(str(target))


def test_unreachable_postgres_says_what_to_check(tmp_path: Path) -> None:
    with pytest.raises(
        StoreError, match=r"cannot connect to PostgreSQL at .*check that the server is running"
    ) as caught:
        open_store("postgresql+psycopg://mlm:secret@127.0.0.1:9/nowhere", str(tmp_path / "objects"))
    assert "secret" not in str(caught.value)
    assert not (tmp_path / "objects").exists()


@contextmanager
def _unprivileged() -> Iterator[None]:
    """Root ignores file permissions, so as root act as ``nobody`` for a moment."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.mark.parametrize("existing", [False, True])
def test_store_folder_without_write_permission(existing: bool) -> None:
    parent = Path(tempfile.mkdtemp(prefix="mlm-readonly-"))
    target = parent / "store"
    if existing:
        target.mkdir()
        target.chmod(0o555)
    parent.chmod(0o555)
    try:
        with _unprivileged(), pytest.raises(StoreError, match="permission denied; set MLM_STORE_URI") as caught:
            open_store(str(target))
        assert "\n" not in str(caught.value)
        assert [p.name for p in target.iterdir()] == [] if existing else not target.exists()
    finally:
        parent.chmod(0o755)
        shutil.rmtree(parent, ignore_errors=True)


def test_latest_batch_is_the_newest_by_time(store) -> None:  # type: ignore[no-untyped-def]
    """What every log's rule check reads instead of all of a model's batches."""
    assert store.latest_batch("m") is None
    for ts in (3_000, 9_000, 5_000):
        store.add_batch("m", 1, ts, 10, "a" * 64, None, None, "api")
    store.add_batch("other", 1, 99_000, 10, "b" * 64, None, None, "api")
    latest = store.latest_batch("m")
    assert latest is not None and latest.ts_ms == 9_000


def test_run_keys_count_the_whole_result(store: Store) -> None:
    exp = store.get_or_create_experiment("keys")
    other = store.get_or_create_experiment("elsewhere")
    for i in range(4):
        run = store.create_run(exp.id, f"r{i}")
        store.log_params(run.id, {"depth": i, **({"rare": "x"} if i == 3 else {})})
        store.log_metric_batch(run.id, {"auc": ([0], [0.5 + i / 10], [0])})
        if i % 2:
            store.set_tags(run.id, {"team": "red"})
    outside = store.create_run(other.id, "o")
    store.log_params(outside.id, {"outside": 1})
    keys = store.run_keys(["keys"])
    assert keys == {"params": [("depth", 4), ("rare", 1)], "metrics": [("auc", 4)], "tags": [("team", 2)]}
    assert store.run_keys(["keys"], "metrics.auc > 0.75") == {"params": [("depth", 1), ("rare", 1)],
                                                             "metrics": [("auc", 1)], "tags": [("team", 1)]}  # fmt: skip
    assert ("outside", 1) in store.run_keys()["params"]
