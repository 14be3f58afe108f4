"""Every REST route against the payload classes of MLflow's path-traversal and injection CVEs,
anonymous and wrong-token callers, cookies without XSRF, and a secret planted outside the store
(and linked into it): never a 5xx, never a traceback, never the secret. Figures are printed."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.utils import url_path_join

from jupyter_mlm.server.handlers import routes
from jupyter_mlm.store import Store, open_store

from ..figures import FIGURES

SECRET = "planted-" + uuid.uuid4().hex  # made at run time: never in a file a run could capture
PAYLOADS = [
    "..", "../..", "%2e%2e", "%2e%2e%2f%2e%2e%2fsecret.txt", "%252e%252e%252f", "..%5c..%5csecret.txt",
    "%2Fetc%2Fpasswd", "file:%2F%2F%2Fetc%2Fpasswd", "x%23frag", "x%3Fq%3D1", "x%00y", "x" * 10_000,
    "%E2%80%A4%E2%80%A4",  # ‥ one-dot leaders, a look-alike of ..
    "%EF%BC%8E%EF%BC%8E",  # two fullwidth full stops, another look-alike
    "%E2%80%AE", "%0d%0aSet-Cookie:%20x=1", "'%20OR%201=1--", "%7B%7B7*7%7D%7D",
]  # fmt: skip
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def planted(jp_serverapp: Any, tmp_path: Path) -> Store:
    """The server's store with a run, an artifact and a model; a secret outside the store, and a
    blob path inside it linked to that secret."""
    store = open_store(str(tmp_path / "server-store"))
    experiment = store.get_or_create_experiment("e")
    run = store.create_run(experiment.id, "r")
    store.add_artifact(run.id, "reports/a.txt", store.objects.put_bytes(b"an artifact"), 11)
    (tmp_path / "secret.txt").write_text(SECRET)
    linked = store.objects.put_bytes(b"to be replaced by a link")
    target = Path(store.objects.uri) / linked[:2] / linked[2:]
    os.chmod(target, 0o644)
    target.unlink()
    target.symlink_to(tmp_path / "secret.txt")
    store.add_artifact(run.id, "linked.txt", linked, 24)
    return store


def _urls(fill: str) -> list[tuple[str, str]]:
    """(method, path) for every route, each path parameter set to ``fill``."""
    out = []
    for pattern, handler in routes():
        path = re.sub(r"\(\?P<[a-z_]+>[^)]*\)", lambda _m: fill, pattern).replace("\\", "")
        for method in METHODS:
            if any(
                method.lower() in base.__dict__ for base in handler.__mro__ if base.__module__.startswith("jupyter_mlm")
            ):
                out.append((method, path.lstrip("/")))
    return out


async def _call(client: Any, base: str, method: str, path: str, headers: dict[str, str], body: bytes | None = None
                ) -> Any:  # fmt: skip
    url = url_path_join(base, path)
    if method in ("POST", "PUT", "PATCH") and body is None:
        body = b"{}"
    return await client.fetch(url, method=method, headers=headers, body=body, raise_error=False,
                              allow_nonstandard_methods=True, follow_redirects=False)  # fmt: skip


def _clean(response: Any, what: str) -> None:
    assert response.code < 500, (what, response.code, response.body[:300])
    text = response.body.decode("utf-8", "replace")
    assert SECRET not in text and "Traceback" not in text and 'File "/' not in text, (what, text[:300])
    if response.code >= 400 and response.body:
        kind = response.headers.get("Content-Type", "")
        if kind.startswith("text/html"):  # `..` took the path out of /mlm/api: jupyter_server's own 404 page
            assert response.code == 404, what
        else:
            assert kind.startswith("application/json"), what
            assert isinstance(json.loads(response.body).get("message"), str), what


async def test_anonymous_and_wrong_token_callers_are_refused_everywhere(
    http_server_client: Any, jp_base_url: str, planted: Store
) -> None:
    calls = _urls("x")
    assert len(calls) >= 38, len(calls)  # every route with every method it answers
    for method, path in calls:
        for headers in ({}, {"Authorization": "token not-the-token"}):
            response = await _call(http_server_client, jp_base_url, method, path, headers)
            assert response.code in (401, 403), (method, path, headers, response.code)
            assert SECRET.encode() not in response.body
    FIGURES.append(f"security: routes × methods, refused without a valid token: {len(calls)}")


async def test_a_cookie_without_xsrf_cannot_change_anything(
    http_server_client: Any, jp_base_url: str, jp_serverapp: Any, planted: Store
) -> None:
    token = jp_serverapp.identity_provider.token
    login = await http_server_client.fetch(url_path_join(jp_base_url, f"lab?token={token}"), raise_error=False,
                                           follow_redirects=False)  # fmt: skip
    cookies = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    assert "username-" in cookies, login.headers
    changing = [(m, p) for m, p in _urls("x") if m != "GET"]
    for method, path in changing:
        response = await _call(http_server_client, jp_base_url, method, path, {"Cookie": cookies})
        assert response.code == 403, (method, path, response.code)
    assert (await _call(http_server_client, jp_base_url, "GET", "mlm/api/status", {"Cookie": cookies})).code == 200
    FIGURES.append(f"security: changing routes refused to a cookie without XSRF: {len(changing)}")


async def test_payloads_in_every_path_parameter_never_break_or_leak(
    http_server_client: Any, jp_base_url: str, jp_serverapp: Any, planted: Store
) -> None:
    headers = {"Authorization": f"token {jp_serverapp.identity_provider.token}"}
    sent = 0
    for payload in PAYLOADS:
        for method, path in _urls(payload):
            response = await _call(http_server_client, jp_base_url, method, path, headers)
            _clean(response, f"{method} {path[:120]}")
            sent += 1
    # Tails that take slashes: the artifact path and the metric key, raw traversal included.
    for raw in ("../../secret.txt", "reports/../../../secret.txt", "/etc/passwd", "reports/..%2f..%2fsecret.txt",
                "reports\\..\\..\\secret.txt", "linked.txt/..", "./reports/a.txt"):  # fmt: skip
        for tail in (f"mlm/api/runs/r/artifacts/{raw}", f"mlm/api/runs/r/metrics/{raw}"):
            response = await http_server_client.fetch(url_path_join(jp_base_url, "") + tail, headers=headers,
                                                      raise_error=False)  # fmt: skip
            _clean(response, tail)
            sent += 1
    FIGURES.append(f"security: requests with hostile path parameters, none 5xx or leaking: {sent}")


async def test_a_blob_linked_out_of_the_store_is_never_served(
    http_server_client: Any, jp_base_url: str, jp_serverapp: Any, planted: Store
) -> None:
    headers = {"Authorization": f"token {jp_serverapp.identity_provider.token}"}
    url = url_path_join(jp_base_url, "mlm/api/runs/r/artifacts/linked.txt")
    response = await http_server_client.fetch(url, headers=headers, raise_error=False)
    assert response.code != 200 and SECRET.encode() not in response.body
    assert "digest" in json.loads(response.body)["message"]  # named as the store damage it is
    ok = await http_server_client.fetch(url_path_join(jp_base_url, "mlm/api/runs/r/artifacts/reports/a.txt"),
                                        headers=headers)  # fmt: skip
    assert ok.body == b"an artifact"


async def test_oversized_and_deep_bodies_are_refused_cleanly(
    http_server_client: Any, jp_base_url: str, jp_serverapp: Any, planted: Store
) -> None:
    headers = {"Authorization": f"token {jp_serverapp.identity_provider.token}", "Content-Type": "application/json"}
    posting = [(m, p) for m, p in _urls("x") if m in ("POST", "PUT", "PATCH")]
    for method, path in posting:
        for body in (b"[" * 30_000 + b"]" * 30_000, b'{"a": ' * 5_000 + b"1" + b"}" * 5_000, b"\xff\xfe not json",
                     b'{"notebook": "' + b"x" * 1000 + b'"}'):  # fmt: skip
            response = await _call(http_server_client, jp_base_url, method, path, headers, body)
            _clean(response, f"{method} {path}")
    FIGURES.append(f"security: changing routes × hostile bodies: {len(posting) * 4}")
