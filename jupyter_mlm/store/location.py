"""Where the store lives: turning a store URI (or nothing) into a database URL and objects URI.

Precedence: an explicit URI (``c.MLM.store_uri``, ``--store``) over ``MLM_STORE_URI`` over
the nearest ``.mlm/`` found walking up from the working directory, else a new ``.mlm/``
there. Resolution validates everything before anything is created, so a bad URI never
leaves a half-made store behind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..errors import StoreError

STORE_DIRNAME = ".mlm"
DB_FILENAME = "mlm.db"
OBJECTS_DIRNAME = "objects"

URI_FORMS = "a folder path, sqlite:////ABSOLUTE/PATH/mlm.db, or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"


@dataclass(frozen=True)
class StoreLocation:
    """A resolved store: ``db_url`` for SQLAlchemy, ``objects_uri`` a folder or fsspec URL."""

    db_url: str
    objects_uri: str
    backend: str  # "sqlite" or "postgresql"
    local_dir: Path | None  # the folder holding mlm.db for SQLite stores

    @property
    def display_url(self) -> str:
        """The database URL with any password masked, safe to show and log."""
        return mask_password(self.db_url)


def mask_password(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@", 1)
    return parsed._replace(netloc=netloc).geturl()


def find_store_dir(start: Path) -> Path | None:
    """The nearest ``.mlm`` folder at or above ``start``, or None."""
    for folder in (start, *start.parents):
        candidate = folder / STORE_DIRNAME
        if candidate.is_dir():
            return candidate
    return None


def resolve_location(
    store_uri: str | None = None,
    objects_uri: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> StoreLocation:
    """Resolve the store from explicit URIs, the environment, or the working directory.

    Args:
        store_uri: a folder path, ``sqlite:///…`` or ``postgresql[+psycopg]://…`` URL;
            empty or None falls back to ``MLM_STORE_URI`` and then to walking up from ``cwd``.
        objects_uri: a folder path or fsspec URL for blobs; falls back to ``MLM_OBJECTS_URI``
            and then to ``objects/`` beside the database (or in the nearest ``.mlm/``).
        cwd: where the walk-up starts; the process's working directory by default.

    Returns:
        The resolved location. Nothing is created here.

    Raises:
        StoreError: the URI is malformed or names an unsupported database.
    """
    base = Path(cwd) if cwd is not None else Path.cwd()
    uri = (store_uri or os.environ.get("MLM_STORE_URI") or "").strip()
    objects = (objects_uri or os.environ.get("MLM_OBJECTS_URI") or "").strip()

    if not uri:
        store_dir = find_store_dir(base.resolve()) or (base / STORE_DIRNAME)
        return _sqlite_location(store_dir.resolve(), objects)

    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if not scheme:
        return _sqlite_location((base / Path(uri).expanduser()).resolve(), objects)
    if scheme == "file":
        return _sqlite_location(Path(unquote(urlparse(uri).path)).resolve(), objects)
    if scheme == "sqlite":
        path_part = uri[len("sqlite://") :]
        if not path_part.startswith("/") or path_part in ("/", "/:memory:"):
            raise StoreError(
                f"store URI {uri!r} has no database file; use sqlite:////ABSOLUTE/PATH/mlm.db "
                "(four slashes for an absolute path)"
            )
        db_path = Path(unquote(path_part[1:])).expanduser().resolve()
        if db_path.is_dir():
            raise StoreError(
                f"store URI {uri!r} names a folder; give the path of the .db file, or the folder itself without sqlite://"
            )
        default_objects = str(db_path.parent / OBJECTS_DIRNAME)
        return StoreLocation(f"sqlite:///{db_path}", objects or default_objects, "sqlite", db_path.parent)
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        parsed = urlparse(uri)
        if not parsed.path.strip("/"):
            raise StoreError(f"store URI {mask_password(uri)!r} names no database; use {URI_FORMS}")
        url = "postgresql+psycopg://" + uri.split("://", 1)[1]
        if not objects:
            local = find_store_dir(base.resolve()) or (base / STORE_DIRNAME)
            objects = str(local.resolve() / OBJECTS_DIRNAME)
        return StoreLocation(url, objects, "postgresql", None)
    raise StoreError(f"unsupported store URI {mask_password(uri)!r}; use {URI_FORMS}")


def _sqlite_location(store_dir: Path, objects: str) -> StoreLocation:
    if store_dir.exists() and not store_dir.is_dir():
        raise StoreError(f"store path {store_dir} is a file, not a folder; point MLM_STORE_URI at a folder")
    db_path = store_dir / DB_FILENAME
    return StoreLocation(f"sqlite:///{db_path}", objects or str(store_dir / OBJECTS_DIRNAME), "sqlite", store_dir)
