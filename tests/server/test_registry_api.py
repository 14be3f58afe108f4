"""The registry over REST in a real Jupyter server: list, model, card, transition, approvals,
rollback, aliases, audit — and every bad input answered with a JSON 4xx."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlm.entities import ApprovalRequest
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

        os.environ["JUPYTERHUB_USER"] = "ana"  # the data scientist's kernel, as JupyterHub runs it
        with mlm.start_run("train", experiment="churn"):
            mlm.log_metric("auc", 0.91)
            mlm.log_param("depth", 6)
        mlm.register_model({"w": 1}, "churn", description="baseline")
        mlm.register_model({"w": 2}, "churn")
    finally:
        os.environ.pop("JUPYTERHUB_USER", None)
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


async def test_policy_is_the_stores_and_the_user_sees_their_rights(jp_fetch: Any, registry: Store) -> None:
    # The server's configuration set the store's policy, as an audited change; kernels read it there.
    policy = registry.stored_policy()
    assert policy is not None and policy.require_approval_for == ("production",)
    assert "MLM_REQUIRE_APPROVAL_FOR" not in os.environ
    assert [e.action for e in registry.audit_events(None) if e.entity_type == "policy"] == ["policy"]
    code, me = await call(jp_fetch, "GET", "me")
    assert code == 200 and me["rights"] == {"read": True, "write": True, "approve": True}
    assert me["policy"]["stages"] == ["none", "staging", "production", "archived"]
    assert me["policy"]["require_approval_for"] == ["production"]


async def test_one_person_one_identity_across_browser_sessions(jp_fetch: Any, registry: Store) -> None:
    """A token user gets a fresh random name per browser session; the registry sees the OS login."""
    from jupyter_mlm.identity import login_name

    names = {(await call(jp_fetch, "GET", "me"))[1]["name"] for _ in range(3)}
    assert names == {login_name()}


async def test_a_policy_set_in_a_notebook_holds_in_the_sidebar(jp_fetch: Any, registry: Store) -> None:
    """The kernel and the server apply one policy: it lives in the store."""
    from jupyter_mlm.registry import Governance

    Governance(registry, "ana").set_policy(require_approval_for=["staging", "production"])
    code, body = await call(jp_fetch, "POST", "models", "churn", "versions", "2", "transition",
                            body={"stage": "staging"})  # fmt: skip
    assert code == 202 and body["request"]["to_stage"] == "staging"
    code, body = await call(jp_fetch, "PUT", "policy", body={"require_approval_for": [], "comment": "relaxed"})
    assert code == 200 and body["policy"]["require_approval_for"] == []
    assert Governance(registry, "ana").policy().require_approval_for == ()
    code, body = await call(jp_fetch, "PUT", "policy", body={"stages": "none"})
    assert code == 400 and "stages must be a list" in body["message"]


async def test_values_that_used_to_answer_500(jp_fetch: Any, registry: Store, tmp_path: Path) -> None:
    from jupyter_mlm.tracking import SESSION

    SESSION.use_store(registry)
    try:
        import jupyter_mlm as mlm

        with mlm.start_run("odd", experiment="churn"):
            mlm.log_metric("loss", float("nan"))
            mlm.log_metric("gain", float("inf"))
        mlm.register_model({"w": 3}, "churn", run="odd")
    finally:
        SESSION.use_store(None)
    code, card = await call(jp_fetch, "GET", "models", "churn", "versions", "3")
    assert code == 200 and card["lineage"]["run"]["metrics"] == {"loss": "NaN", "gain": "Infinity"}
    code, model = await call(jp_fetch, "GET", "models", "churn")
    assert code == 200 and model["versions"][2]["run"]["metrics"]["loss"] == "NaN"
    code, body = await call(jp_fetch, "GET", "models", "churn", "versions", "%C2%B2")
    assert code == 400 and "whole number" in body["message"]
    code, body = await call(jp_fetch, "PUT", "models", "churn", "aliases", "big", body={"version": 2**63})
    assert code == 400 and "whole number from 1 to" in body["message"]
    code, body = await call(jp_fetch, "POST", "models", "churn", "versions", "1", "transition",
                            body="[" * 30_000 + "]" * 30_000)  # fmt: skip
    assert code == 400 and "body must be JSON" in body["message"]


async def test_request_approve_rollback_and_audit(jp_fetch: Any, registry: Store) -> None:
    code, listing = await call(jp_fetch, "GET", "models")
    assert code == 200 and listing["models"][0]["name"] == "churn" and listing["models"][0]["versions"] == 2
    assert listing["models"][0]["production"] is None

    code, body = await call(jp_fetch, "POST", "models", "churn", "versions", "1", "transition",
                            body={"stage": "production", "comment": "ship it"})  # fmt: skip
    assert code == 202 and body["request"]["status"] == "pending"
    request_id = body["request"]["id"]
    from jupyter_mlm.identity import login_name

    assert body["request"]["requested_by"] == login_name()  # the sidebar's user: the server's OS login
    code, body = await call(jp_fetch, "POST", "models", "churn", "requests", request_id, "approve")
    assert code == 403 and "cannot also approve" in body["message"]
    code, body = await call(jp_fetch, "POST", "models", "churn", "requests", request_id, "approve",
                            body={"approver": "bo"})  # fmt: skip
    assert code == 403 and "needs named approvers" in body["message"]
    # Another person (ana, in her kernel) approves.
    from jupyter_mlm.registry import Governance

    decided = Governance(registry, "ana").decide(request=request_id[:8], approve=True, comment="reviewed")
    assert decided.status == "approved" and decided.decided_by == "ana"

    code, model = await call(jp_fetch, "GET", "models", "churn")
    assert [v["stage"] for v in model["versions"]] == ["production", "none"]
    assert model["versions"][0]["run"]["name"] == "train" and model["versions"][0]["run"]["metrics"] == {"auc": 0.91}
    assert model["requests"][0]["status"] == "approved"

    code, body = await call(
        jp_fetch, "POST", "models", "churn", "versions", "2", "transition", body={"stage": "staging"}
    )
    assert code == 200 and body["version"]["stage"] == "staging"
    ana = Governance(registry, "ana")
    request = ana.transition("churn", 2, "production")  # ana asks; the sidebar's user decides
    assert isinstance(request, ApprovalRequest)
    code, body = await call(jp_fetch, "POST", "models", "churn", "requests", request.id, "reject",
                            body={"comment": "needs more data"})  # fmt: skip
    assert code == 200 and body["request"]["status"] == "rejected" and body["request"]["decided_by"] == login_name()

    code, body = await call(jp_fetch, "PUT", "models", "churn", "aliases", "champion", body={"version": 1})
    assert code == 200 and body["version"]["aliases"] == ["champion"]
    code, _ = await call(jp_fetch, "DELETE", "models", "churn", "aliases", "champion")
    assert code == 204

    code, body = await call(jp_fetch, "POST", "models", "churn", "rollback", body={"comment": "oops"})
    assert code == 409 and "no earlier production version" in body["message"]

    code, card = await call(jp_fetch, "GET", "models", "churn", "versions", "1")
    assert code == 200 and card["stage"] == "production" and card["lineage"]["run"]["params"] == {"depth": "6"}
    assert [a["decided_by"] for a in card["approvals"]] == ["ana"]
    assert card["lineage"]["environment"]["python"]

    code, audit = await call(jp_fetch, "GET", "audit", model="churn")
    actions = [e["action"] for e in audit["events"]]
    assert actions[:4] == ["delete_alias", "alias", "reject", "request"] and "approve" in actions
    code, report = await call(jp_fetch, "GET", "audit", "verify")
    assert code == 200 and report["ok"] is True and report["events"] == len(actions) + 1  # + the policy event


@pytest.mark.parametrize(
    ("method", "parts", "body", "code", "message"),
    [
        ("GET", ("models", "nope"), None, 404, "no registered model 'nope'"),
        ("GET", ("models", "bad name!"), None, 400, "model name must be"),
        ("GET", ("models", "churn", "versions", "0"), None, 400, "whole number from 1"),
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
        ("POST", ("models", "churn", "requests", "abc", "approve"), {}, 404, "no approval request 'abc' of 'churn'"),
        ("POST", ("models", "churn", "requests", "abc", "merge"), {}, 404, "approved or rejected"),
        ("POST", ("models", "churn", "requests", "a-b", "approve"), {}, 400, "letters and digits"),
        ("POST", ("models", "churn", "requests", "abc", "approve"), {"comment": ["x"]}, 400, "comment must be text"),
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
    assert registry.verify_audit().events == 3  # policy and two registrations: nothing written


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
