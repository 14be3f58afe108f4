"""The registry over REST in a real Jupyter server: list, model, card, transition, approvals,
rollback, aliases, audit — and every bad input answered with a JSON 4xx."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlm.store import Store, open_store


@pytest.fixture
def jp_server_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlm": True}},
        "MLM": {"store_uri": str(tmp_path / "server-store"), "require_approval_for": ["production"]},
    }


@pytest.fixture
def registry(jp_serverapp: Any, tmp_path: Path) -> Store:
    """The server's store with model churn: v1 and v2 registered by ana from a run."""
    from jupyter_mlm.tracking import SESSION

    store = open_store(str(tmp_path / "server-store"))
    SESSION.use_store(store)
    try:
        import jupyter_mlm as mlm

        os.environ["MLM_USER"] = "ana"
        with mlm.start_run("train", experiment="churn"):
            mlm.log_metric("auc", 0.91)
            mlm.log_param("depth", 6)
        mlm.register_model({"w": 1}, "churn", description="baseline")
        mlm.register_model({"w": 2}, "churn")
    finally:
        os.environ.pop("MLM_USER", None)
        SESSION.use_store(None)
    return store


async def call(jp_fetch: Any, method: str, *parts: str, body: Any = None, **params: Any) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"method": method, "params": params}
    if body is not None:
        kwargs["body"] = body if isinstance(body, (bytes, str)) else json.dumps(body)
    elif method in ("POST", "PUT"):
        kwargs["body"] = "{}"
    try:
        response = await jp_fetch("mlm", "api", *parts, **kwargs)
    except HTTPClientError as exc:
        assert exc.response is not None
        payload = json.loads(exc.response.body)
        assert set(payload) == {"message"} and "Traceback" not in payload["message"]
        return exc.code, payload
    return response.code, json.loads(response.body) if response.body else None


async def test_policy_reaches_kernels_and_the_user_sees_their_rights(jp_fetch: Any, registry: Store) -> None:
    assert os.environ["MLM_REQUIRE_APPROVAL_FOR"] == "production"
    code, me = await call(jp_fetch, "GET", "me")
    assert code == 200 and me["rights"] == {"read": True, "write": True, "approve": True}
    assert me["policy"]["stages"] == ["none", "staging", "production", "archived"]
    assert me["policy"]["require_approval_for"] == ["production"]


async def test_request_approve_rollback_and_audit(jp_fetch: Any, registry: Store) -> None:
    code, listing = await call(jp_fetch, "GET", "models")
    assert code == 200 and listing["models"][0]["name"] == "churn" and listing["models"][0]["versions"] == 2
    assert listing["models"][0]["production"] is None

    code, body = await call(jp_fetch, "POST", "models", "churn", "versions", "1", "transition",
                            body={"stage": "production", "comment": "ship it"})  # fmt: skip
    assert code == 202 and body["request"]["status"] == "pending"
    request_id = body["request"]["id"]
    requester = body["request"]["requested_by"]
    code, body = await call(jp_fetch, "POST", "models", "churn", "requests", request_id, "approve",
                            body={"approver": requester})  # fmt: skip
    assert code == 403 and "cannot also approve" in body["message"]
    code, body = await call(jp_fetch, "POST", "models", "churn", "requests", request_id[:8], "approve",
                            body={"comment": "reviewed", "approver": "bo"})  # fmt: skip
    assert code == 200 and body["request"]["status"] == "approved" and body["request"]["decided_by"] == "bo"

    code, model = await call(jp_fetch, "GET", "models", "churn")
    assert [v["stage"] for v in model["versions"]] == ["production", "none"]
    assert model["versions"][0]["run"]["name"] == "train" and model["versions"][0]["run"]["metrics"] == {"auc": 0.91}
    assert model["requests"][0]["status"] == "approved"

    code, body = await call(
        jp_fetch, "POST", "models", "churn", "versions", "2", "transition", body={"stage": "staging"}
    )
    assert code == 200 and body["version"]["stage"] == "staging"
    _, body = await call(jp_fetch, "POST", "models", "churn", "versions", "2", "transition",
                         body={"stage": "production"})  # fmt: skip
    code, body = await call(jp_fetch, "POST", "models", "churn", "requests", body["request"]["id"], "reject",
                            body={"comment": "needs more data", "approver": "bo"})  # fmt: skip
    assert code == 200 and body["request"]["status"] == "rejected"

    code, body = await call(jp_fetch, "PUT", "models", "churn", "aliases", "champion", body={"version": 1})
    assert code == 200 and body["version"]["aliases"] == ["champion"]
    code, _ = await call(jp_fetch, "DELETE", "models", "churn", "aliases", "champion")
    assert code == 204

    code, body = await call(jp_fetch, "POST", "models", "churn", "rollback", body={"comment": "oops"})
    assert code == 409 and "no earlier production version" in body["message"]

    code, card = await call(jp_fetch, "GET", "models", "churn", "versions", "1")
    assert code == 200 and card["stage"] == "production" and card["lineage"]["run"]["params"] == {"depth": "6"}
    assert [a["decided_by"] for a in card["approvals"]] == ["bo"]
    assert card["lineage"]["environment"]["python"]

    code, audit = await call(jp_fetch, "GET", "audit", model="churn")
    actions = [e["action"] for e in audit["events"]]
    assert actions[:4] == ["delete_alias", "alias", "reject", "request"] and "approve" in actions
    code, report = await call(jp_fetch, "GET", "audit", "verify")
    assert code == 200 and report["ok"] is True and report["events"] == len(actions)


