"""Snapshots captured in-process: environment, data hashes and blobs, per-cell dedup, no secrets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import blake3
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import jupyter_mlm as mlm
from jupyter_mlm.capture import hashing
from jupyter_mlm.capture.data import RECORDER
from jupyter_mlm.capture.executions import out_of_order_reasons
from jupyter_mlm.capture.hashing import FileStat, HashCache, folder_digest
from jupyter_mlm.capture.notebook import NotebookWriter, load_notebook, manifest_cells
from jupyter_mlm.store import Store, open_store


@pytest.fixture
def recording(session: Store) -> Store:
    RECORDER.install()
    RECORDER.take()
    yield session
    RECORDER.recording = False


def test_start_and_end_snapshots_with_environment(session: Store) -> None:
    with mlm.start_run("env") as run:
        start = run.snapshot
        assert start.phase == "start"
    snapshot = run.snapshot
    assert snapshot.phase == "end"
    assert [s.phase for s in session.list_snapshots(run.id)] == ["start", "end"]
    env = snapshot.environment
    assert env["python"]["version"].count(".") == 2 and env["cpu_count"] >= 1
    assert env["packages"]["sqlalchemy"] and env["packages"]["blake3"]
    assert "sqlalchemy" in env["imported"] and "pytest" in env["imported"]
    assert "PATH" in env["env_names"]
    assert snapshot.notebook is None  # not in a notebook
    assert snapshot.out_of_order is False


def test_no_environment_value_ever_reaches_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-live-" + os.urandom(12).hex()
    monkeypatch.setenv("MLM_TEST_API_TOKEN", secret)
    store = open_store(str(tmp_path / "store"))
    from jupyter_mlm.tracking import SESSION

    SESSION.use_store(store)
    try:
        with mlm.start_run("secrets") as run:
            mlm.log_metric("x", 1.0)
        assert "MLM_TEST_API_TOKEN" in run.snapshot.environment["env_names"]
    finally:
        SESSION.use_store(None)
    store.close()
    found = [p for p in (tmp_path / "store").rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert found == []


def test_files_read_during_a_run_are_hashed_and_stored(recording: Store, tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    data.write_text("a,b\n1,2\n")
    with mlm.start_run("reads") as run:
        with open(data) as handle:
            handle.read()
        (tmp_path / "written.txt").write_text("outputs are not inputs")
    entries = {Path(e["path"]).name: e for e in run.snapshot.data}
    assert set(entries) == {"train.csv"}
    entry = entries["train.csv"]
    assert entry["digest"] == blake3.blake3(b"a,b\n1,2\n").hexdigest()
    assert entry["stored"] is True and recording.objects.get(entry["digest"]) == b"a,b\n1,2\n"


def test_a_script_without_the_extension_records_reads_from_its_first_run_on(session: Store, tmp_path: Path) -> None:
    RECORDER.recording = False  # as in a plain `python train.py`
    data = tmp_path / "features.csv"
    data.write_text("x\n1\n")
    other_store = open_store(str(tmp_path / "other"))
    blob = other_store.objects.put_bytes(b"another store's blob")
    try:
        with mlm.start_run("script") as run:
            data.read_text()
            assert other_store.objects.get(blob) == b"another store's blob"
    finally:
        other_store.close()
        RECORDER.recording = False
    assert [Path(e["path"]).name for e in run.snapshot.data] == ["features.csv"]
    # Store files are never the run's data, even when recording began after the store opened.
    assert all(not e["path"].startswith(str(tmp_path / "store")) for e in run.snapshot.data)


def test_pandas_reads_are_seen(recording: Store, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    data = tmp_path / "frame.csv"
    data.write_text("x,y\n1,2\n3,4\n")
    with mlm.start_run("pandas") as run:
        assert len(pd.read_csv(data)) == 2
    assert [Path(e["path"]).name for e in run.snapshot.data] == ["frame.csv"]


def test_large_files_are_hashed_not_stored(recording: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLM_STORE_DATA_MAX_BYTES", "100")
    from jupyter_mlm.tracking import SESSION

    SESSION.use_store(recording)  # the writer picks up the limit
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 1000)
    with mlm.start_run("big") as run:
        entry = mlm.log_data(big)
    assert entry["stored"] is False and entry["size"] == 1000
    assert not recording.objects.exists(entry["digest"])
    assert run.snapshot.data[0]["digest"] == blake3.blake3(b"x" * 1000).hexdigest()


def test_log_data_folder_is_a_merkle_hash(session: Store, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    (folder / "cats").mkdir(parents=True)
    (folder / "cats" / "a.png").write_bytes(b"cat")
    (folder / "dog.png").write_bytes(b"dog")
    with mlm.start_run("folder"):
        first = mlm.log_data(folder)
    assert first["kind"] == "folder" and first["files"] == 2 and first["size"] == 6
    cache = HashCache()
    assert folder_digest(folder, cache)[0] == first["digest"]
    (folder / "cats" / "a.png").write_bytes(b"CAT")
    changed = folder_digest(folder, cache)[0]
    (folder / "cats" / "a.png").write_bytes(b"cat")
    assert folder_digest(folder, cache)[0] == first["digest"] != changed
    (folder / "cats" / "a.png").rename(folder / "cats" / "b.png")
    assert folder_digest(folder, cache)[0] != first["digest"]
    with pytest.raises(mlm.NotFound):
        mlm.log_data(tmp_path / "absent")


def test_unchanged_files_cost_a_stat_not_a_read(
    session: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(100_000))
    reads: list[str] = []
    real = hashing.hash_file
    monkeypatch.setattr(hashing, "hash_file", lambda p: reads.append(str(p)) or real(p))
    lookup = lambda stats: session.lookup_file_hashes([(s.path, *s.key()) for s in stats])  # noqa: E731
    remember = lambda entries: session.remember_file_hashes([(s.path, *s.key(), d) for s, d in entries])  # noqa: E731
    first = HashCache(lookup, remember).digest(str(path))
    assert reads == [str(path)]
    # A new process (a new cache) finds the digest in the store's cache table: no read.
    assert HashCache(lookup, remember).digest(str(path)) == first
    assert reads == [str(path)]
    os.utime(path, ns=(1, 1))  # touched: stat changed, so it is read again
    assert HashCache(lookup, remember).digest(str(path)) == first
    assert len(reads) == 2


def test_large_file_hash_matches_streaming_blake3(tmp_path: Path) -> None:
    content = os.urandom(9 * 1024 * 1024)
    path = tmp_path / "large.bin"
    path.write_bytes(content)
    assert hashing.hash_file(path) == blake3.blake3(content).hexdigest()
    assert FileStat.of(str(path)).size == len(content)


def _notebook(n: int) -> dict:
    nb = new_notebook(
        cells=[new_code_cell(f"x = {i}", outputs=[new_output("stream", text=f"{i}\n")]) for i in range(n)]
    )
    nb.cells.insert(0, new_markdown_cell("# title"))
    return json.loads(nbformat.writes(nb))


def test_notebooks_are_stored_per_cell_with_delta_manifests(store: Store) -> None:
    writer = NotebookWriter(store.objects)
    nb = _notebook(200)
    first = writer.store(nb, "nb.ipynb")
    count, _ = store.objects.stats()
    nb["cells"][50]["source"] = "x = 'changed'"
    second = writer.store(nb, "nb.ipynb")
    after, _ = store.objects.stats()
    assert after - count == 2  # one new cell blob and one (delta) manifest
    manifest = json.loads(store.objects.get(second))
    assert manifest["base"] == first and manifest["changes"] == [[50, manifest["changes"][0][1]]]
    assert load_notebook(store.objects, second) == nb
    assert "".join(load_notebook(store.objects, first)["cells"][50]["source"]) == "x = 49"
    nb["cells"].pop(3)  # a deletion: full manifest again
    third = writer.store(nb, "nb.ipynb")
    assert "cells" in json.loads(store.objects.get(third))
    assert manifest_cells(store.objects, third)[1] == writer.cell_digests(nb)


def test_large_outputs_are_separate_blobs(store: Store) -> None:
    writer = NotebookWriter(store.objects)
    image = "iVBORw0KGgo" + "A" * 20_000
    nb = new_notebook(cells=[new_code_cell("plot()", outputs=[new_output("display_data", data={"image/png": image})])])
    nb_dict = json.loads(nbformat.writes(nb))
    first = writer.store(nb_dict, "p.ipynb")
    nb_dict["cells"][0]["source"] = "plot(color='red')"
    writer.store(nb_dict, "p.ipynb")
    assert store.objects.exists(blake3.blake3(image.encode()).hexdigest())
    sizes = sorted(len(store.objects.get(d)) for d in manifest_cells(store.objects, first)[1])
    assert sizes[-1] < 1000  # the cell blob refers to the image instead of holding it
    assert load_notebook(store.objects, first)["cells"][0]["outputs"][0]["data"]["image/png"] == image


def test_out_of_order_reasons() -> None:
    cells = [{"id": "a", "source_digest": "1"}, {"id": "b", "source_digest": "2"}, {"id": "c", "source_digest": "3"}]
    in_order = [{"order": i + 1, "cell_id": c["id"], "source_digest": c["source_digest"]} for i, c in enumerate(cells)]
    assert out_of_order_reasons(in_order, cells) == []
    rerun = [*in_order, {"order": 4, "cell_id": "a", "source_digest": "1"}]
    assert "out of document order" in out_of_order_reasons(rerun, cells)[0]
    edited = [{"order": 1, "cell_id": "a", "source_digest": "old"}]
    assert "edited after it ran" in out_of_order_reasons(edited, cells)[0]
    deleted = [{"order": 1, "cell_id": "gone", "source_digest": "1"}]
    assert "no longer in the notebook" in out_of_order_reasons(deleted, cells)[0]
    # Without cell ids (nbclient), executions are matched by source.
    anonymous = [{"order": i + 1, "cell_id": None, "source_digest": d} for i, d in enumerate(["1", "3", "2"])]
    assert "out of document order" in out_of_order_reasons(anonymous, cells)[0]
    assert out_of_order_reasons([{**e, "cell_id": None} for e in in_order], cells) == []


CREDENTIALS = [
    "home/.aws/credentials", "home/.aws/config", "home/.netrc", "home/.git-credentials", "home/.pgpass",
    "home/.kube/config", "home/.docker/config.json", "home/.ssh/id_ed25519", "home/.ssh/config",
    "home/.config/gcloud/application_default_credentials.json", "project/.env", "project/.env.production",
    "project/keys/server.pem", "project/keys/tls.key", "project/id_rsa", "project/credentials.json",
    "project/client_secret_123.json", "project/secrets.yaml", "project/custom/vault.token",
]  # fmt: skip


def test_credential_files_are_recorded_never_stored(
    recording: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLM_CAPTURE_EXCLUDE", "*.token")  # c.MLM.capture_exclude, as the server exports it
    planted = {}
    for index, relative in enumerate(CREDENTIALS):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = f"secret-{index}-{os.urandom(8).hex()}"
        path.write_text(secret)
        planted[str(path)] = secret
    (tmp_path / "project" / "train.csv").write_text("x\n1\n")
    with mlm.start_run("reads-secrets") as run:
        for path in [*planted, str(tmp_path / "project" / "train.csv")]:
            with open(path) as handle:
                handle.read()
    entries = {e["path"]: e for e in run.snapshot.data}
    for path, secret in planted.items():
        entry = entries[path]
        assert entry["stored"] is False, path
        assert entry["digest"] == blake3.blake3(secret.encode()).hexdigest()  # a change is still visible
    assert entries[str(tmp_path / "project" / "train.csv")]["stored"] is True
    store_dir = recording.location.local_dir or Path(recording.objects.uri)
    leaked = [
        p for p in Path(store_dir).rglob("*") for s in planted.values() if p.is_file() and s.encode() in p.read_bytes()
    ]
    objects_dir = Path(recording.objects.uri) if "://" not in recording.objects.uri else None
    if objects_dir is not None:
        leaked += [
            p for p in objects_dir.rglob("*") for s in planted.values() if p.is_file() and s.encode() in p.read_bytes()
        ]
    assert leaked == []
