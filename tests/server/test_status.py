"""The server extension in a real Jupyter server: status route, store export, auth on every route."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.utils import url_path_join
from tornado.httpclient import HTTPClientError
from tornado.routing import Rule, RuleRouter

from jupyter_mlm.store.schema import head_revision


async def test_status_with_token(jp_fetch: Any, tmp_path: Path) -> None:
    response = await jp_fetch("mlm", "api", "status")
    assert response.code == 200
    body = json.loads(response.body)
    assert body["store_uri"] == f"sqlite:///{tmp_path / 'server-store' / 'mlm.db'}"
    assert body["schema_version"] == head_revision()
    assert body["backend"] == "sqlite"
    assert (body["experiments"], body["runs"], body["models"]) == (0, 0, 0)
    assert body["version"]


async def test_server_exports_the_store_to_kernels(jp_serverapp: Any, tmp_path: Path) -> None:
    assert os.environ["MLM_STORE_URI"] == f"sqlite:///{tmp_path / 'server-store' / 'mlm.db'}"
    assert os.environ["MLM_OBJECTS_URI"] == str(tmp_path / "server-store" / "objects")


async def test_status_anonymous_is_refused(http_server_client: Any, jp_base_url: str) -> None:
    response = await http_server_client.fetch(url_path_join(jp_base_url, "mlm/api/status"), raise_error=False)
    assert response.code == 403
    assert json.loads(response.body)["message"]


def _rules(router: Any) -> Iterator[Rule]:
    for rule in getattr(router, "rules", []):
        if isinstance(rule.target, RuleRouter):
            yield from _rules(rule.target)
        else:
            yield rule


def _sample_url(pattern: str) -> str:
    # Fill every capture group with a plausible value so the route matches.
    path = re.sub(r"\(\?P<\w+>[^)]*\)|\([^)]*\)", "x", pattern)
    return path.rstrip("$").replace("\\", "")


async def test_every_mlm_route_refuses_anonymous_requests(jp_serverapp: Any, http_server_client: Any) -> None:
    patterns = [
        rule.matcher.regex.pattern
        for rule in _rules(jp_serverapp.web_app.default_router)
        if "mlm" in getattr(getattr(rule.matcher, "regex", None), "pattern", "")
    ]
    assert any("status" in p for p in patterns), patterns
    for pattern in patterns:
        url = _sample_url(pattern)
        refused = 0
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            body = b"{}" if method in ("POST", "PUT", "PATCH") else None
            response = await http_server_client.fetch(url, method=method, body=body, raise_error=False)
            assert response.code in (403, 405), f"{method} {url} answered {response.code} anonymously"
            refused += response.code == 403
        assert refused, f"{url} refused no method with 403"


async def test_errors_are_json_without_traceback(jp_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("mlm", "api", "no-such-route")
    assert caught.value.code == 404
