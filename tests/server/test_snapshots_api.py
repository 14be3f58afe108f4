"""Snapshot routes and unlimited checkpoints in a real Jupyter server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from tornado.httpclient import HTTPClientError

from jupyter_mlm.capture.snapshot import SnapshotWriter
from jupyter_mlm.server.checkpoints import AsyncMLMCheckpoints
from jupyter_mlm.store import Store, open_store

REPO = Path(__file__).resolve().parents[2]


def notebook_json(*sources: str) -> dict[str, Any]:
    return json.loads(nbformat.writes(new_notebook(cells=[new_code_cell(s) for s in sources])))


@pytest.fixture
def server_store(jp_serverapp: Any, tmp_path: Path) -> Store:
    return open_store(str(tmp_path / "server-store"))


def make_run(server_store: Store, tmp_path: Path, kernel_id: str) -> Any:
    """A running run started by ``kernel_id``, with a start snapshot taken in-process."""
    exp = server_store.get_or_create_experiment("live")
    run = server_store.create_run(exp.id, "live-run", kernel_id=kernel_id, notebook_path=str(tmp_path / "nb.ipynb"))
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    SnapshotWriter(server_store).take(
        run, "start", notebook=notebook_json("x = 1"), notebook_source="disk", executions=[], sources={},
        data_files=[str(data)], environment={"python": {"version": "3.11.7"}, "packages": {"numpy": "2.0"}},
    )  # fmt: skip
    return run


@pytest.fixture
def kernel_run(server_store: Store, tmp_path: Path) -> Any:
    """A run of kernel 'k-1', which is not one of the server's kernels (a run from elsewhere)."""
    return make_run(server_store, tmp_path, "k-1")


async def start_kernel(jp_fetch: Any) -> str:
    """A real kernel of the server under test."""
    reply = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    return str(json.loads(reply.body)["id"])


async def post(jp_fetch: Any, body: Any) -> Any:
    return await jp_fetch("mlm", "api", "snapshots", method="POST", body=json.dumps(body))


async def error_of(call: Any) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as caught:
        await call
    assert caught.value.response is not None
    return caught.value.code, json.loads(caught.value.response.body)["message"]


async def test_snapshot_manifest_and_data_check(jp_fetch: Any, kernel_run: Any, tmp_path: Path) -> None:
    body = json.loads((await jp_fetch("mlm", "api", "runs", kernel_run.id, "snapshot")).body)
    assert body["phase"] == "start" and body["notebook"]["source"] == "disk"
    assert body["environment"]["packages"] == {"numpy": "2.0"}
    assert [Path(d["path"]).name for d in body["data"]] == ["data.csv"]
    assert [s["phase"] for s in body["snapshots"]] == ["start"]
    check = json.loads((await jp_fetch("mlm", "api", "runs", kernel_run.id, "check")).body)
    assert [d["status"] for d in check["data"]] == ["unchanged"]
    (tmp_path / "data.csv").write_text("a\n2\n")
    check = json.loads((await jp_fetch("mlm", "api", "runs", kernel_run.id, "check")).body)
    assert [d["status"] for d in check["data"]] == ["changed"]


