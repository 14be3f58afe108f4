"""A Jupyter server killed with SIGKILL while it stores a live notebook snapshot: the store stays
consistent (fsck clean), what the killed request had written is at most orphan blobs that gc
removes, and the next server on the store works."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlm.store import open_store
from jupyter_mlm.store.health import fsck, gc

from ..figures import FIGURES

BIN = Path(sys.executable).parent


def _start(root: Path, store: str, log: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = uuid.uuid4().hex
    process = subprocess.Popen(
        [str(BIN / "jupyter-server"), "--no-browser", "--allow-root", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.ip=127.0.0.1",
         f"--MLM.store_uri={store}", "--MLM.run_jobs=False"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while _call(url, token, "GET", "mlm/api/status")[0] != 200:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    return process, url, token


def _call(url: str, token: str, method: str, path: str, body: Any = None, timeout: float = 60) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}{path}", data=data, method=method,
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError:
        return 0, None


def _notebook(seed: int) -> dict[str, Any]:
    text = f"{seed}-" + "y" * 40_000  # large outputs: each becomes a blob of its own
    cells = [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": i, "source": f"print({i})",
              "outputs": [{"output_type": "execute_result", "execution_count": i, "metadata": {},
                           "data": {"text/plain": f"{i}:{text}"}}]} for i in range(600)]  # fmt: skip
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


@pytest.mark.timeout(600)
def test_a_server_killed_mid_snapshot_leaves_a_consistent_store(tmp_path: Path) -> None:
    store_uri = str(tmp_path / "store")
    root = tmp_path / "root"
    root.mkdir()
    rng = random.Random(7)
    trials = 5
    for trial in range(trials):
        process, url, token = _start(root, store_uri, tmp_path / "server.log")
        status, kernel = _call(url, token, "POST", "api/kernels", {"name": "python3"})
        assert status == 201, status
        body = {"kernel_id": kernel["id"], "path": "big.ipynb", "notebook": _notebook(trial)}
        sender = subprocess.Popen([sys.executable, "-c", (
            "import json, sys, urllib.request; body = sys.stdin.buffer.read(); "
            f"urllib.request.urlopen(urllib.request.Request('{url}mlm/api/snapshots', data=body, method='POST', "
            f"headers={{'Authorization': 'token {token}', 'Content-Type': 'application/json'}}), timeout=120)")],
            stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
        assert sender.stdin is not None
        sender.stdin.write(json.dumps(body).encode())
        sender.stdin.close()
        time.sleep(rng.uniform(0.3, 1.5))  # the body is in; the server is splitting and storing cells
        os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
        sender.wait(60)
        for child in _kernels_of(kernel["id"]):
            os.kill(child, signal.SIGKILL)  # the kernel the killed server left behind
        store = open_store(store_uri)
        report = fsck(store)
        assert report.ok, (trial, report.problems)
        store.close()
    process, url, token = _start(root, store_uri, tmp_path / "server.log")  # the next server works
    try:
        assert _call(url, token, "GET", "mlm/api/runs")[0] == 200
    finally:
        process.terminate()
        process.wait(30)
    store = open_store(store_uri)
    orphans = len(fsck(store).orphans)
    gc(store, apply=True, grace_seconds=0)
    after = fsck(store)
    assert after.ok and after.orphans == [] and after.temporaries == []
    FIGURES.append(f"server killed mid-snapshot {trials} times: fsck clean each time, {orphans} orphan blobs collected")
    store.close()


def _kernels_of(kernel_id: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if kernel_id.encode() in command:
                found.append(int(entry))
    return found
