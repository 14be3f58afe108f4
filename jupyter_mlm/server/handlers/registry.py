"""The model registry over REST: models, versions and their cards, stage changes, approvals,
aliases, rollback and the audit trail. Reads need ``read``, changes ``write``, decisions on
requests ``approve`` — all on the ``mlm`` resource of jupyter_server's Authorizer."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ...config import MLM
from ...entities import ApprovalRequest, ModelVersionRecord, StagePolicy
from ...errors import UsageError
from ...registry import check_model_name, model_card
from .base import MLMHandler

ANONYMOUS_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_BODY_BYTES = 64 * 1024
MAX_COMMENT = 2000


def version_json(record: ModelVersionRecord) -> dict[str, Any]:
    return {
        "id": record.id, "model": record.model, "version": record.version, "stage": record.stage,
        "aliases": list(record.aliases), "flavor": record.flavor, "serializer": record.serializer,
        "digest": record.digest, "size": record.size, "run_id": record.run_id,
        "description": record.description, "created_ms": record.created_ms, "created_by": record.created_by,
    }  # fmt: skip


def request_json(request: ApprovalRequest) -> dict[str, Any]:
    return asdict(request)


class RegistryHandler(MLMHandler):
    @property
    def policy(self) -> StagePolicy:
        settings: MLM = self.settings["mlm_config"]
        return settings.stage_policy()

    @property
    def identity(self) -> str:
        """The user's login name; a single-user server's anonymous users have a random hex
        username, so their readable name ("Anonymous Io") goes into the audit trail instead."""
        user = self.current_user
        username = str(getattr(user, "username", None) or user)
        if ANONYMOUS_ID.match(username) and getattr(user, "name", None):
            return str(user.name)
        return username

    def body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        return self.json_object(MAX_BODY_BYTES, "{stage, comment, approver, version, …} as the route needs")

    def comment(self, body: dict[str, Any]) -> str | None:
        comment = body.get("comment")
        if comment is None or comment == "":
            return None
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
            raise web.HTTPError(400, "comment must be text of at most %d characters", MAX_COMMENT)
        return comment

    def model_name(self, name: str) -> str:
        try:
            return check_model_name(name)
        except UsageError as exc:
            raise web.HTTPError(400, "%s", exc.message) from None

    def version_number(self, version: str) -> int:
        if not version.isdigit() or not 0 < int(version) < 2**31:
            raise web.HTTPError(400, "version must be a positive whole number, not %r", version)
        return int(version)


class MeHandler(RegistryHandler):
    """Who the user is and what they may do, so the sidebar enables only the actions that will work."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        user = self.current_user
        rights = {}
        for action in ("read", "write", "approve"):
            rights[action] = bool(await _maybe_await(self.authorizer.is_authorized(self, user, action, "mlm")))
        policy = self.policy
        self.write_json({
            "username": self.identity, "name": self.identity, "rights": rights,
            "policy": {"stages": list(policy.stages), "production": policy.production, "archived": policy.archived,
                       "initial": policy.initial, "require_approval_for": list(policy.require_approval_for),
                       "approvers": list(policy.approvers)},
        })  # fmt: skip


async def _maybe_await(value: Any) -> Any:
    if hasattr(value, "__await__"):
        return await value
    return value


