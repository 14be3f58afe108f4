"""A store with a served model, and real HTTP serving processes or in-process servers on it."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlm.serving import Options, Service, make_app
from jupyter_mlm.store import Store, open_store


def cancer_data() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    return X, y


def pipeline(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = cancer_data()
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500)).fit(X, y)


@pytest.fixture(scope="session")
def models() -> dict[str, Any]:
    return {"champion": pipeline(1.0), "challenger": pipeline(0.01)}


@pytest.fixture
def served_store(tmp_path: Path, models: dict[str, Any]) -> Iterator[Store]:
    """``cancer``: version 1 in production (alias champion), version 2 aliased challenger."""
    from jupyter_mlm.registry import Governance, register

    store = open_store(str(tmp_path / "store"), str(tmp_path / "objects"))
    X, _ = cancer_data()
    governance = Governance(store, "tester")
    for alias in ("champion", "challenger"):
        record = register(store, models[alias], "cancer", run_id=None, actor="tester", reference_data=X)
        governance.set_alias("cancer", alias, record.version)
    governance.transition("cancer", 1, "production")
    yield store
    store.close()


@dataclass
class Running:
    url: str
    service: Service

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None) -> tuple[int, Any, Any]:  # fmt: skip
        data = raw if raw is not None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, {"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, error.headers, json.loads(error.read() or b"{}")

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def serve_in_process(served_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Running]]:  # fmt: skip
    """Start a serving app on a free port, on an event loop of its own thread (real HTTP)."""
    monkeypatch.setenv("MLM_CACHE_DIR", str(tmp_path / "cache"))
    started: list[tuple[Service, asyncio.AbstractEventLoop, threading.Thread]] = []

    def start(**options: Any) -> Running:
        import tornado.httpserver
        import tornado.netutil

        ref = options.pop("ref", "cancer@production")
        service = Service(Options(ref=ref, store_uri=str(tmp_path / "store"), objects_uri=str(tmp_path / "objects"),
                                  **options))  # fmt: skip
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)

            async def begin() -> None:
                server = tornado.httpserver.HTTPServer(make_app(service), max_body_size=1024 * 1024)
                server.add_sockets(sockets)
                ready.set()

            loop.run_until_complete(begin())
            loop.run_forever()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        ready.wait(10)
        started.append((service, loop, thread))
        return Running(f"http://127.0.0.1:{sockets[0].getsockname()[1]}", service)

    yield start
    for service, loop, thread in started:
        service.close()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
