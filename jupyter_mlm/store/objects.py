"""Content-addressed blobs: ``objects/ab/cdef…`` named by the BLAKE3 hex digest of their bytes.

A blob is written under a temporary name, flushed and fsynced, then renamed into place, so a
reader never sees a partial blob and a killed writer leaves only a temporary file behind.
Blobs are never rewritten (putting existing content is a no-op) and every read is verified:
corrupted or truncated content raises ``IntegrityError`` naming the digest.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import shutil
import stat
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import blake3

from ..errors import DiskFull, IntegrityError, NotFound, StoreError, UsageError

CHUNK = 1 << 20
# Files up to this size are read whole by ``put_files`` (hashed and uploaded from one buffer);
# larger ones stream through ``put_file``.
WHOLE_FILE_BYTES = 16 << 20
ABANDONED_AFTER_SECONDS = 3600
DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredObject:
    digest: str
    size: int
    modified: float  # seconds since the epoch


def human_bytes(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover - the loop returns


MAX_REMEMBERED_FILES = 10_000


def _stat_key(info: os.stat_result) -> tuple[int, ...]:
    # Nanosecond modification and change times with the inode and size: what git trusts to
    # tell an unchanged file (an edit within one clock tick that keeps the size goes unseen).
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def digest_bytes(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def check_digest(digest: str) -> str:
    """Refuse anything that is not a 64-hex digest (this also keeps paths inside the store)."""
    if not isinstance(digest, str) or not DIGEST_RE.match(digest):
        raise UsageError(f"invalid object digest {digest!r}: expected 64 lowercase hex characters")
    return digest


class VerifyingReader(io.RawIOBase):
    """A read-only stream that hashes what passes through and checks the digest at EOF."""

    def __init__(self, raw: IO[bytes], digest: str) -> None:
        self._raw = raw
        self._digest = digest
        self._hasher = blake3.blake3()
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        if not data:
            self._check()
            return 0
        self._hasher.update(data)
        buffer[: len(data)] = data
        return len(data)

    def _check(self) -> None:
        if not self._checked:
            self._checked = True
            if self._hasher.hexdigest() != self._digest:
                raise _corrupted(self._digest)

    def close(self) -> None:
        self._raw.close()
        super().close()


def _corrupted(digest: str) -> IntegrityError:
    return IntegrityError(
        f"object {digest} is corrupted or truncated (its content no longer matches its digest); "
        "restore it from a backup or log it again"
    )


class ObjectStore(ABC):
    """The blob contract; ``LocalObjectStore`` and ``FsspecObjectStore`` implement the storage."""

    uri: str

    # -- storage primitives ------------------------------------------------------------
    @abstractmethod
    def _exists(self, digest: str) -> bool: ...

    @abstractmethod
    def _open_raw(self, digest: str) -> IO[bytes]: ...

    # Told the size of each blob that did not exist before (the store keeps its usage counts).
    on_new: Callable[[int], None] | None = None

    @property
    def _file_digests(self) -> dict[tuple[int, ...], str]:
        """Files this store took, by ``_stat_key``: their digests without reading them again."""
        try:
            return self.__dict__["_file_digest_cache"]  # type: ignore[no-any-return]
        except KeyError:
            return self.__dict__.setdefault("_file_digest_cache", {})  # type: ignore[no-any-return]

    def _written(self, size: int) -> None:
        if self.on_new is not None:
            self.on_new(size)

    @abstractmethod
    def _write_new(self, chunks: Iterator[bytes], expected: int | None = None) -> tuple[str, int]:
        """Write chunks to a temporary blob, hash them, and move it into place; (digest, size)."""

    @abstractmethod
    def _iter_sizes(self) -> Iterator[int]: ...

    # -- public API --------------------------------------------------------------------
    def put(self, source: bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]) -> str:
        """Store bytes, a file (by path) or a binary stream; returns the digest.

        Args:
            source: the content itself (``bytes``-like), the path of a regular file, or an
                object with a binary ``read``.

        Returns:
            The BLAKE3 hex digest that names the blob.
        """
        if isinstance(source, (bytes, bytearray, memoryview)):
            return self.put_bytes(bytes(source))
        if isinstance(source, (str, os.PathLike)):
            return self.put_file(source)
        if callable(getattr(source, "read", None)):
            return self.put_stream(source)
        raise UsageError(f"put takes bytes, a file path or a binary stream, not {type(source).__name__}")

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; returns its digest. Idempotent."""
        digest = digest_bytes(data)
        if self._exists(digest):
            self.touch(digest)
            return digest
        written, _ = self._write_new(iter((data,)), len(data))
        return written

    def put_many(self, blobs: Iterable[bytes]) -> list[str]:
        """Store several contents (a notebook's cells); their digests in order. Stores with a
        round trip per request (S3) check and upload them concurrently."""
        return [self.put_bytes(data) for data in blobs]

    def put_files(self, paths: Iterable[str | os.PathLike[str]]) -> dict[str, str]:
        """Store several files (a snapshot's sources); ``{path: digest}`` of those stored.

        A path that is not a readable regular file by the time it is read is left out, not
        raised: a snapshot records what it could. ``put_file`` raises instead.
        """
        stored: dict[str, str] = {}
        for path in paths:
            with contextlib.suppress(OSError, NotFound, UsageError):
                stored[os.fspath(path)] = self.put_file(path)
        return stored

    def _remember(self, key: tuple[int, ...], digest: str) -> None:
        if len(self._file_digests) >= MAX_REMEMBERED_FILES:
            self._file_digests.clear()
        self._file_digests[key] = digest

    def put_stream(self, stream: IO[bytes], size: int | None = None) -> str:
        """Store everything readable from ``stream``; returns its digest."""
        return self._write_new(iter(lambda: stream.read(CHUNK), b""), size)[0]

    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Store the content of a regular file; returns its digest.

        A snapshot puts every local source file again at each run's end: the file is hashed
        first (and not at all when its inode, size and times are those of a file this store
        took before), so content already stored costs one existence check — no copy, no fsync,
        no upload.
        """
        try:
            with open(path, "rb") as handle:
                before = os.fstat(handle.fileno())
                if not stat.S_ISREG(before.st_mode):  # a pipe cannot be read twice
                    return self.put_stream(handle)
                key = _stat_key(before)
                digest = self._file_digests.get(key)
                if digest is None:
                    hasher = blake3.blake3()
                    for chunk in iter(lambda: handle.read(CHUNK), b""):
                        hasher.update(chunk)
                    digest = hasher.hexdigest()
                    handle.seek(0)
                if not self._exists(digest):
                    digest = self._put_new_file(handle, before.st_size)
                else:
                    self.touch(digest)
                if _stat_key(os.fstat(handle.fileno())) == key:  # unchanged while read
                    self._remember(key, digest)
                return digest
        except FileNotFoundError:
            raise NotFound(f"file {os.fspath(path)!r} does not exist") from None
        except IsADirectoryError:
            raise UsageError(f"{os.fspath(path)!r} is a folder; pass a file") from None

    def _put_new_file(self, handle: IO[bytes], size: int) -> str:
        """Store an open file found missing (positioned at its start); its digest."""
        return self.put_stream(handle, size)

    def exists(self, digest: str) -> bool:
        return self._exists(check_digest(digest))

    def _open_existing(self, digest: str) -> IO[bytes]:
        check_digest(digest)
        try:
            return self._open_raw(digest)
        except FileNotFoundError:
            raise NotFound(f"object {digest} is not in the store at {self.uri}") from None

    def open(self, digest: str) -> BinaryIO:
        """A stream over the blob; reading it to the end raises ``IntegrityError`` on corruption."""
        raw = self._open_existing(digest)
        return io.BufferedReader(VerifyingReader(raw, digest), CHUNK)  # type: ignore[return-value]

    def get(self, digest: str) -> bytes:
        """The blob's bytes, verified against the digest."""
        with self._open_existing(digest) as raw:
            data = raw.read()
        # One hash over the whole content: snapshots and diffs read thousands of small cell blobs,
        # where the streaming verifier's per-read overhead would dominate.
        if digest_bytes(data) != digest:
            raise _corrupted(digest)
        return data

    def verify(self, digest: str) -> None:
        """Re-hash the blob; raises ``IntegrityError`` if it no longer matches."""
        with self.open(digest) as stream:
            while stream.read(CHUNK):
                pass

    def touch(self, digest: str) -> None:  # noqa: B027 - optional: stores that cannot refresh a blob do nothing
        """A put found the blob already there (see ``LocalObjectStore.touch``)."""

    def listing(self) -> Iterator[StoredObject]:
        """Every blob (digest, size, last modified), in no particular order."""
        raise NotImplementedError

    def temporaries(self) -> Iterator[StoredObject]:
        """Uploads that never became blobs (a writer killed mid-put); ``digest`` holds their name."""
        raise NotImplementedError

    def delete(self, digest: str) -> None:
        raise NotImplementedError

    def delete_temporary(self, name: str) -> None:
        raise NotImplementedError

    def stats(self) -> tuple[int, int]:
        """(number of blobs, total bytes)."""
        count = total = 0
        for size in self._iter_sizes():
            count += 1
            total += size
        return count, total


