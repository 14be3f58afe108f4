"""Governance that holds under attack: names from the store confined, state committed to the
audit log, anchors, and the migration that brings older stores under it."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import jupyter_mlm as mlm
from jupyter_mlm.cli import main as cli
from jupyter_mlm.errors import IntegrityError, UsageError
from jupyter_mlm.registry import Governance
from jupyter_mlm.store import Store, open_store
from jupyter_mlm.store.audit import event_hash


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A SQLite store the tracking session uses, with its own model cache."""
    from jupyter_mlm.tracking import SESSION

    monkeypatch.setenv("MLM_CACHE_DIR", str(tmp_path / "cache"))
    store = open_store(str(tmp_path / "store"))
    SESSION.use_store(store)
    yield store
    SESSION.use_store(None)
    store.close()


def sql(tmp_path: Path, statement: str, *args: object) -> None:
    with sqlite3.connect(tmp_path / "store" / "mlm.db") as db:
        db.execute(statement, args)


@pytest.mark.parametrize("stored_name", ["/tmp/mlm-escape/evil.pth", "../../../mlm-escape/evil.pth", "..", "a/b"])
def test_load_model_never_writes_outside_its_cache(local: Store, tmp_path: Path, stored_name: str) -> None:
    saved = tmp_path / "weights.bin"
    saved.write_bytes(b"weights")
    version = mlm.register_model(saved, "files")
    assert mlm.load_model("files/1").read_bytes() == b"weights"
    sql(tmp_path, "UPDATE model_versions SET filename = ? WHERE version = 1", stored_name)
    digest_dir = tmp_path / "cache" / version.digest
    for child in digest_dir.iterdir():
        child.unlink()
    with pytest.raises(UsageError, match="not a plain file name"):
        mlm.load_model("files/1")
    assert not Path("/tmp/mlm-escape").exists()
    assert list(digest_dir.iterdir()) == []


