"""A team on one store: two Jupyter servers for two people (PostgreSQL for rows, S3 for blobs),
each its own process and notebook root. Each sees the other's runs at once, each is who it
says, checkpoints of same-named notebooks stay apart, and registrations and promotions from
both at the same time leave one consistent registry and an audit chain that verifies."""

from __future__ import annotations

import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlm.store import open_store

BIN = Path(sys.executable).parent


@dataclass
class Server:
    user: str
    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                text = reply.read()
                return reply.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def team(postgres_url: str, s3_objects: str, tmp_path: Path) -> Iterator[tuple[Server, Server, dict[str, str]]]:
    open_store(postgres_url, s3_objects).close()  # created once, as `jupyter mlm init` would
    servers = []
    for user in ("ana", "bob"):
        root = tmp_path / user
        root.mkdir()
        port, token = _port(), uuid.uuid4().hex
        env = {**os.environ, "JUPYTERHUB_USER": user, "MLM_STORE_URI": postgres_url, "MLM_OBJECTS_URI": s3_objects}
        log = open(tmp_path / f"{user}.log", "wb")  # noqa: SIM115 - the server's own log, kept for failures
        process = subprocess.Popen(
            [str(BIN / "jupyter-server"), "--no-browser", "--allow-root", f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={root}", "--ServerApp.ip=127.0.0.1", f"--MLM.store_uri={postgres_url}",
             f"--MLM.objects_uri={s3_objects}", "--MLM.run_jobs=False"],
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
        servers.append(Server(user, f"http://127.0.0.1:{port}/", token, root, process))
    deadline = time.monotonic() + 90
    for server in servers:
        while True:
            try:
                if server.call("GET", "mlm/api/status")[0] == 200:
                    break
            except OSError:
                pass
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"server for {server.user} did not start: {(tmp_path / (server.user + '.log')).read_text()[-2000:]}"
                )
            time.sleep(0.2)
    env = {"MLM_STORE_URI": postgres_url, "MLM_OBJECTS_URI": s3_objects}
    yield servers[0], servers[1], env
    for server in servers:
        server.process.terminate()
    for server in servers:
        server.process.wait(30)


def _as(user: str, env: dict[str, str], code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env={**os.environ, **env,
                          "JUPYTERHUB_USER": user}, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_two_servers_two_people_one_store(team: tuple[Server, Server, dict[str, str]]) -> None:
    ana, bob, env = team
    assert ana.call("GET", "mlm/api/me")[1]["username"] == "ana"
    assert bob.call("GET", "mlm/api/me")[1]["username"] == "bob"

    # Ana's kernel logs a run: Bob's server lists it at once, as hers.
    _as(
        "ana",
        env,
        """
        import jupyter_mlm as mlm
        with mlm.start_run("ana-sweep", experiment="team"):
            mlm.log_metric("auc", 0.91)
    """,
    )
    status, listed = bob.call("GET", "mlm/api/runs?experiment=team")
    assert status == 200 and [(r["name"], r["user"]) for r in listed["runs"]] == [("ana-sweep", "ana")]

    # Same notebook name in both roots: each server's checkpoints are its own.
    notebook = {"type": "notebook", "format": "json", "content": {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                "cells": [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": "x"}]}}  # fmt: skip
    for server in (ana, bob):
        for version in range(2 if server is ana else 1):
            notebook["content"]["cells"][0]["source"] = f"{server.user} {version}"
            assert server.call("PUT", "api/contents/a.ipynb", notebook)[0] in (200, 201)
            assert server.call("POST", "api/contents/a.ipynb/checkpoints")[0] == 201
    mine = ana.call("GET", "api/contents/a.ipynb/checkpoints")[1]
    theirs = bob.call("GET", "api/contents/a.ipynb/checkpoints")[1]
    assert {c["id"] for c in mine}.isdisjoint({c["id"] for c in theirs})
    assert len(theirs) < len(mine)

    # Both register versions of one model at once, then both promote at once.
    register = """
        import sys
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        import jupyter_mlm as mlm
        X = np.random.default_rng(int(sys.argv[1]) if len(sys.argv) > 1 else 0).normal(size=(50, 3))
        model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
        for _ in range(4):
            print(mlm.register_model(model, "churn").version)
    """
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        numbers = [v for out in pool.map(lambda user: _as(user, env, register), ("ana", "bob")) for v in out.split()]
    assert sorted(int(n) for n in numbers) == list(range(1, 9))  # eight versions, no number twice
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        moves = list(pool.map(
            lambda v: (ana if v % 2 else bob).call("POST", f"mlm/api/models/churn/versions/{v}/transition",
                                                   {"stage": "production"}),
            range(1, 9)))  # fmt: skip
    assert all(code in (200, 409) for code, _ in moves), moves
    seen = []
    for server in (ana, bob):
        versions = server.call("GET", "mlm/api/models/churn")[1]["versions"]
        production = [v["version"] for v in versions if v["stage"] == "production"]
        assert len(versions) == 8 and len(production) == 1  # one production version, whoever moved last
        seen.append((production, sorted((v["version"], v["stage"]) for v in versions)))
    assert seen[0] == seen[1]  # both servers see the same registry
    events = ana.call("GET", "mlm/api/audit?model=churn")[1]
    actors = {e["actor"] for e in (events["events"] if isinstance(events, dict) else events)}
    assert {"ana", "bob"} <= actors
    assert ana.call("GET", "mlm/api/audit/verify")[1]["ok"] and bob.call("GET", "mlm/api/audit/verify")[1]["ok"]