class LocalObjectStore(ObjectStore):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.uri = str(self.root)
        self._swept = False

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:]

    def _exists(self, digest: str) -> bool:
        return self._path(digest).is_file()

    def _open_raw(self, digest: str) -> IO[bytes]:
        return open(self._path(digest), "rb")

    def ensure_writable(self) -> None:
        try:
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        except PermissionError:
            raise StoreError(
                f"cannot write objects folder {self.root}: permission denied; "
                "set MLM_OBJECTS_URI to a folder you can write"
            ) from None
        if not self._swept:
            self._swept = True
            self._remove_abandoned_temporaries()

    def _remove_abandoned_temporaries(self) -> None:
        # A writer killed mid-put leaves its temporary file; a live writer keeps touching its own,
        # so one untouched for an hour belongs to nobody.
        cutoff = time.time() - ABANDONED_AFTER_SECONDS
        for entry in os.scandir(self.root / "tmp"):
            try:
                if entry.name.startswith("put-") and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
            except FileNotFoundError:
                continue  # another process swept it first

    def _write_new(self, chunks: Iterator[bytes], expected: int | None = None) -> tuple[str, int]:
        try:
            return self._write_local(chunks)
        except OSError as error:
            if error.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            try:
                free = human_bytes(shutil.disk_usage(self.root).free)
            except OSError:
                free = "unknown"
            needed = f"{human_bytes(expected)} needed, " if expected is not None else ""
            raise DiskFull(
                f"the objects folder {self.root} is full ({needed}{free} free): free some space or point "
                "MLM_OBJECTS_URI at a larger volume; nothing was stored"
            ) from None

    def _write_local(self, chunks: Iterator[bytes]) -> tuple[str, int]:
        self.ensure_writable()
        hasher = blake3.blake3()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.root / "tmp", prefix="put-")
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    hasher.update(chunk)
                    handle.write(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            digest = hasher.hexdigest()
            target = self._path(digest)
            if target.is_file():
                os.unlink(tmp_name)
                self.touch(digest)
                return digest, size
            target.parent.mkdir(exist_ok=True)
            os.chmod(tmp_name, 0o444)
            os.replace(tmp_name, target)
            _fsync_dir(target.parent)
            self._written(size)
            return digest, size
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    def _iter_sizes(self) -> Iterator[int]:
        for stored in self.listing():
            yield stored.size

    def listing(self) -> Iterator[StoredObject]:
        if not self.root.is_dir():
            return
        for prefix in os.scandir(self.root):
            if len(prefix.name) == 2 and prefix.is_dir():
                for entry in os.scandir(prefix.path):
                    try:
                        info = entry.stat()
                    except FileNotFoundError:
                        continue  # collected meanwhile
                    yield StoredObject(prefix.name + entry.name, info.st_size, info.st_mtime)

    def temporaries(self) -> Iterator[StoredObject]:
        folder = self.root / "tmp"
        if not folder.is_dir():
            return
        for entry in os.scandir(folder):
            try:
                info = entry.stat()
            except FileNotFoundError:
                continue
            yield StoredObject(entry.name, info.st_size, info.st_mtime)

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(check_digest(digest)))

    def delete_temporary(self, name: str) -> None:
        if "/" in name or name in ("", ".", ".."):
            raise UsageError(f"not a temporary of this store: {name!r}")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.root / "tmp" / name)

    def touch(self, digest: str) -> None:
        """Mark an existing blob as just written (a put that found it): garbage collection keeps
        blobs younger than its grace period, so one a live writer is about to reference is safe."""
        with contextlib.suppress(OSError):
            os.utime(self._path(digest))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Backends where one PUT makes an object appear whole or not at all: content whose digest is