async def test_live_notebook_is_stored_against_the_kernels_run(
    jp_fetch: Any, server_store: Store, tmp_path: Path
) -> None:
    kernel = await start_kernel(jp_fetch)
    run = make_run(server_store, tmp_path, kernel)
    on_disk = json.loads((await jp_fetch("mlm", "api", "runs", run.id, "snapshot", "notebook")).body)
    assert on_disk["cells"][0]["source"] == "x = 1"
    live = notebook_json("x = 1", "y = 2  # unsaved edit")
    reply = json.loads((await post(jp_fetch, {"kernel_id": kernel, "path": "nb.ipynb", "notebook": live})).body)
    assert reply["stored"] is True and reply["run_id"] == run.id
    again = json.loads((await post(jp_fetch, {"kernel_id": kernel, "path": "nb.ipynb", "notebook": live})).body)
    assert again["stored"] is True
    phases = [s.phase for s in server_store.list_snapshots(run.id)]
    assert phases == ["start", "live"]  # the newest live state replaces the previous one
    shown = json.loads((await jp_fetch("mlm", "api", "runs", run.id, "snapshot", "notebook")).body)
    assert [c["source"] for c in shown["cells"]] == ["x = 1", "y = 2  # unsaved edit"]
    # The kernel's latest live notebook is kept whether a run is running or not.
    latest = server_store.live_notebook(kernel)
    assert latest is not None and latest.path == "nb.ipynb"

    # The kernel asked for the notebook at the run's start: the start snapshot is completed.
    answer = notebook_json("x = 1", "y = 2  # as it stood at the start")
    reply = json.loads((await post(jp_fetch, {"kernel_id": kernel, "path": "nb.ipynb", "notebook": answer,
                                              "run_id": run.id, "phase": "start"})).body)  # fmt: skip
    assert reply["phase"] == "start"
    from jupyter_mlm.capture.snapshot import read_snapshot

    start = read_snapshot(server_store, run.id)
    assert start.phase == "start" and start.notebook_source == "live"
    assert start.notebook.cells[1].source == "y = 2  # as it stood at the start"
    assert start.environment["packages"] == {"numpy": "2.0"}  # the kernel's capture is kept


async def test_live_notebooks_only_for_this_servers_kernels(
    jp_fetch: Any, kernel_run: Any, server_store: Store, tmp_path: Path
) -> None:
    """Another server sharing the store must not replace this server's runs' notebooks (and
    reproduce would then run the forged code)."""
    live = notebook_json("import os; os.system('forged')")
    code, text = await error_of(post(jp_fetch, {"kernel_id": "k-1", "path": "nb.ipynb", "notebook": live}))
    assert code == 403 and "not running on this server" in text
    mine = await start_kernel(jp_fetch)
    code, text = await error_of(post(jp_fetch, {"kernel_id": mine, "path": "nb.ipynb", "notebook": live,
                                                "run_id": kernel_run.id, "phase": "end"}))  # fmt: skip
    assert code == 403 and "was not started by kernel" in text
    assert [s.phase for s in server_store.list_snapshots(kernel_run.id)] == ["start"]
    for body, message in [
        ({"run_id": kernel_run.id}, "go together"),
        ({"run_id": "x" * 32, "phase": "end"}, "run_id must be"),
        ({"run_id": kernel_run.id, "phase": "middle"}, "go together"),
    ]:
        code, text = await error_of(post(jp_fetch, {"kernel_id": mine, "path": "a.ipynb", "notebook": live, **body}))
        assert code == 400 and message in text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "body must be JSON"),
        ([1, 2], "must be a JSON object"),
        ({"kernel_id": "../x", "path": "a.ipynb", "notebook": {}}, "kernel_id"),
        ({"kernel_id": "k-1", "path": "", "notebook": {}}, "path must be"),
        ({"kernel_id": "k-1", "path": "a.ipynb", "notebook": "x"}, "notebook must be"),
        ({"kernel_id": "KERNEL", "path": "a.ipynb", "notebook": {"cells": "nope"}}, "only nbformat 4 notebooks"),
        (
            {
                "kernel_id": "KERNEL",
                "path": "a.ipynb",
                "notebook": {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "bogus"}]},
            },
            "not a valid nbformat 4 notebook",
        ),
    ],
)
async def test_bad_live_posts_are_400_and_store_nothing(
    jp_fetch: Any, kernel_run: Any, server_store: Store, body: Any, message: str
) -> None:
    if isinstance(body, dict) and body.get("kernel_id") == "KERNEL":
        body = body | {"kernel_id": await start_kernel(jp_fetch)}
    raw = body if isinstance(body, str) else json.dumps(body)
    code, text = await error_of(jp_fetch("mlm", "api", "snapshots", method="POST", body=raw))
    assert code == 400 and message in text
    assert [s.phase for s in server_store.list_snapshots(kernel_run.id)] == ["start"]