class ModelListHandler(RegistryHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        def load() -> dict[str, Any]:
            policy = self.policy
            versions: dict[str, list[ModelVersionRecord]] = {}
            for record in self.store.list_all_versions():
                versions.setdefault(record.model, []).append(record)
            pending = self.store.approval_requests(status="pending")
            models = []
            for model in self.store.list_models():
                own = versions.get(model.name, [])
                production = [v for v in own if v.stage == policy.production]
                models.append({
                    "name": model.name, "description": model.description, "created_ms": model.created_ms,
                    "versions": len(own), "latest": own[-1].version if own else None,
                    "production": version_json(production[-1]) if production else None,
                    "staged": [version_json(v) for v in own
                               if v.stage not in (policy.initial, policy.production, policy.archived)],
                    "aliases": {a: v.version for v in own for a in v.aliases},
                    "pending": sum(1 for r in pending if r.model == model.name),
                })  # fmt: skip
            return {"models": models}

        self.write_json(await self.call(load))


class ModelHandler(RegistryHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        name = self.model_name(name)

        def load() -> dict[str, Any]:
            model = self.store.get_model(name)
            out = []
            for record in self.store.list_versions(name):
                item = version_json(record)
                item["run"] = None
                if record.run_id:
                    try:
                        run = self.store.get_run(record.run_id)
                    except Exception:  # the run was deleted: the version stands on its own
                        run = None
                    if run is not None:
                        from .wire import number

                        item["run"] = {
                            "id": run.info.id, "name": run.info.name, "experiment": run.info.experiment,
                            "status": run.info.status,
                            "metrics": {k: number(m.value) for k, m in sorted(run.metrics.items())},
                        }  # fmt: skip
                out.append(item)
            return {
                "name": model.name,
                "description": model.description,
                "created_ms": model.created_ms,
                "versions": out,
                "requests": [request_json(r) for r in self.store.approval_requests(name)],
                "production_history": self.store.production_history(name, self.policy),
            }

        self.write_json(await self.call(load))


class VersionHandler(RegistryHandler):
    """The model card of one version, lineage included."""

    @web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        name, number = self.model_name(name), self.version_number(version)

        def load() -> dict[str, Any]:
            record = self.store.get_version(name, number)
            return model_card(self.store, record, self.policy) | {"run_id": record.run_id}

        body = await self.call(load)
        self.finish(json.dumps(body, allow_nan=False, default=str))


class TransitionHandler(RegistryHandler):
    """POST {stage, comment}: 200 with the version, or 202 with the request when approval is required."""

    @web.authenticated
    @authorized
    async def post(self, name: str, version: str) -> None:
        name, number = self.model_name(name), self.version_number(version)
        body = self.body()
        stage = body.get("stage")
        if not isinstance(stage, str) or not stage:
            raise web.HTTPError(400, 'body must name the target stage: {"stage": "production", "comment": …}')
        comment = self.comment(body)
        result = await self.call(
            lambda: self.store.transition(name, number, stage, actor=self.identity, policy=self.policy, comment=comment)
        )
        if isinstance(result, ApprovalRequest):
            self.set_status(202)
            self.write_json({"request": request_json(result)})
        else:
            self.write_json({"version": version_json(result)})


class DecisionHandler(RegistryHandler):
    """POST {comment, approver?} to …/requests/{id}/approve or …/reject."""

    @web.authenticated
    @authorized("approve")  # type: ignore[untyped-decorator]  # jupyter_server types it loosely
    async def post(self, name: str, request_id: str, decision: str) -> None:
        self.model_name(name)
        if decision not in ("approve", "reject"):
            raise web.HTTPError(404, "requests can be approved or rejected: …/approve or …/reject")
        if not request_id.isalnum() or len(request_id) > 32:
            raise web.HTTPError(400, "request id must be letters and digits")
        body = self.body()
        comment = self.comment(body)
        approver = body.get("approver")
        if approver is not None and approver != "":
            if not isinstance(approver, str) or len(approver) > 250 or not approver.strip():
                raise web.HTTPError(400, "approver must be a user name")
            settings: MLM = self.settings["mlm_config"]
            if approver != self.identity and not settings.named_approvers:
                raise web.HTTPError(403, "approvers act as themselves here (c.MLM.named_approvers is off)")
            actor = approver.strip()
        else:
            actor = self.identity

        def decide() -> ApprovalRequest:
            found = [r for r in self.store.approval_requests(name) if r.id.startswith(request_id)]
            if not found:
                raise web.HTTPError(404, "model %s has no request %s", name, request_id)
            return self.store.decide(
                found[0].id, approve=decision == "approve", actor=actor, policy=self.policy, comment=comment
            )

        self.write_json({"request": request_json(await self.call(decide))})


class RollbackHandler(RegistryHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        name = self.model_name(name)
        comment = self.comment(self.body())
        record = await self.call(
            lambda: self.store.rollback(name, actor=self.identity, policy=self.policy, comment=comment)
        )
        self.write_json({"version": version_json(record)})


class AliasHandler(RegistryHandler):
    @web.authenticated
    @authorized
    async def put(self, name: str, alias: str) -> None:
        name, alias = self.model_name(name), self.model_name(alias)
        version = self.body().get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise web.HTTPError(400, 'body must give the version: {"version": 3}')
        record = await self.call(
            lambda: self.store.set_alias(name, alias, version, actor=self.identity, policy=self.policy)
        )
        self.write_json({"version": version_json(record)})

    @web.authenticated
    @authorized
    async def delete(self, name: str, alias: str) -> None:
        name, alias = self.model_name(name), self.model_name(alias)
        await self.call(lambda: self.store.delete_alias(name, alias, actor=self.identity))
        self.set_status(204)
        self.finish()


class AuditHandler(RegistryHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        model = self.get_query_argument("model", None)
        if model is not None:
            model = self.model_name(model)
        raw_limit = self.get_query_argument("limit", "200")
        if not raw_limit.isdigit() or not 0 < int(raw_limit) <= 10_000:
            raise web.HTTPError(400, "limit must be a whole number from 1 to 10000")
        events = await self.call(lambda: self.store.audit_events(model, int(raw_limit)))
        self.write_json({"events": [asdict(e) for e in events]})


class AuditVerifyHandler(RegistryHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        report = await self.call(self.store.verify_audit)
        self.write_json(asdict(report))