# known (hashed from the very buffer sent) goes straight to its key, one request instead of
# upload, check, copy and delete.
ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})


class FsspecObjectStore(ObjectStore):
    """Blobs on any fsspec filesystem (``s3://…``, ``memory://…``): content of a known digest is
    PUT to its key where a PUT is atomic; streams are uploaded to a temporary key, then moved."""

    def __init__(self, uri: str) -> None:
        import fsspec

        # Object stores' listing caches would hide blobs other processes (another server, a
        # worker) wrote after this one listed a prefix: every lookup asks the store itself.
        protocol = uri.split("://", 1)[0].lower()
        options = {"use_listings_cache": False} if protocol in ("s3", "s3a", "gs", "gcs") else {}
        try:
            self.fs, self.base = fsspec.core.url_to_fs(uri, **options)
        except (ValueError, ImportError) as exc:
            raise StoreError(f"cannot use objects URI {uri!r}: {exc}") from None
        self.uri = uri
        self.base = self.base.rstrip("/")
        self._atomic_put = protocol in ATOMIC_PUT_PROTOCOLS

    def _path(self, digest: str) -> str:
        return f"{self.base}/{digest[:2]}/{digest[2:]}"

    def _exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self._path(digest)))

    def _exist_all(self, digests: list[str]) -> list[bool]:
        """Which digests are stored, asked concurrently where the filesystem is asynchronous."""
        from fsspec.asyn import AsyncFileSystem, sync

        if not isinstance(self.fs, AsyncFileSystem) or len(digests) < 2:
            return [self._exists(d) for d in digests]

        async def ask() -> list[bool]:
            import asyncio

            found = await asyncio.gather(*(self.fs._exists(self._path(d)) for d in digests))
            return [bool(f) for f in found]

        return sync(self.fs.loop, ask)  # type: ignore[no-any-return]

    def _put_known(self, contents: dict[str, bytes]) -> None:
        """PUT contents hashed from these very buffers to their keys (concurrently on S3)."""
        if contents:
            self.fs.pipe({self._path(digest): data for digest, data in contents.items()})
            for data in contents.values():
                self._written(len(data))

    def put_bytes(self, data: bytes) -> str:
        if not self._atomic_put:
            return super().put_bytes(data)
        return self.put_many([data])[0]

    def put_many(self, blobs: Iterable[bytes]) -> list[str]:
        if not self._atomic_put:
            return super().put_many(blobs)
        contents = [bytes(data) for data in blobs]
        digests = [digest_bytes(data) for data in contents]
        unique = dict(zip(digests, contents, strict=True))
        present = dict(zip(unique, self._exist_all(list(unique)), strict=True))
        self._put_known({digest: data for digest, data in unique.items() if not present[digest]})
        return digests

    def put_files(self, paths: Iterable[str | os.PathLike[str]]) -> dict[str, str]:
        if not self._atomic_put:
            return super().put_files(paths)
        stored: dict[str, str] = {}
        read: dict[str, bytes | None] = {}  # path → content, None where a remembered digest stands
        keys: dict[str, tuple[int, ...]] = {}
        for each in paths:
            path = os.fspath(each)
            try:
                with open(path, "rb") as handle:
                    info = os.fstat(handle.fileno())
                    if not stat.S_ISREG(info.st_mode) or info.st_size > WHOLE_FILE_BYTES:
                        stored[path] = self.put_file(path)
                        continue
                    key = _stat_key(info)
                    remembered = self._file_digests.get(key)
                    data = None if remembered is not None else handle.read()
                    unchanged = _stat_key(os.fstat(handle.fileno())) == key
            except (OSError, NotFound, UsageError):
                continue
            stored[path] = digest_bytes(data) if data is not None else str(remembered)
            read[path] = data
            if unchanged and data is not None:
                keys[path] = key
        digests = list(dict.fromkeys(stored[p] for p in read))
        present = dict(zip(digests, self._exist_all(digests), strict=True))
        missing: dict[str, bytes] = {}
        for path, data in read.items():
            digest = stored[path]
            if present[digest] or digest in missing:
                continue
            if data is None:  # remembered, yet gone from the store (collected): read it again
                try:
                    data = Path(path).read_bytes()
                except OSError:
                    data = b""
                if digest_bytes(data) != digest:
                    del stored[path]
                    continue
            missing[digest] = data
        self._put_known(missing)
        for path, key in keys.items():
            self._remember(key, stored[path])
        return stored

    def _put_new_file(self, handle: IO[bytes], size: int) -> str:
        if not self._atomic_put or size > WHOLE_FILE_BYTES:
            return super()._put_new_file(handle, size)
        data = handle.read()
        digest = digest_bytes(data)
        self._put_known({digest: data})
        return digest

    def _open_raw(self, digest: str) -> IO[bytes]:
        return self.fs.open(self._path(digest), "rb")  # type: ignore[no-any-return]

    def _write_new(self, chunks: Iterator[bytes], expected: int | None = None) -> tuple[str, int]:
        hasher = blake3.blake3()
        size = 0
        tmp = f"{self.base}/tmp/{uuid.uuid4().hex}"
        try:
            with self.fs.open(tmp, "wb") as handle:
                for chunk in chunks:
                    hasher.update(chunk)
                    handle.write(chunk)
                    size += len(chunk)
            digest = hasher.hexdigest()
            if self._exists(digest):
                self.fs.rm(tmp)
            else:
                self.fs.mv(tmp, self._path(digest))
                self._written(size)
            return digest, size
        except BaseException:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
            raise

    def _iter_sizes(self) -> Iterator[int]:
        for stored in self.listing():
            yield stored.size

    def _find(self) -> Iterator[tuple[str, dict[str, Any]]]:
        if not self.fs.exists(self.base):
            return
        for path, info in self.fs.find(self.base, detail=True).items():
            yield (path[len(self.base) :].lstrip("/") if path.startswith(self.base) else path), info

    def listing(self) -> Iterator[StoredObject]:
        for relative, info in self._find():
            digest = relative.replace("/", "")
            if not relative.startswith("tmp/") and DIGEST_RE.match(digest):
                yield StoredObject(digest, int(info.get("size") or 0), _modified(info))

    def temporaries(self) -> Iterator[StoredObject]:
        for relative, info in self._find():
            if relative.startswith("tmp/"):
                yield StoredObject(relative[4:], int(info.get("size") or 0), _modified(info))

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._path(check_digest(digest)))

    def delete_temporary(self, name: str) -> None:
        if "/" in name or name in ("", ".", ".."):
            raise UsageError(f"not a temporary of this store: {name!r}")
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(f"{self.base}/tmp/{name}")


def _modified(info: dict[str, Any]) -> float:
    """An fsspec listing's modification time as epoch seconds (S3 gives LastModified, local
    and memory filesystems mtime or created), 0 where the filesystem gives none."""
    for key in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(key)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        with contextlib.suppress(TypeError, ValueError):
            return float(value)
    return 0.0


def open_object_store(uri: str) -> ObjectStore:
    """A local folder path (or ``file://``) gives the local store; any other URL goes through fsspec."""
    if "://" not in uri:
        return LocalObjectStore(uri)
    if uri.startswith("file://"):
        return LocalObjectStore(uri[len("file://") :])
    return FsspecObjectStore(uri)