async def test_oversized_live_post_is_413(jp_fetch: Any, jp_serverapp: Any, kernel_run: Any) -> None:
    jp_serverapp.web_app.settings["mlm_max_notebook_bytes"] = 1000
    big = notebook_json("x = '" + "a" * 5000 + "'")
    code, text = await error_of(post(jp_fetch, {"kernel_id": "k-1", "path": "nb.ipynb", "notebook": big}))
    assert code == 413 and "limit is 1000" in text


async def test_checkpoints_keep_every_version_deduplicated(
    jp_fetch: Any, jp_root_dir: Path, server_store: Store
) -> None:
    nb = new_notebook(cells=[new_code_cell(f"x = {i}") for i in range(100)])
    path = jp_root_dir / "work.ipynb"
    ids = []
    for version in range(3):
        nb.cells[10].source = f"x = 'version {version}'"
        nbformat.write(nb, path)
        reply = await jp_fetch("api", "contents", "work.ipynb", "checkpoints", method="POST", body="")
        ids.append(json.loads(reply.body)["id"])
        if version == 0:
            blobs_after_first = server_store.objects.stats()[0]
    listed = json.loads((await jp_fetch("api", "contents", "work.ipynb", "checkpoints")).body)
    assert [c["id"] for c in listed] == ids
    # Two more checkpoints of a 100-cell notebook added one cell blob and one manifest each.
    assert server_store.objects.stats()[0] - blobs_after_first == 4
    await jp_fetch("api", "contents", "work.ipynb", "checkpoints", ids[0], method="POST", body="")
    restored = nbformat.read(path, as_version=4)
    assert restored.cells[10].source == "x = 'version 0'" and len(restored.cells) == 100
    await jp_fetch("api", "contents", "work.ipynb", "checkpoints", ids[1], method="DELETE")
    listed = json.loads((await jp_fetch("api", "contents", "work.ipynb", "checkpoints")).body)
    assert [c["id"] for c in listed] == [ids[0], ids[2]]


async def test_file_checkpoints_and_rename(jp_fetch: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "notes.txt").write_text("first")
    first = json.loads((await jp_fetch("api", "contents", "notes.txt", "checkpoints", method="POST", body="")).body)
    (jp_root_dir / "notes.txt").write_text("second")
    await jp_fetch("api", "contents", "notes.txt", method="PATCH", body=json.dumps({"path": "renamed.txt"}))
    listed = json.loads((await jp_fetch("api", "contents", "renamed.txt", "checkpoints")).body)
    assert [c["id"] for c in listed] == [first["id"]]
    await jp_fetch("api", "contents", "renamed.txt", "checkpoints", first["id"], method="POST", body="")
    assert (jp_root_dir / "renamed.txt").read_text() == "first"


async def test_retention_keeps_the_newest(jp_fetch: Any, jp_serverapp: Any, jp_root_dir: Path) -> None:
    jp_serverapp.contents_manager.checkpoints.max_count = 2
    (jp_root_dir / "r.txt").write_text("x")
    ids = []
    for i in range(4):
        (jp_root_dir / "r.txt").write_text(str(i))
        ids.append(
            json.loads((await jp_fetch("api", "contents", "r.txt", "checkpoints", method="POST", body="")).body)["id"]
        )
    listed = json.loads((await jp_fetch("api", "contents", "r.txt", "checkpoints")).body)
    assert [c["id"] for c in listed] == ids[2:]


