"""What every part of the store shares: the engine, the object store, transactions, clocks, ids."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Connection, Engine

from .location import StoreLocation
from .objects import ObjectStore


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_id() -> str:
    return uuid.uuid4().hex


class StoreBase:
    def __init__(self, location: StoreLocation, engine: Engine, objects: ObjectStore, schema_version: str) -> None:
        self.location = location
        self.engine = engine
        self.objects = objects
        self.schema_version = schema_version

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction; ``BEGIN IMMEDIATE`` on SQLite so concurrent writers queue."""
        with self.engine.connect() as conn:
            conn.execution_options(mlm_write=True)
            with conn.begin():
                yield conn

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
