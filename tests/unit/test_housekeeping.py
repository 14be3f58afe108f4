"""Housekeeping of runs and experiments (issue 16): delete softly, restore, purge with blobs
through gc, rename, notes, tags of any run; experiments renamed and archived — through the
Python API, the CLI (in-process) and, in tests/server, REST."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import jupyter_mlm as mlm
from jupyter_mlm.cli import main as cli
from jupyter_mlm.errors import Conflict, NotFound, UsageError
from jupyter_mlm.store import Store
from jupyter_mlm.store.health import gc


def _run(name: str, experiment: str = "house", **params: Any) -> str:
    with mlm.start_run(name, experiment=experiment) as run:
        mlm.log_params(params or {"lr": 0.1})
        mlm.log_metric("auc", 0.8)
        mlm.log_text("a report of " + name, "report.txt")
    return run.id


def test_delete_hides_restore_brings_back(session: Store) -> None:
    kept, gone = _run("kept"), _run("gone")
    deleted = mlm.delete_run("gone")
    assert deleted.deleted and deleted.id == gone
    names = list(mlm.search_runs("house")["name"])
    assert names == ["kept"]
    assert [r.info.id for r in session.search_runs(["house"], deleted=True)[0]] == [gone]
    assert mlm.get_run(gone).deleted  # still readable by id, e.g. to restore it
    restored = mlm.restore_run(gone)
    assert not restored.deleted and sorted(mlm.search_runs("house")["name"]) == ["gone", "kept"]
    assert kept


def test_a_live_run_wins_a_name_over_a_deleted_one(session: Store) -> None:
    first = _run("same")
    mlm.delete_run(first)
    time.sleep(0.01)
    second = _run("same")
    mlm.delete_run(second)
    assert mlm.get_run("same").id == second  # both deleted: the newest
    mlm.restore_run(first)
    assert mlm.get_run("same").id == first  # the live one, though older


def test_a_running_run_is_not_deleted(session: Store) -> None:
    run = mlm.start_run("busy", experiment="house")
    try:
        with pytest.raises(Conflict, match="still running: end it"):
            mlm.delete_run(run)
    finally:
        mlm.end_run()


def test_purge_removes_rows_and_gc_then_frees_the_blobs(session: Store, tmp_path: Path) -> None:
    purged_id = _run("old")
    registered_id = _run("registered")
    from sklearn.dummy import DummyClassifier

    with mlm.start_run("model-run", experiment="house") as model_run:
        mlm.register_model(DummyClassifier().fit([[0], [1]], [0, 1]), "kept-model")
    report_digest = session.get_run(purged_id).artifacts[0].digest
    for ref in (purged_id, registered_id, model_run.id):
        mlm.delete_run(ref)
    assert mlm.purge_runs(older_than="1h") == []  # deleted just now
    assert sorted(mlm.purge_runs(older_than="0", dry_run=True)) == ["old", "registered"]
    assert sorted(mlm.purge_runs(older_than="0")) == ["old", "registered"]  # model-run: a version came from it
    with pytest.raises(NotFound):
        session.get_run(purged_id)
    assert mlm.get_run(model_run.id).deleted  # kept for the version's lineage
    report = gc(session, apply=True, grace_seconds=0)
    assert report_digest in {blob.digest for blob in report.blobs}  # the purged run's report artifact
    assert not session.objects.exists(report_digest)
    assert mlm.purge_runs(older_than="0") == []
    with pytest.raises(UsageError, match="like '30d'"):
        mlm.purge_runs(older_than="a month")


def test_rename_notes_and_tags_of_any_run(session: Store) -> None:
    run_id = _run("draft")
    assert mlm.rename_run(run_id, "final").name == "final"
    assert mlm.set_note("final", "# Why\n\nDeeper trees *helped*.").note.startswith("# Why")
    assert mlm.get_run(run_id).note.endswith("*helped*.")
    mlm.set_note(run_id, "")
    assert mlm.get_run(run_id).note == ""
    with mlm.start_run("active", experiment="house"):
        mlm.set_note("about the active run")
        assert mlm.active_run().note == "about the active run"
    mlm.set_run_tags(run_id, {"owner": "ana", "review": "pending"})
    mlm.set_run_tags(run_id, delete=["review"])
    assert mlm.get_run(run_id).tags == {"owner": "ana"}
    with pytest.raises(UsageError):
        mlm.rename_run(run_id, "")
    with pytest.raises(UsageError, match="at most"):
        mlm.set_note(run_id, "x" * 100_001)


def test_experiments_listed_renamed_archived(session: Store) -> None:
    _run("a", experiment="sweep-1")
    _run("b", experiment="sweep-2")
    assert {"sweep-1", "sweep-2"} <= {e.name for e in mlm.list_experiments()}
    mlm.rename_experiment("sweep-1", "baseline sweep")
    assert mlm.get_run("a").experiment == "baseline sweep"
    with pytest.raises(Conflict, match="already an experiment"):
        mlm.rename_experiment("baseline sweep", "sweep-2")
    mlm.archive_experiment("sweep-2")
    assert "sweep-2" not in {e.name for e in mlm.list_experiments()}
    assert "sweep-2" in {e.name for e in mlm.list_experiments(archived=True)}
    assert list(mlm.search_runs("sweep-2")["name"]) == ["b"]  # its runs are kept and found
    mlm.restore_experiment("sweep-2")
    assert "sweep-2" in {e.name for e in mlm.list_experiments()}
    with pytest.raises(NotFound):
        mlm.archive_experiment("nope")


def test_the_cli_does_the_same(
    session: Store, store_uri: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = _run("cli-run")
    base = ["--store", store_uri, "--objects", str(tmp_path / "objects")]
    assert cli([*base, "runs", "rename", run_id, "renamed"]) == 0
    assert cli([*base, "runs", "note", "renamed", "found the *leak*"]) == 0
    assert cli([*base, "runs", "tag", "renamed", "owner=bo", "stage=try"]) == 0
    assert cli([*base, "runs", "tag", "renamed", "--delete", "stage"]) == 0
    assert session.get_run(run_id).tags == {"owner": "bo"} and session.get_run(run_id).info.note == "found the *leak*"
    assert cli([*base, "runs", "delete", "renamed"]) == 0
    capsys.readouterr()
    assert cli([*base, "runs", "list", "--deleted"]) == 0
    assert "renamed" in capsys.readouterr().out
    assert cli([*base, "runs", "restore", run_id[:8]]) == 0
    assert cli([*base, "runs", "purge", "--older-than", "0"]) == 0
    assert "would purge 0 run(s)" in capsys.readouterr().out
    assert cli([*base, "experiments", "archive", "house"]) == 0
    capsys.readouterr()
    assert cli([*base, "experiments", "list", "--all"]) == 0
    assert "archived" in capsys.readouterr().out
    assert cli([*base, "runs", "tag", "renamed", "no-equals"]) == 1
    assert "KEY=VALUE" in capsys.readouterr().err


def test_an_artifact_downloads_where_asked_and_nowhere_else(session: Store, tmp_path: Path) -> None:
    run_id = _run("with-artifact")
    run = mlm.get_run(run_id)
    written = run.download_artifact("report.txt", tmp_path / "out")
    assert written == tmp_path / "out" / "report.txt" and written.read_text() == "a report of with-artifact"
    for bad in ("../escape.txt", "/etc/passwd"):
        with pytest.raises(UsageError):
            run.download_artifact(bad, tmp_path / "out")
    with pytest.raises(NotFound):
        run.download_artifact("missing.txt", tmp_path / "out")
