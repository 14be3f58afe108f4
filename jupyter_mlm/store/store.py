"""The store: the one gateway to persistent state, metadata in SQL and blobs in the object store.

Everything above this package talks to a ``Store`` and gets entities back; no SQLAlchemy type
crosses this boundary. Write transactions go through ``_write`` (``BEGIN IMMEDIATE`` on SQLite,
so concurrent kernels queue on the busy timeout instead of failing).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError as SQLIntegrityError

from ..entities import Experiment, StoreStatus
from ..errors import Conflict, NotFound, StoreError, UsageError
from . import tables as t
from .base import new_id, now_ms
from .location import resolve_location
from .loop import LoopMixin
from .metrics import MetricSeries
from .objects import open_object_store
from .registry import RegistryMixin
from .schema import create_store_engine, ensure_schema
from .snapshots import SnapshotsMixin

__all__ = ["DEFAULT_EXPERIMENT", "MetricSeries", "Store", "open_store"]

DEFAULT_EXPERIMENT = "Default"


class Store(RegistryMixin, LoopMixin, SnapshotsMixin):
    """Metadata database plus object store, opened and migrated.

    Use ``open_store()`` rather than constructing this directly.
    """

    def close(self) -> None:
        self.engine.dispose()

    def record_object_usage(self, objects: int, size: int) -> None:
        """Set this objects store's usage from a full count (status's first, fsck's), which
        includes the blobs written here but not yet added."""
        self._take_new_objects()
        row = {"objects_uri": self.objects.uri, "objects": objects, "bytes": size, "counted_ms": now_ms()}
        with self.engine.begin() as conn:
            self._upsert(conn, t.object_usage, [row], ["objects_uri"], ["objects", "bytes", "counted_ms"])

    def forget_objects(self, objects: int, size: int) -> None:
        """``gc`` deleted these."""
        with self._write() as conn:
            self._count_objects(conn, -objects, -size)

    # -- experiments ---------------------------------------------------------------------
    def get_or_create_experiment(self, name: str | None = None) -> Experiment:
        """The experiment called ``name`` (``Default`` when None), created if missing."""
        name = DEFAULT_EXPERIMENT if name is None else name
        if not isinstance(name, str) or not name.strip() or len(name) > 250:
            raise UsageError("experiment name must be a non-empty string of at most 250 characters")
        found = self.find_experiment(name)
        if found:
            return found
        experiment = Experiment(id=new_id(), name=name, created_ms=now_ms())
        try:
            with self._write() as conn:
                conn.execute(insert(t.experiments).values(**experiment.__dict__))
        except SQLIntegrityError:
            # Another process created it between our read and write: theirs is as good.
            found = self.find_experiment(name)
            if found is None:
                raise
            return found
        return experiment

    def find_experiment(self, name: str) -> Experiment | None:
        with self._read() as conn:
            row = conn.execute(select(t.experiments).where(t.experiments.c.name == name)).first()
        return Experiment(**row._mapping) if row else None

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self._read() as conn:
            row = conn.execute(select(t.experiments).where(t.experiments.c.id == experiment_id)).first()
        if row is None:
            raise NotFound(f"no experiment with id {experiment_id!r}")
        return Experiment(**row._mapping)

    def list_experiments(self, archived: bool = False) -> list[Experiment]:
        """Experiments by name; archived ones only with ``archived``."""
        query = select(t.experiments).order_by(t.experiments.c.name)
        if not archived:
            query = query.where(t.experiments.c.archived_ms.is_(None))
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [Experiment(**row._mapping) for row in rows]

    def rename_experiment(self, name: str, new_name: str) -> Experiment:
        if not isinstance(new_name, str) or not new_name.strip() or len(new_name) > 250:
            raise UsageError("experiment name must be a non-empty string of at most 250 characters")
        found = self._experiment_named(name)
        if self.find_experiment(new_name) is not None:
            raise Conflict(f"there is already an experiment called {new_name!r}")
        try:
            with self._write() as conn:
                conn.execute(update(t.experiments).where(t.experiments.c.id == found.id).values(name=new_name))
        except SQLIntegrityError:
            raise Conflict(f"there is already an experiment called {new_name!r}") from None
        return self.get_experiment(found.id)

    def archive_experiment(self, name: str, archived: bool = True) -> Experiment:
        """Hide an experiment from lists (its runs stay, searchable by its name); ``archived=False`` undoes it."""
        found = self._experiment_named(name)
        with self._write() as conn:
            conn.execute(
                update(t.experiments)
                .where(t.experiments.c.id == found.id)
                .values(archived_ms=now_ms() if archived else None)
            )
        return self.get_experiment(found.id)

    def _experiment_named(self, name: str) -> Experiment:
        found = self.find_experiment(name) if isinstance(name, str) else None
        if found is None:
            raise NotFound(f"no experiment called {name!r}")
        return found

    # -- status --------------------------------------------------------------------------
    def status(self) -> StoreStatus:
        """Where the store is, its schema version, and how much it holds."""
        usage = t.object_usage.c
        with self._read() as conn:
            counts = {
                table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (t.experiments, t.runs, t.models)
            }
            kept = conn.execute(select(usage.objects, usage.bytes).where(usage.objects_uri == self.objects.uri)).first()
        if kept is None:  # never counted (a store from before 0009, or new): one full count, then kept
            objects, object_bytes = self.objects.stats()
            self.record_object_usage(objects, object_bytes)
        else:
            with self._new_objects_lock:  # written here, not yet added by a write transaction
                objects, object_bytes = kept.objects + self._new_objects[0], kept.bytes + self._new_objects[1]
        return StoreStatus(
            store_uri=self.location.display_url,
            objects_uri=self.objects.uri,
            backend=self.location.backend,
            schema_version=self.schema_version,
            experiments=counts["experiments"],
            runs=counts["runs"],
            models=counts["models"],
            objects=objects,
            object_bytes=object_bytes,
        )


def open_store(
    store_uri: str | None = None,
    objects_uri: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Store:
    """Resolve, create if needed, and migrate the store.

    Args:
        store_uri: folder path, ``sqlite:///…`` or ``postgresql+psycopg://…``; see
            ``location.resolve_location`` for the fallbacks when omitted.
        objects_uri: folder or fsspec URL for blobs.
        cwd: where to start looking for ``.mlm/`` when no URI is given.

    Raises:
        StoreError: with a one-line message saying what to fix.
    """
    location = resolve_location(store_uri, objects_uri, cwd)
    if location.local_dir is not None:
        _prepare_local_dir(location.local_dir)
    engine = create_store_engine(location)
    try:
        version = ensure_schema(engine, location)
    except BaseException:
        engine.dispose()
        raise
    return Store(location, engine, open_object_store(location.objects_uri), version)


def _prepare_local_dir(store_dir: Path) -> None:
    """Create the store folder, refusing clearly (and before writing anything) when we can't."""
    denied = StoreError(
        f"cannot write store folder {store_dir}: permission denied; set MLM_STORE_URI to a folder you can write"
    )
    try:
        store_dir.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise denied from None
    except OSError as exc:
        raise StoreError(f"cannot create store folder {store_dir}: {exc.strerror}") from None
    if not os.access(store_dir, os.W_OK | os.X_OK, effective_ids=os.access in os.supports_effective_ids):
        raise denied
