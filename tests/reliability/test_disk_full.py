"""A full disk (a 4 MB tmpfs, filled): artifacts, metric flushes and start_run fail with one
``DiskFull`` naming the store and the space; nothing logged is lost, and once space returns the
kept points are written and the run ends with every point."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import jupyter_mlm as mlm
from jupyter_mlm.errors import DiskFull
from jupyter_mlm.store import open_store
from jupyter_mlm.store.health import fsck
from jupyter_mlm.tracking import SESSION


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True,
                          text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.fail(f"this test mounts a 4 MB tmpfs (root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    with open(path, "wb", buffering=0) as filler:
        for size in (1 << 16, 512, 1):
            try:
                while True:
                    filler.write(b"\0" * size)
            except OSError:
                continue


def test_a_full_disk_is_one_clear_error_and_loses_nothing(small_disk: Path, tmp_path: Path) -> None:
    store = open_store(str(small_disk / "store"), str(small_disk / "objects"))
    SESSION.use_store(store)
    try:
        run = mlm.start_run("filling")
        mlm.log_metric("loss", 0.0)
        mlm.flush()
        artifact = tmp_path / "weights.bin"
        artifact.write_bytes(os.urandom(200_000))
        _fill(small_disk / "filler")

        with pytest.raises(DiskFull, match=r"objects folder .*small/objects is full \(200\.0 kB needed, 0 B free\)"):
            mlm.log_artifact(artifact)
        with pytest.raises(DiskFull, match=r"database sqlite:///.*small/store/mlm\.db is on a full disk \(0 B free\)"):
            mlm.start_run("nested", parent=run.id)
        for i in range(1, 20_001):
            mlm.log_metric("loss", float(i))
        with pytest.raises(DiskFull, match="points are kept"):
            mlm.flush()
        with pytest.raises(DiskFull):
            mlm.end_run()  # its last points cannot be written: the run stays active

        os.unlink(small_disk / "filler")  # space returns
        assert mlm.flush() == 20_000
        mlm.log_artifact(artifact)
        mlm.end_run()
        record = store.get_run_record(run.id)
        assert record.status == "finished"
        assert list(store.get_metric_series(run.id, "loss").values) == [float(i) for i in range(20_001)]
        assert store.get_artifact(run.id, "weights.bin").size == 200_000
        report = fsck(store)
        assert report.ok, report.problems
        assert all(not t.digest.startswith("put-") for t in report.temporaries)  # no half-written blob left
    finally:
        SESSION.use_store(None)
        store.close()
