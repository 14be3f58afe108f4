"""The content-addressed object store, on a local folder, fsspec's memory filesystem and a real
S3 API (moto's server on loopback)."""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import blake3
import pytest

from jupyter_mlm.errors import IntegrityError, NotFound, UsageError
from jupyter_mlm.store.objects import (
    ABANDONED_AFTER_SECONDS,
    FsspecObjectStore,
    LocalObjectStore,
    ObjectStore,
    open_object_store,
)


@pytest.fixture(params=["local", "memory", "s3"])
def objects(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield open_object_store(str(tmp_path / "objects"))
    elif request.param == "s3":
        yield open_object_store(request.getfixturevalue("s3_objects"))
    else:
        store = open_object_store(f"memory://mlm-test-{uuid.uuid4().hex}")
        yield store
        assert isinstance(store, FsspecObjectStore)
        if store.fs.exists(store.base):
            store.fs.rm(store.base, recursive=True)


def _overwrite(objects: ObjectStore, digest: str, content: bytes) -> None:
    """Damage a blob behind the store's back, as a disk error or a stray process would."""
    if isinstance(objects, LocalObjectStore):
        path = objects._path(digest)
        path.chmod(0o644)
        path.write_bytes(content)
    else:
        assert isinstance(objects, FsspecObjectStore)
        objects.fs.pipe(objects._path(digest), content)


def test_put_get_round_trip_by_blake3_digest(objects: ObjectStore) -> None:
    digest = objects.put_bytes(b"hello mlm")
    assert digest == blake3.blake3(b"hello mlm").hexdigest()
    assert objects.exists(digest)
    assert objects.get(digest) == b"hello mlm"
    with objects.open(digest) as stream:
        assert stream.read(5) == b"hello"
        assert stream.read() == b" mlm"


def test_put_is_idempotent(objects: ObjectStore) -> None:
    first = objects.put_bytes(b"same")
    second = objects.put_stream(io.BytesIO(b"same"))
    assert first == second
    assert objects.stats() == (1, 4)


def test_put_file_and_stream_of_large_content(objects: ObjectStore, tmp_path: Path) -> None:
    content = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "big.bin"
    source.write_bytes(content)
    digest = objects.put_file(source)
    assert digest == blake3.blake3(content).hexdigest()
    assert objects.get(digest) == content
    objects.verify(digest)
    assert objects.stats() == (1, len(content))


def test_put_takes_bytes_a_path_or_a_stream(objects: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(b"one content")
    expected = blake3.blake3(b"one content").hexdigest()
    assert objects.put(b"one content") == expected
    assert objects.put(bytearray(b"one content")) == expected
    assert objects.put(source) == expected
    assert objects.put(str(source)) == expected
    assert objects.put(io.BytesIO(b"one content")) == expected
    assert objects.stats() == (1, len(b"one content"))
    with pytest.raises(UsageError, match="bytes, a file path or a binary stream"):
        objects.put(42)  # type: ignore[arg-type]
    assert objects.stats() == (1, len(b"one content"))


@pytest.mark.parametrize("damage", ["corrupted", "truncated"])
def test_damaged_blob_is_detected_on_read(objects: ObjectStore, damage: str) -> None:
    content = b"0123456789" * 1000
    digest = objects.put_bytes(content)
    _overwrite(objects, digest, content[:-1] + b"X" if damage == "corrupted" else content[:100])
    for read in (objects.get, objects.verify):
        with pytest.raises(IntegrityError, match=f"object {digest} is corrupted or truncated"):
            read(digest)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd", "ABC", "g" * 64, "a" * 63, ""])
def test_invalid_digest_is_refused(objects: ObjectStore, bad: str) -> None:
    with pytest.raises(UsageError, match="invalid object digest"):
        objects.get(bad)
    with pytest.raises(UsageError):
        objects.exists(bad)


def test_missing_blob_is_not_found(objects: ObjectStore) -> None:
    with pytest.raises(NotFound, match="is not in the store"):
        objects.get("0" * 64)


def test_failed_write_leaves_nothing_behind(objects: ObjectStore) -> None:
    class Exploding(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("disk went away")
            return b"x" * 1000

    with pytest.raises(OSError, match="disk went away"):
        objects.put_stream(Exploding())
    assert objects.stats() == (0, 0)
    if isinstance(objects, LocalObjectStore):
        assert list((objects.root / "tmp").iterdir()) == []
    else:
        assert isinstance(objects, FsspecObjectStore)
        assert not objects.fs.exists(f"{objects.base}/tmp") or objects.fs.ls(f"{objects.base}/tmp") == []


def test_local_blobs_are_read_only_files_in_a_fanout(tmp_path: Path) -> None:
    objects = LocalObjectStore(tmp_path / "objects")
    digest = objects.put_bytes(b"layout")
    path = tmp_path / "objects" / digest[:2] / digest[2:]
    assert path.read_bytes() == b"layout"
    assert not os.stat(path).st_mode & 0o222


def test_put_file_of_missing_path(objects: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        objects.put_file(tmp_path / "nope.csv")
    with pytest.raises(UsageError, match="is a folder"):
        objects.put_file(tmp_path)


def test_temporaries_of_killed_writers_are_swept_but_live_ones_kept(tmp_path: Path) -> None:
    (tmp_path / "objects" / "tmp").mkdir(parents=True)
    abandoned = tmp_path / "objects" / "tmp" / "put-abandoned"
    live = tmp_path / "objects" / "tmp" / "put-live"
    abandoned.write_bytes(b"half a blob")
    live.write_bytes(b"being written")
    old = time.time() - ABANDONED_AFTER_SECONDS - 60
    os.utime(abandoned, (old, old))
    objects = LocalObjectStore(tmp_path / "objects")
    objects.put_bytes(b"first write of this process")
    assert not abandoned.exists() and live.exists()


def test_a_file_already_stored_is_neither_copied_nor_uploaded_again(tmp_path: Path) -> None:
    # What a snapshot does with every local source at each run's end.
    store = open_object_store(f"memory://objects-{uuid.uuid4().hex}")
    assert isinstance(store, FsspecObjectStore)
    source = tmp_path / "utils.py"
    source.write_text("x = 1\n")
    digest = store.put_file(source)
    writes: list[str] = []
    real_open = store.fs.open

    real_pipe = store.fs.pipe

    piping: list[bool] = []

    def counting_open(path: str, mode: str = "rb", **kwargs: object) -> object:
        if "w" in mode and not piping:
            writes.append(path)
        return real_open(path, mode, **kwargs)

    def counting_pipe(path: str | dict[str, bytes], value: bytes | None = None, **kwargs: object) -> object:
        writes.extend(path if isinstance(path, dict) else [path])
        piping.append(True)  # the memory filesystem writes a pipe through open: one write, not two
        try:
            return real_pipe(path, value, **kwargs)
        finally:
            piping.pop()

    store.fs.open = counting_open  # type: ignore[method-assign]
    store.fs.pipe = counting_pipe  # type: ignore[method-assign]
    assert [store.put_file(source) for _ in range(3)] == [digest] * 3
    assert writes == []
    source.write_text("x = 22\n")  # changed: stored anew, under its own digest
    changed = store.put_file(source)
    assert changed == blake3.blake3(b"x = 22\n").hexdigest() and len(writes) == 1
    store.delete(changed)  # a cached digest whose blob went away is stored again
    assert store.put_file(source) == changed and store.exists(changed) and len(writes) == 2


def test_a_pipe_is_read_once(objects: ObjectStore, tmp_path: Path) -> None:
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(b"streamed " * 1000))
    writer.start()
    digest = objects.put_file(fifo)
    writer.join(10)
    assert objects.get(digest) == b"streamed " * 1000


def test_put_files_and_put_many_store_each_content_once(objects: ObjectStore, tmp_path: Path) -> None:
    # What a snapshot does with a few hundred local sources and a notebook's cells: on S3 the
    # existence checks and uploads go concurrently, each content straight to its key.
    new: list[int] = []
    objects.on_new = new.append
    sources = []
    for i in range(40):
        path = tmp_path / f"module_{i}.py"
        path.write_text(f"VALUE = {i % 30}\n")  # ten contents twice
        sources.append(path)
    (tmp_path / "package").mkdir()
    asked = [*sources, tmp_path / "gone.py", tmp_path / "package"]
    stored = objects.put_files(asked)
    assert list(stored) == [str(p) for p in sources]  # in order; unreadable paths left out
    for path in sources:
        assert stored[str(path)] == blake3.blake3(path.read_bytes()).hexdigest()
        assert objects.get(stored[str(path)]) == path.read_bytes()
    assert len(new) == 30
    assert objects.put_files(sources) == stored and len(new) == 30  # nothing new the second time
    sources[0].write_text("VALUE = 'changed'\n")
    assert objects.put_files(sources[:1])[str(sources[0])] == blake3.blake3(b"VALUE = 'changed'\n").hexdigest()
    assert len(new) == 31

    cells = [b'{"source": "a"}', b'{"source": "b"}', b'{"source": "a"}', b"VALUE = 1\n"]
    digests = objects.put_many(cells)
    assert digests == [blake3.blake3(c).hexdigest() for c in cells]
    assert [objects.get(d) for d in digests] == cells
    assert len(new) == 33  # "a" once; VALUE = 1 was there already
    assert list(objects.temporaries()) == []  # known contents never pass through a temporary key