@pytest.mark.parametrize(
    ("method", "parts", "body", "code", "message"),
    [
        ("GET", ("models", "nope"), None, 404, "no registered model 'nope'"),
        ("GET", ("models", "bad name!"), None, 400, "model name must be"),
        ("GET", ("models", "churn", "versions", "0"), None, 400, "positive whole number"),
        ("GET", ("models", "churn", "versions", "9"), None, 404, "has no version 9"),
        ("POST", ("models", "churn", "versions", "1", "transition"), "not json", 400, "body must be JSON"),
        ("POST", ("models", "churn", "versions", "1", "transition"), [1], 400, "JSON object"),
        ("POST", ("models", "churn", "versions", "1", "transition"), {}, 400, "name the target stage"),
        ("POST", ("models", "churn", "versions", "1", "transition"), {"stage": "gold"}, 400, "unknown stage 'gold'"),
        (
            "POST",
            ("models", "churn", "versions", "1", "transition"),
            {"stage": "staging", "comment": 5},
            400,
            "comment must be text",
        ),
        ("POST", ("models", "churn", "versions", "1", "transition"), "x" * 70_000, 413, "the limit is 65536"),
        ("POST", ("models", "churn", "requests", "abc", "approve"), {}, 404, "has no request abc"),
        ("POST", ("models", "churn", "requests", "abc", "merge"), {}, 404, "approved or rejected"),
        ("POST", ("models", "churn", "requests", "a-b", "approve"), {}, 400, "letters and digits"),
        ("PUT", ("models", "churn", "aliases", "champion"), {"version": "1"}, 400, "give the version"),
        ("PUT", ("models", "churn", "aliases", "production"), {"version": 1}, 400, "is a stage name"),
        ("DELETE", ("models", "churn", "aliases", "ghost"), None, 404, "has no alias 'ghost'"),
        ("GET", ("audit",), None, 400, "limit must be"),
    ],
)
async def test_bad_input_is_a_clear_json_error(
    jp_fetch: Any, registry: Store, method: str, parts: tuple[str, ...], body: Any, code: int, message: str
) -> None:
    params = {"limit": "0"} if parts == ("audit",) else {}
    got, payload = await call(jp_fetch, method, *parts, body=body, **params)
    assert got == code and message in payload["message"], payload
    assert registry.verify_audit().events == 2  # nothing written


async def test_path_tricks_never_reach_the_store(jp_fetch: Any, registry: Store) -> None:
    for name in ("..", "%2e%2e", "churn%2F..%2F..", "%00"):
        with pytest.raises(HTTPClientError) as caught:
            await jp_fetch(f"mlm/api/models/{name}", method="GET")
        assert caught.value.code in (400, 404)


async def test_cookie_authenticated_writes_need_the_xsrf_token(
    jp_serverapp: Any, http_server_client: Any, jp_base_url: str, registry: Store
) -> None:
    from jupyter_server.utils import url_path_join

    token = jp_serverapp.identity_provider.token
    login = await http_server_client.fetch(url_path_join(jp_base_url, f"api/me?token={token}"), raise_error=False)
    cookies = [c.split(";")[0] for c in login.headers.get_list("Set-Cookie")]
    assert cookies, "the token login set no cookie"
    headers = {"Cookie": "; ".join(cookies)}
    me = await http_server_client.fetch(url_path_join(jp_base_url, "mlm/api/me"), headers=headers, raise_error=False)
    assert me.code == 200  # the cookie alone authenticates reads
    response = await http_server_client.fetch(
        url_path_join(jp_base_url, "mlm/api/models/churn/versions/1/transition"),
        method="POST", body=json.dumps({"stage": "staging"}), headers=headers, raise_error=False,
    )  # fmt: skip
    assert response.code == 403 and "xsrf" in response.body.decode().lower()
    assert registry.get_version("churn", 1).stage == "none"
