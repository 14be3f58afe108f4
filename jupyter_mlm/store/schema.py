"""Opening a database: engine settings per backend and automatic, concurrency-safe migrations.

Assumptions: migrations form one linear chain named ``NNNN_*.py``; the head is the highest
number, so checking whether a store is current needs one query and no Alembic import (Alembic
costs ~60 ms to import, which the kernel's ``%load_ext`` budget cannot afford). Upgrades run
under an exclusive lock — a lock file beside a SQLite database, an advisory lock on
PostgreSQL — so two processes opening a fresh store at the same moment cannot both create it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from ..errors import StoreError
from .location import StoreLocation

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")
_PG_LOCK_KEY = 0x6D6C6D  # "mlm": any constant shared by every process of this package
SQLITE_BUSY_TIMEOUT_MS = 60_000


def known_revisions() -> list[str]:
    """Revision ids of the migrations shipped with this package, oldest first."""
    return sorted(m.group(1) for name in os.listdir(MIGRATIONS_DIR / "versions") if (m := _REVISION_FILE.match(name)))


def head_revision() -> str:
    return known_revisions()[-1]


def create_store_engine(location: StoreLocation) -> Engine:
    """An engine configured for the backend: WAL, busy timeout and foreign keys on SQLite."""
    try:
        if location.backend == "sqlite":
            engine = create_engine(
                location.db_url,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            )
            _configure_sqlite(engine)
            return engine
        return create_engine(location.db_url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    except (ArgumentError, ValueError) as exc:
        raise StoreError(f"cannot use store URL {location.display_url!r}: {exc}") from None
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"store URL {location.display_url!r} needs the missing driver {exc.name!r}; pip install 'psycopg[binary]'"
        ) from None


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Transactions are begun explicitly below, so the driver must not open its own.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A deferred transaction that reads and then writes fails at once with "database is
        # locked" when another writer got there first; IMMEDIATE waits on the busy timeout.
        if conn.get_execution_options().get("mlm_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def current_revision(conn: Connection) -> str | None:
    try:
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except (OperationalError, ProgrammingError):
        conn.rollback()
        return None
    return row[0] if row else None


def ensure_schema(engine: Engine, location: StoreLocation) -> str:
    """Bring the database to the newest schema this package knows, and return its revision.

    Raises:
        StoreError: the database cannot be reached, or it was written by a newer jupyter_mlm.
    """
    head = head_revision()
    try:
        try:
            with engine.connect() as conn:
                found = current_revision(conn)
        except OperationalError as exc:
            # A process creating the same fresh SQLite store holds it exclusively while it turns
            # on WAL; wait for it behind the migration lock instead of failing.
            if location.backend != "sqlite" or "locked" not in str(exc):
                raise
            found = None
        if found == head:
            return head
        _check_not_newer(found, location)
        with _migration_lock(engine, location) as conn:
            found = current_revision(conn)
            _check_not_newer(found, location)
            if found != head:
                _upgrade(conn, head)
        return head
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        if location.backend == "postgresql":
            raise StoreError(
                f"cannot connect to PostgreSQL at {location.display_url}: {reason}; "
                "check that the server is running and the URL, user and password are right"
            ) from None
        raise StoreError(f"cannot open SQLite store {location.display_url}: {reason}") from None


def _check_not_newer(found: str | None, location: StoreLocation) -> None:
    if found is not None and found not in known_revisions():
        raise StoreError(
            f"store {location.display_url} has schema version {found}, newer than this jupyter_mlm "
            f"knows (up to {head_revision()}); upgrade jupyter_mlm (pip install -U jupyter_mlm)"
        )


@contextmanager
def _migration_lock(engine: Engine, location: StoreLocation) -> Iterator[Connection]:
    if location.backend == "sqlite":
        import fcntl

        assert location.local_dir is not None
        with open(location.local_dir / "mlm.db.lock", "a+b") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                with engine.connect() as conn:
                    yield conn
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
    else:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()


def alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    return config


def _upgrade(conn: Connection, target: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(conn), target)
    conn.commit()
