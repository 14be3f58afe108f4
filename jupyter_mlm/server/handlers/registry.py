"""The model registry over REST: models, versions and their cards, stage changes, approvals,
aliases, rollback, the stage policy and the audit trail. Reads need ``read``, changes ``write``,
decisions on requests and policy changes ``approve`` — all on the ``mlm`` resource of
jupyter_server's Authorizer. Every rule is the governance core's; handlers parse and format."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ...entities import ApprovalRequest
from ...errors import NotFound, UsageError
from ...registry import Governance, check_model_name, check_version, model_card
from ...registry.audit import parse_anchor
from .base import MLMHandler
from .wire import request_json, version_json

MAX_BODY_BYTES = 64 * 1024


class RegistryHandler(MLMHandler):
    def governance(self) -> Governance:
        return Governance(self.store, self.identity)

    def body(self) -> dict[str, Any]:
        if not self.raw_body():
            return {}
        return self.json_object(MAX_BODY_BYTES, "{stage, comment, approver, version, …} as the route needs")

    def model_name(self, name: str) -> str:
        try:
            return check_model_name(name)
        except UsageError as exc:
            raise web.HTTPError(400, "%s", exc.message) from None

    def version_number(self, version: Any) -> int:
        try:
            return check_version(version)
        except UsageError as exc:
            raise web.HTTPError(400, "%s", exc.message) from None


async def _maybe_await(value: Any) -> Any:
    if hasattr(value, "__await__"):
        return await value
    return value


class MeHandler(RegistryHandler):
    """Who the user is and what they may do, so the sidebar enables only the actions that will work."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        user = self.current_user
        rights = {}
        for action in ("read", "write", "approve"):
            rights[action] = bool(await _maybe_await(self.authorizer.is_authorized(self, user, action, "mlm")))
        governance = self.governance()

        def load() -> dict[str, Any]:
            identity = self.store.db_identity()
            return {
                "username": governance.actor, "name": governance.actor, "rights": rights,
                "policy": governance.policy().to_dict(),
                "database_user": identity.user if identity else None,
            }  # fmt: skip

        self.write_json(await self.call(load))