def checkpoints_class_of_a_server(tmp_path: Path, *argv: str) -> str:
    """The checkpoints class a ``jupyter server`` started with the installed configuration uses."""
    script = (
        "import sys\n"
        "from jupyter_server.serverapp import ServerApp\n"
        "app = ServerApp()\n"
        "app.initialize(argv=sys.argv[1:])\n"
        "print(type(app.contents_manager.checkpoints).__name__)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLM_", "JUPYTER_CONFIG"))}
    env["MLM_STORE_URI"] = str(tmp_path / "store")
    done = subprocess.run(
        [sys.executable, "-c", script, "--allow-root", "--no-browser", f"--ServerApp.root_dir={tmp_path}", *argv],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


def test_installed_extension_brings_unlimited_checkpoints(tmp_path: Path) -> None:
    # jupyter_server reads only jpserver_extensions from a config.d file; the extension itself
    # must choose the checkpoints class, and a user's own choice must win over it.
    assert checkpoints_class_of_a_server(tmp_path) == "AsyncMLMCheckpoints"
    assert checkpoints_class_of_a_server(tmp_path, "--MLM.unlimited_checkpoints=False") == "AsyncFileCheckpoints"
    own = "--AsyncFileContentsManager.checkpoints_class=jupyter_server.services.contents.checkpoints.AsyncCheckpoints"
    assert checkpoints_class_of_a_server(tmp_path, own) == "AsyncCheckpoints"


def test_server_under_test_uses_the_extension_checkpoints(jp_serverapp: Any) -> None:
    assert type(jp_serverapp.contents_manager.checkpoints) is AsyncMLMCheckpoints


async def test_checkpoints_never_cross_server_roots(
    jp_fetch: Any, jp_root_dir: Path, jp_serverapp: Any, server_store: Store, tmp_path: Path
) -> None:
    """A server rooted elsewhere, on the same store, has its own SECRET.txt (or none): it must
    not list or restore this server's checkpoints of that path."""
    (jp_root_dir / "SECRET.txt").write_text("the launch codes\n")
    await jp_fetch("api", "contents", "SECRET.txt", "checkpoints", method="POST", body="")
    assert len(json.loads((await jp_fetch("api", "contents", "SECRET.txt", "checkpoints")).body)) == 1

    from jupyter_server.services.contents.filemanager import AsyncFileContentsManager
    from traitlets.config import Config

    other_root = tmp_path / "elsewhere"
    other_root.mkdir()
    (other_root / "SECRET.txt").write_text("theirs\n")
    config = Config({
        "MLM": {"store_uri": str(tmp_path / "server-store")},
        "AsyncFileContentsManager": {"checkpoints_class": AsyncMLMCheckpoints},
    })  # fmt: skip
    theirs = AsyncFileContentsManager(root_dir=str(other_root), config=config)
    assert type(theirs.checkpoints) is AsyncMLMCheckpoints
    assert await theirs.list_checkpoints("SECRET.txt") == []
    mine = json.loads((await jp_fetch("api", "contents", "SECRET.txt", "checkpoints")).body)[0]["id"]
    with pytest.raises(Exception, match="no checkpoint"):
        await theirs.restore_checkpoint(mine, "SECRET.txt")
    assert (other_root / "SECRET.txt").read_text() == "theirs\n"
    rows = server_store.list_checkpoints("SECRET.txt", jp_serverapp.web_app.settings["mlm_server_key"])
    assert [r.id for r in rows] == [mine]


async def test_an_oversized_body_is_refused_before_it_is_sent(
    http_server_client: Any, jp_serverapp: Any, jp_base_url: str, jp_http_port: int
) -> None:
    """A 200 MB Content-Length gets its 413 after the headers alone: the server reads none of it."""
    import asyncio

    token = jp_serverapp.identity_provider.token
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    path = f"{jp_base_url.rstrip('/')}/mlm/api/snapshots"
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: token {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: 200000000\r\n\r\n".encode()
    )
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), timeout=10)
    writer.close()
    assert status.startswith(b"HTTP/1.1 413"), status
