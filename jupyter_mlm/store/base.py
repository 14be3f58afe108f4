"""What every part of the store shares: the engine, the object store, transactions, who the
database says is connected, clocks, ids."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from ..entities import DatabaseIdentity
from ..errors import DiskFull
from .location import StoreLocation
from .objects import ObjectStore

# Members of this PostgreSQL role vouch for the identities they name (a hub-wide server).
SERVICE_ROLE = "mlm_service"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_id() -> str:
    return uuid.uuid4().hex


def _disk_full(error: OperationalError) -> bool:
    """SQLite's SQLITE_FULL, PostgreSQL's disk_full (SQLSTATE 53100)."""
    original = getattr(error, "orig", None)
    if getattr(original, "sqlite_errorname", "") == "SQLITE_FULL" or getattr(original, "sqlstate", "") == "53100":
        return True
    return "database or disk is full" in str(error) or "No space left on device" in str(error)


def _free_space(location: StoreLocation) -> str:
    import os
    import shutil

    from .objects import human_bytes

    path = location.db_url.removeprefix("sqlite:///") if location.backend == "sqlite" else None
    if not path:
        return "unknown"
    try:
        return human_bytes(shutil.disk_usage(os.path.dirname(path) or ".").free)
    except OSError:
        return "unknown"


class StoreBase:
    def __init__(self, location: StoreLocation, engine: Engine, objects: ObjectStore, schema_version: str) -> None:
        self.location = location
        self.engine = engine
        self.objects = objects
        self.schema_version = schema_version
        # New blobs since the last write transaction: added to object_usage by the next one (a
        # blob is nearly always followed by the row that refers to it), never a write of its own.
        self._new_objects = [0, 0]
        self._new_objects_lock = threading.Lock()
        objects.on_new = self._object_written

    def _object_written(self, size: int) -> None:
        with self._new_objects_lock:
            self._new_objects[0] += 1
            self._new_objects[1] += size

    def _take_new_objects(self) -> tuple[int, int]:
        with self._new_objects_lock:
            count, size = self._new_objects
            self._new_objects = [0, 0]
        return count, size

    def _count_objects(self, conn: Connection, count: int, size: int) -> None:
        """Add to this objects store's usage row, where one was counted (status counts first)."""
        from . import tables as t

        usage = t.object_usage
        conn.execute(
            update(usage).where(usage.c.objects_uri == self.objects.uri)
            .values(objects=usage.c.objects + count, bytes=usage.c.bytes + size)
        )  # fmt: skip

    _db_identity: DatabaseIdentity | bool | None = False  # False: not asked yet

    def db_identity(self) -> DatabaseIdentity | None:
        """PostgreSQL's ``session_user`` (which ``SET ROLE`` cannot change) and whether that role
        vouches for the identities it names; None on SQLite, which knows no users."""
        if self._db_identity is False:
            if self.engine.dialect.name != "postgresql":
                self._db_identity = None
            else:
                with self._read() as conn:
                    user = conn.execute(text("SELECT session_user")).scalar_one()
                    vouches = conn.execute(
                        text(
                            "SELECT rolsuper OR EXISTS (SELECT 1 FROM pg_roles s WHERE s.rolname = :service "
                            "AND pg_has_role(session_user, s.oid, 'member')) FROM pg_roles WHERE rolname = session_user"
                        ),
                        {"service": SERVICE_ROLE},
                    ).scalar_one()
                self._db_identity = DatabaseIdentity(str(user), bool(vouches))
        return self._db_identity if isinstance(self._db_identity, DatabaseIdentity) else None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction; ``BEGIN IMMEDIATE`` on SQLite so concurrent writers queue. A full
        disk rolls it back and says so, naming the database and its free space."""
        count, size = self._take_new_objects()
        try:
            with self.engine.connect() as conn:
                conn.execution_options(mlm_write=True)
                with conn.begin():
                    yield conn
                    if count:
                        self._count_objects(conn, count, size)
        except BaseException as error:
            if count:  # rolled back: the next write transaction adds them
                with self._new_objects_lock:
                    self._new_objects[0] += count
                    self._new_objects[1] += size
            if not isinstance(error, OperationalError) or not _disk_full(error):
                raise
            raise DiskFull(
                f"the store's database {self.location.display_url} is on a full disk ({_free_space(self.location)} "
                "free): free some space — logged metric points are kept and written by the next flush — or "
                "move the store (MLM_STORE_URI)"
            ) from None

    def _upsert(
        self, conn: Connection, table: Any, rows: list[dict[str, Any]], keys: list[str], update: list[str]
    ) -> None:
        if not rows:
            return
        from sqlalchemy.dialects import postgresql, sqlite

        dialect_insert: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        statement = dialect_insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={name: statement.excluded[name] for name in update}
        )
        conn.execute(statement, rows)