class PolicyHandler(RegistryHandler):
    """GET the stage policy; PUT {require_approval_for, approvers, …, comment} changes it for every face."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json({"policy": (await self.call(self.governance().policy)).to_dict()})

    @web.authenticated
    @authorized("approve")  # type: ignore[untyped-decorator]  # jupyter_server types it loosely
    async def put(self) -> None:
        body = self.body()
        comment = body.pop("comment", None)
        governance = self.governance()
        policy = await self.call(lambda: governance.set_policy(comment, **body))
        self.write_json({"policy": policy.to_dict()})


class ModelListHandler(RegistryHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        def load() -> dict[str, Any]:
            models = []
            for summary in self.governance().summaries():
                production = summary["production"]
                models.append(summary | {
                    "production": version_json(production) if production else None,
                    "staged": [version_json(v) for v in summary["staged"]],
                })  # fmt: skip
            return {"models": models}

        self.write_json(await self.call(load))


class ModelHandler(RegistryHandler):
    """Everything a model page draws, in one answer: versions with the moves allowed for each,
    requests with whether this user may decide them, production history, the card of the shown
    version (``?version=N``, else production, else latest) and the model's audit log."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        name = self.model_name(name)
        raw_version = self.get_query_argument("version", None)
        wanted = None if raw_version in (None, "") else self.version_number(raw_version)

        def load() -> dict[str, Any]:
            governance = self.governance()
            detail = governance.model_detail(name)
            out = []
            shown = None
            for record, moves in detail["versions"]:
                if record.version == wanted:
                    shown = record
                item = version_json(record) | {"moves": [m.to_dict() for m in moves], "run": None}
                if record.run_id:
                    try:
                        run = self.store.get_run(record.run_id)
                    except NotFound:  # the run was deleted: the version stands on its own
                        run = None
                    if run is not None:
                        item["run"] = {
                            "id": run.info.id, "name": run.info.name, "experiment": run.info.experiment,
                            "status": run.info.status,
                            "metrics": {k: m.value for k, m in sorted(run.metrics.items())},
                        }  # fmt: skip
                out.append(item)
            if wanted is not None and shown is None:
                raise NotFound(f"model {name!r} has no version {wanted}")
            model, current = detail["model"], detail["current"]
            shown = shown or current
            return {
                "name": model.name,
                "description": current.description if current and current.description else model.description,
                "created_ms": model.created_ms,
                "current": current.version if current else None,
                "versions": out,
                "requests": [request_json(r) | {"refusal": refusal} for r, refusal in detail["requests"]],
                "production_history": detail["production_history"],
                "policy": detail["policy"].to_dict(),
                "actor": detail["actor"],
                "card": None if shown is None else model_card(self.store, shown, detail["policy"]),
                "audit": self.store.audit_events(name, 200),
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
            return model_card(self.store, record, self.governance().policy()) | {"run_id": record.run_id}

        self.write_json(await self.call(load))


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
        governance = self.governance()
        result = await self.call(lambda: governance.transition(name, number, stage, body.get("comment")))
        if isinstance(result, ApprovalRequest):
            self.set_status(202)
            self.write_json({"request": request_json(result)})
        else:
            self.write_json({"version": version_json(result)})


class DecisionHandler(RegistryHandler):
    """POST {comment, approver?} to …/requests/{id}/approve or …/reject. ``approver`` (deciding in
    another's name) is refused unless the store's policy enables named approvers."""

    @web.authenticated
    @authorized("approve")  # type: ignore[untyped-decorator]  # jupyter_server types it loosely
    async def post(self, name: str, request_id: str, decision: str) -> None:
        name = self.model_name(name)
        if decision not in ("approve", "reject"):
            raise web.HTTPError(404, "requests can be approved or rejected: …/approve or …/reject")
        body = self.body()
        governance = self.governance()
        decided = await self.call(
            lambda: governance.decide(
                name,
                approve=decision == "approve",
                request=request_id,
                comment=body.get("comment"),
                as_user=body.get("approver") or None,
            )
        )
        self.write_json({"request": request_json(decided)})


class RollbackHandler(RegistryHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        name = self.model_name(name)
        comment = self.body().get("comment")
        governance = self.governance()
        record = await self.call(lambda: governance.rollback(name, comment))
        self.write_json({"version": version_json(record)})


class AliasHandler(RegistryHandler):
    @web.authenticated
    @authorized
    async def put(self, name: str, alias: str) -> None:
        name, alias = self.model_name(name), self.model_name(alias)
        version = self.body().get("version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise web.HTTPError(400, 'body must give the version: {"version": 3}')
        number = self.version_number(version)
        governance = self.governance()
        record = await self.call(lambda: governance.set_alias(name, alias, number))
        self.write_json({"version": version_json(record)})

    @web.authenticated
    @authorized
    async def delete(self, name: str, alias: str) -> None:
        name, alias = self.model_name(name), self.model_name(alias)
        governance = self.governance()
        await self.call(lambda: governance.delete_alias(name, alias))
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
        if not raw_limit.isascii() or not raw_limit.isdigit() or not 0 < int(raw_limit) <= 10_000:
            raise web.HTTPError(400, "limit must be a whole number from 1 to 10000")
        events = await self.call(lambda: self.store.audit_events(model, int(raw_limit)))
        self.write_json({"events": events})


class AuditVerifyHandler(RegistryHandler):
    """GET …/audit/verify[?anchor=SEQ:HASH]: the chain, the state it commits to, and the anchor."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        anchor = self.get_query_argument("anchor", None)
        anchors: list[tuple[int | None, str]] = []
        if anchor is not None:
            parsed = parse_anchor(anchor)  # only literal anchors: a query never names a server file
            if parsed is None:
                raise web.HTTPError(400, "anchor must be SEQ:HASH (from `jupyter mlm audit anchor`)")
            anchors = [parsed]
        self.write_json(await self.call(lambda: self.store.verify_audit(anchors)))
