"""Store resolution: explicit URI, environment, walk-up, creation; and the c.MLM config class."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from traitlets.config import Config

from jupyter_mlm.config import MLM
from jupyter_mlm.store import open_store, resolve_location


def test_walk_up_finds_the_nearest_store(tmp_path: Path) -> None:
    (tmp_path / ".mlm").mkdir()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    location = resolve_location(cwd=deep)
    assert location.local_dir == (tmp_path / ".mlm").resolve()
    assert location.objects_uri == str((tmp_path / ".mlm" / "objects").resolve())


def test_without_any_store_one_is_created_in_the_working_directory(tmp_path: Path) -> None:
    store = open_store(cwd=tmp_path)
    assert (tmp_path / ".mlm" / "mlm.db").is_file()
    assert store.location.local_dir == (tmp_path / ".mlm").resolve()
    store.close()


def test_environment_beats_walk_up_and_explicit_beats_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".mlm").mkdir()
    monkeypatch.setenv("MLM_STORE_URI", str(tmp_path / "from-env"))
    monkeypatch.setenv("MLM_OBJECTS_URI", "memory://from-env")
    location = resolve_location(cwd=tmp_path)
    assert location.local_dir == (tmp_path / "from-env").resolve()
    assert location.objects_uri == "memory://from-env"
    explicit = resolve_location(str(tmp_path / "explicit"), str(tmp_path / "blobs"), cwd=tmp_path)
    assert explicit.local_dir == (tmp_path / "explicit").resolve()
    assert explicit.objects_uri == str(tmp_path / "blobs")


def test_relative_path_is_relative_to_cwd(tmp_path: Path) -> None:
    assert resolve_location("rel/store", cwd=tmp_path).local_dir == (tmp_path / "rel" / "store").resolve()


def test_sqlite_url_puts_objects_beside_the_database(tmp_path: Path) -> None:
    location = resolve_location(f"sqlite:///{tmp_path}/team/mlm.db")
    assert location.backend == "sqlite"
    assert location.objects_uri == str(tmp_path / "team" / "objects")


def test_postgres_url_uses_psycopg_and_masks_the_password(tmp_path: Path) -> None:
    location = resolve_location("postgresql://ana:s3cret@db:5432/mlm", cwd=tmp_path)
    assert location.db_url == "postgresql+psycopg://ana:s3cret@db:5432/mlm"
    assert location.display_url == "postgresql+psycopg://ana:***@db:5432/mlm"
    assert "s3cret" not in location.display_url


def test_mlm_config_traits_from_config_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLM_STORE_URI", "/env/store")
    assert MLM().store_uri == "/env/store"
    config = Config()
    config.MLM.store_uri = "/configured/store"
    config.MLM.objects_uri = "s3://bucket/prefix"
    settings = MLM(config=config)
    assert settings.store_uri == "/configured/store"
    assert settings.objects_uri == "s3://bucket/prefix"
    monkeypatch.delenv("MLM_STORE_URI")
    assert MLM().store_uri == ""
    assert os.environ.get("MLM_OBJECTS_URI") is None