def evil_tar(kind: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("ok.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
        bad = tarfile.TarInfo({"dotdot": "../escape.txt", "absolute": "/tmp/mlm-abs.txt", "symlink": "link",
                               "hardlink": "hard", "device": "dev", "fifo": "fifo"}[kind])  # fmt: skip
        if kind == "symlink":
            bad.type, bad.linkname = tarfile.SYMTYPE, "/etc"
        elif kind == "hardlink":
            bad.type, bad.linkname = tarfile.LNKTYPE, "/etc/passwd"
        elif kind == "device":
            bad.type, bad.devmajor, bad.devminor = tarfile.CHRTYPE, 1, 3
        elif kind == "fifo":
            bad.type = tarfile.FIFOTYPE
        data = b"pwned" if bad.type == tarfile.REGTYPE else b""
        bad.size = len(data)
        tar.addfile(bad, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink", "device", "fifo"])
def test_model_archives_are_extracted_only_inside_the_cache(local: Store, tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "model.txt").write_text("fine")
    version = mlm.register_model(folder, "folders")
    evil = local.objects.put_bytes(evil_tar(kind))
    # The attacker also keeps the audit log consistent: only the archive's contents are the attack.
    with sqlite3.connect(tmp_path / "store" / "mlm.db") as db:
        db.execute("UPDATE model_versions SET digest = ? WHERE version = 1", (evil,))
    forge_chain(tmp_path, lambda state: state["versions"]["1"].update(digest=evil))
    with pytest.raises(IntegrityError, match="unsafe"):
        mlm.load_model("folders/1")
    cache = tmp_path / "cache"
    written = [p.name for p in cache.rglob("*")]
    assert "escape.txt" not in written and "ok.txt" not in written and not Path("/tmp/mlm-abs.txt").exists()
    assert version.digest != evil


def forge_chain(tmp_path: Path, change_state: object = None, change_actor_of: int | None = None) -> None:
    """What someone with write access to the database can do: edit events and recompute every hash."""
    db = sqlite3.connect(tmp_path / "store" / "mlm.db")
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute("SELECT * FROM audit_events ORDER BY seq")]
    prev = "0" * 64
    last_state_row = max((r for r in rows if r["state"] is not None), key=lambda r: r["seq"])
    for row in rows:
        if change_state is not None and row is last_state_row:
            state = json.loads(row["state"])
            change_state(state)  # type: ignore[operator]
            row["state"] = json.dumps(state, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        if change_actor_of == row["seq"]:
            row["actor"] = "mallory"
        row["prev_hash"] = prev
        row["hash"] = event_hash(row["seq"], row["ts_ms"], row["actor"], row["action"], row["entity_type"],
                                 row["entity_id"], row["before"], row["after"], row["comment"], prev,
                                 row["state"], row["db_user"])  # fmt: skip
        db.execute("UPDATE audit_events SET actor=?, state=?, prev_hash=?, hash=? WHERE seq=?",
                   (row["actor"], row["state"], row["prev_hash"], row["hash"], row["seq"]))  # fmt: skip
        prev = row["hash"]
    db.execute("UPDATE audit_head SET hash = ?", (prev,))
    db.commit()
    db.close()


def test_pointing_production_at_another_blob_is_caught(local: Store, tmp_path: Path) -> None:
    mlm.register_model({"model": "good"}, "churn")
    mlm.transition("churn", 1, "production")
    other = local.objects.put_bytes(b"another blob")
    sql(tmp_path, "UPDATE model_versions SET digest = ? WHERE version = 1", other)
    report = mlm.verify_audit()
    assert not report.ok and "churn version 1: digest is" in (report.problem or "")
    with pytest.raises(IntegrityError, match="changed behind its log"):
        mlm.load_model("churn@production")
    assert cli(["--store", str(tmp_path / "store"), "audit", "verify"]) == 1


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("UPDATE model_versions SET stage = 'production' WHERE version = 2", "churn version 2: stage is 'production'"),
        ("DELETE FROM model_aliases", "aliases are {}"),
        ("UPDATE model_versions SET deleted_ms = 1 WHERE version = 2", "churn version 2: deleted is True"),
        ("UPDATE registry_policy SET body = replace(body, '[\"staging\"]', '[]')", "stage policy was changed"),
    ],
)
def test_every_registry_row_is_covered_by_the_log(local: Store, tmp_path: Path, statement: str, problem: str) -> None:
    mlm.set_registry_policy(require_approval_for=["staging"])
    mlm.register_model({"v": 1}, "churn")
    mlm.register_model({"v": 2}, "churn")
    mlm.set_alias("churn", "champion", 1)
    assert mlm.verify_audit().ok
    sql(tmp_path, statement)
    report = mlm.verify_audit()
    assert not report.ok and problem in (report.problem or ""), report.problem


def test_anchors_catch_a_recomputed_chain(local: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mlm.register_model({"v": 1}, "churn")
    mlm.transition("churn", 1, "production")
    anchors = tmp_path / "anchors.txt"
    store_arg = ["--store", str(tmp_path / "store")]
    assert cli([*store_arg, "audit", "anchor", "--to", str(anchors)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("mlm-audit-anchor 2:") and anchors.read_text().strip() == line
    mlm.register_model({"v": 2}, "churn")  # the log grows past the anchor: still extends it
    assert cli([*store_arg, "audit", "verify", "--anchor", str(anchors)]) == 0
    assert "extends 1 anchor" in capsys.readouterr().out
    literal = line.split()[1]
    assert mlm.verify_audit(literal).ok and mlm.verify_audit(literal).anchors == 1
    forge_chain(tmp_path, change_actor_of=1)  # history rewritten, every hash recomputed
    assert mlm.verify_audit().ok  # the chain alone cannot tell…
    report = mlm.verify_audit(str(anchors))
    assert not report.ok and "history before the anchor was rewritten" in (report.problem or "")  # …the anchor can
    assert cli([*store_arg, "audit", "verify", "--anchor", literal]) == 1
    with pytest.raises(UsageError, match="not an anchor line"):
        bad = tmp_path / "bad.txt"
        bad.write_text("hello\n")
        mlm.verify_audit(str(bad))


def test_migration_0004_brings_an_older_registry_under_the_log(tmp_path: Path) -> None:
    """A store written at schema 0003 (registry, no state in the log) upgrades and verifies."""
    from alembic import command

    from jupyter_mlm.store.location import resolve_location
    from jupyter_mlm.store.schema import alembic_config, create_store_engine

    location = resolve_location(str(tmp_path / "store"), None, None)
    assert location.local_dir is not None
    location.local_dir.mkdir(parents=True)
    engine = create_store_engine(location)
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), "0003")
        conn.commit()
    engine.dispose()
    raw = create_engine(location.db_url)
    with raw.begin() as conn:
        conn.execute(text("INSERT INTO models VALUES ('m1', 'old', '', 1)"))
        conn.execute(text(
            "INSERT INTO model_versions (id, model_id, version, digest, size, flavor, serializer, filename, "
            "description, stage, created_ms, created_by) VALUES ('v1', 'm1', 1, :d, 1, 'file', 'file', 'f', '', "
            "'production', 1, 'ana')"
        ), {"d": "a" * 64})  # fmt: skip
    raw.dispose()
    store = open_store(str(tmp_path / "store"))
    try:
        report = store.verify_audit()
        assert report.ok, report.problem
        checkpoint = store.audit_events("old")[0]
        assert checkpoint.action == "checkpoint" and checkpoint.state["versions"]["1"]["stage"] == "production"
        Governance(store, "ana").archive("old", 1)
        assert store.verify_audit().ok
    finally:
        store.close()
