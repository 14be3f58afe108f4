"""Registry rights come from jupyter_server's Authorizer: resource ``mlm``, actions read/write/approve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth.authorizer import AllowAllAuthorizer, Authorizer

from jupyter_mlm.store import Store

from .test_registry_api import call
from .test_registry_api import registry as registry


class NoApprovals(Authorizer):
    """An organisation's rule: this user may read and change the registry, not approve."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return action != "approve"


@pytest.fixture
def jp_server_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlm": True}, "authorizer_class": NoApprovals},
        "MLM": {"store_uri": str(tmp_path / "server-store"), "require_approval_for": ["production"]},
    }  # fmt: skip


async def test_approve_needs_the_approve_action(jp_fetch: Any, registry: Store) -> None:
    _, me = await call(jp_fetch, "GET", "me")
    assert me["rights"] == {"read": True, "write": True, "approve": False}
    code, body = await call(jp_fetch, "POST", "models", "churn", "versions", "1", "transition",
                            body={"stage": "production"})  # fmt: skip
    assert code == 202
    request_id = body["request"]["id"]
    code, body = await call(jp_fetch, "POST", "models", "churn", "requests", request_id, "approve",
                            body={"approver": "bo"})  # fmt: skip
    assert code == 403 and "not authorized to approve" in body["message"]
    assert registry.approval_requests("churn")[0].status == "pending"


async def test_named_approvers_are_off_unless_the_policy_allows_them(
    jp_fetch: Any, registry: Store, jp_serverapp: Any
) -> None:
    jp_serverapp.authorizer.__class__ = AllowAllAuthorizer  # approvals allowed again, names still not
    _, body = await call(jp_fetch, "POST", "models", "churn", "versions", "2", "transition",
                         body={"stage": "production"})  # fmt: skip
    code, body = await call(jp_fetch, "POST", "models", "churn", "requests", body["request"]["id"], "approve",
                            body={"approver": "bo"})  # fmt: skip
    assert code == 403 and "needs named approvers" in body["message"]
