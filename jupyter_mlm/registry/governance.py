"""The registry's rules, in one place: which stage moves are allowed, when a move needs an
approval and who may give it, rollback, aliases, retirement, the stage policy, and the
summaries every face shows.

Every face (Python API, magics, CLI, REST, and through REST the sidebar) builds a ``Governance``
for the identity it can prove and calls it; none holds a rule. Each change runs inside one
``RegistryTx`` so what is checked is what is changed.

Identity: the actor is the identity the face proved (the Jupyter server's user, the OS login),
except on PostgreSQL where a member's own database role is the actor whatever the face says;
only a role that vouches for others (a superuser, or a member of ``mlm_service``: a server
shared through JupyterHub) passes the face's identity on. Every audit event also carries the
database user, set by the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..entities import ApprovalRequest, ModelRecord, ModelVersionRecord, StagePolicy
from ..errors import Conflict, NotFound, PermissionDenied, UsageError
from ..store import Store
from ..store.registry import RegistryTx
from .names import check_model_name, check_version

DEFAULT_POLICY = StagePolicy()
MAX_COMMENT = 2000
MAX_USER = 250


@dataclass(frozen=True)
class Move:
    """A stage a version may go to from where it is, and whether that needs another's approval."""

    stage: str
    needs_approval: bool

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "needs_approval": self.needs_approval}


def check_policy(
    stages: Any, production: Any, archived: Any, require_approval_for: Any = (), approvers: Any = (),
    named_approvers: Any = False,
) -> StagePolicy:  # fmt: skip
    """A stage policy from its parts, or a UsageError saying which part is wrong."""

    def names(value: Any, what: str) -> tuple[str, ...]:
        if isinstance(value, str) or not all(isinstance(v, str) and v.strip() for v in value):
            raise UsageError(f"{what} must be a list of names, not {value!r}")
        return tuple(v.strip() for v in value)

    stage_names = names(stages, "stages")
    if len(stage_names) < 2 or len(set(stage_names)) != len(stage_names):
        raise UsageError("stages needs at least two distinct stage names")
    for what, stage in (("production stage", production), ("archived stage", archived)):
        if stage not in stage_names:
            raise UsageError(f"{what} {stage!r} is not one of the stages {list(stage_names)}")
    if production == archived or production == stage_names[0]:
        raise UsageError("the production stage must differ from the archived and the initial stage")
    gated = names(require_approval_for, "require_approval_for")
    unknown = [s for s in gated if s not in stage_names]
    if unknown:
        raise UsageError(f"require_approval_for names unknown stages {unknown}; stages are {list(stage_names)}")
    people = names(approvers, "approvers")
    if any(len(p) > MAX_USER for p in people):
        raise UsageError(f"approver names are at most {MAX_USER} characters")
    if not isinstance(named_approvers, bool):
        raise UsageError(f"named_approvers must be true or false, not {named_approvers!r}")
    return StagePolicy(stage_names, production, archived, gated, people, named_approvers)


def allowed_moves(policy: StagePolicy, version: ModelVersionRecord) -> list[Move]:
    """Every stage ``version`` may be moved to now. An archived version goes back through review
    (another stage first) or a rollback, never straight to production."""
    return [
        Move(stage, stage in policy.require_approval_for)
        for stage in policy.stages
        if stage != version.stage and not (version.stage == policy.archived and stage == policy.production)
    ]


def _check_move(policy: StagePolicy, version: ModelVersionRecord, stage: str) -> Move:
    if not isinstance(stage, str) or stage not in policy.stages:
        raise UsageError(f"unknown stage {stage!r}; stages are {', '.join(policy.stages)}")
    if version.stage == stage:
        raise Conflict(f"version {version.version} of {version.model!r} is already in {stage}")
    for move in allowed_moves(policy, version):
        if move.stage == stage:
            return move
    raise Conflict(
        f"version {version.version} of {version.model!r} is {policy.archived}; move it to another stage first "
        f"(a new review) or use `rollback` to restore the previous {policy.production} version"
    )


def decision_refusal(policy: StagePolicy, request: ApprovalRequest, actor: str) -> str | None:
    """Why ``actor`` may not decide ``request``, or None when they may."""
    if actor == request.requested_by:
        return (
            f"{actor} requested this transition and cannot also approve or reject it; another person "
            "must (people are told apart by their Jupyter server user, OS login or database role)"
        )
    if policy.approvers and actor not in policy.approvers:
        return f"{actor} is not an approver (approvers: {', '.join(policy.approvers)})"
    return None


def _comment(comment: Any) -> str | None:
    if comment is None or comment == "":
        return None
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise UsageError(f"comment must be text of at most {MAX_COMMENT} characters")
    return comment


def _request_id(request: Any) -> str:
    if not isinstance(request, str) or not request.isascii() or not request.isalnum() or len(request) > 32:
        raise UsageError(f"request id must be an id or a unique prefix of one (letters and digits), not {request!r}")
    return request.lower()


class Governance:
    """The registry as one identity may use it.

    Args:
        store: the store.
        actor: the identity the calling face proved (server user, OS login).
    """

    def __init__(self, store: Store, actor: str) -> None:
        if not isinstance(actor, str) or not actor.strip() or len(actor) > MAX_USER:
            raise UsageError("the acting user must be a non-empty name")
        self.store = store
        self.claimed = actor.strip()

    @property
    def actor(self) -> str:
        """Who the audit log names: a non-vouching database role, else the face's identity."""
        identity = self.store.db_identity()
        if identity is not None and not identity.vouches:
            return identity.user
        return self.claimed

    # -- policy ------------------------------------------------------------------------------
    def policy(self) -> StagePolicy:
        """The stage policy stored with the registry (the default until someone sets one)."""
        return self.store.stored_policy() or DEFAULT_POLICY

    def set_policy(self, comment: str | None = None, **changes: Any) -> StagePolicy:
        """Change the stage policy for every face at once; an audited event.

        Args:
            comment: why.
            **changes: any of ``stages``, ``production``, ``archived``, ``require_approval_for``,
                ``approvers``, ``named_approvers``; the rest stay as they are.
        """
        fields = ("stages", "production", "archived", "require_approval_for", "approvers", "named_approvers")
        unknown = sorted(set(changes) - set(fields))
        if unknown:
            raise UsageError(f"unknown policy setting(s) {unknown}; settings are {', '.join(fields)}")
        comment = _comment(comment)
        with self.store.registry_tx() as tx:
            before = tx.policy()
            base = (before or DEFAULT_POLICY).to_dict()
            merged = {k: changes.get(k, base[k]) for k in fields}
            policy = check_policy(**merged)
            if before == policy:
                return policy
            if before is not None or policy != DEFAULT_POLICY:
                self._check_stages_in_use(tx, policy)
                tx.store_policy(policy)
                tx.audit_policy(self.actor, before, policy, comment)
            return policy

    @staticmethod
    def _check_stages_in_use(tx: RegistryTx, policy: StagePolicy) -> None:
        orphaned = sorted(tx.stages_in_use() - set(policy.stages))
        if orphaned:
            raise Conflict(f"versions are in stage(s) {orphaned}, which the new policy drops; move them first")

    # -- registration ------------------------------------------------------------------------
    def add_version(self, name: str, *, description: str, **fields: Any) -> ModelVersionRecord:
        """Record a new version of ``name`` (created on first use); numbers are never reused."""
        check_model_name(name)
        with self.store.registry_tx() as tx:
            policy = tx.policy() or DEFAULT_POLICY
            model = tx.model(name) or tx.create_model(name, description)
            number = tx.next_number(model)
            record = tx.insert_version(
                model, version=number, stage=policy.initial, created_by=self.actor, description=description,
                **fields,
            )  # fmt: skip
            tx.audit(
                self.actor, "register", model, None,
                {"version": number, "digest": record.digest, "flavor": record.flavor, "run_id": record.run_id,
                 "stage": policy.initial},
                description or None,
            )  # fmt: skip
            return record

    # -- stage changes -----------------------------------------------------------------------
    def _locked(self, tx: RegistryTx, name: Any, version: Any) -> tuple[ModelRecord, ModelVersionRecord]:
        name, number = check_model_name(name), check_version(version)
        model = tx.model(name)
        if model is None:
            raise NotFound(f"no registered model {name!r}; `jupyter mlm models` lists them")
        record = tx.version(model, number)
        if record is None:
            known = [v.version for v in tx.versions(model)]
            raise NotFound(f"model {name!r} has no version {number} (versions: {known or 'none'})")
        return model, record

    def transition(
        self, name: str, version: int | str, stage: str, comment: str | None = None
    ) -> ModelVersionRecord | ApprovalRequest:
        """Move a version to ``stage``, or, when the policy wants an approval for that stage,
        record a request and return it. Promotion to production archives the previous one."""
        comment = _comment(comment)
        with self.store.registry_tx() as tx:
            policy = tx.policy() or DEFAULT_POLICY
            model, current = self._locked(tx, name, version)
            move = _check_move(policy, current, stage)
            if move.needs_approval:
                return self._request(tx, model, current, stage, comment)
            self._move(tx, policy, model, current, stage, self.actor, comment)
            return tx.version_by_id(current.id)

    def _request(
        self, tx: RegistryTx, model: ModelRecord, current: ModelVersionRecord, stage: str, comment: str | None
    ) -> ApprovalRequest:
        pending = tx.requests(version_id=current.id, status="pending")
        same = [r for r in pending if r.to_stage == stage]
        if same:
            raise Conflict(
                f"version {current.version} of {model.name!r} already has a pending request for {stage} "
                f"({same[0].id[:8]}); approve or reject it"
            )
        request = tx.insert_request(
            model, current, from_stage=current.stage, to_stage=stage, requested_by=self.actor, comment=comment
        )
        tx.audit(
            self.actor, "request", model, {"version": current.version, "stage": current.stage},
            {"version": current.version, "stage": stage, "request": request.id}, comment,
        )  # fmt: skip
        return request

    def _move(
        self, tx: RegistryTx, policy: StagePolicy, model: ModelRecord, current: ModelVersionRecord, stage: str,
        actor: str, comment: str | None, action: str = "transition", extra: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        if stage == policy.production:
            for previous in tx.versions(model, policy.production):
                if previous.id == current.id:
                    continue
                tx.set_stage(previous, policy.archived)
                tx.audit(
                    actor, "transition", model, {"version": previous.version, "stage": policy.production},
                    {"version": previous.version, "stage": policy.archived, "replaced_by": current.version},
                    f"archived: version {current.version} went to {policy.production}",
                )  # fmt: skip
        tx.set_stage(current, stage)
        tx.audit(
            actor, action, model, {"version": current.version, "stage": current.stage},
            {"version": current.version, "stage": stage, **(extra or {})}, comment,
        )  # fmt: skip

    def archive(self, name: str, version: int | str, comment: str | None = None) -> ModelVersionRecord:
        """Move a version to the archived stage (never gated: taking a version out needs no review)."""
        with self.store.registry_tx() as tx:
            policy = tx.policy() or DEFAULT_POLICY
            model, current = self._locked(tx, name, version)
            if current.stage == policy.archived:
                raise Conflict(f"version {current.version} of {model.name!r} is already {policy.archived}")
            self._move(tx, policy, model, current, policy.archived, self.actor, _comment(comment))
            return tx.version_by_id(current.id)

    # -- approvals ---------------------------------------------------------------------------
    def pending(self, name: str | None = None) -> list[ApprovalRequest]:
        if name is not None:
            check_model_name(name)
        return self.store.approval_requests(name, status="pending")

    def _find_request(self, tx: RegistryTx, name: str | None, version: Any, request: Any) -> ApprovalRequest:
        if name is not None and name != "":
            check_model_name(name)
        else:
            name = None
        if request is not None and request != "":
            found = tx.requests(model=name, id_prefix=_request_id(request))
            if not found:
                where = f" of {name!r}" if name else ""
                raise NotFound(f"no approval request {request!r}{where}")
            if len(found) > 1:
                raise UsageError(f"request id prefix {request!r} is ambiguous; give more characters")
            return found[0]
        if name is None:
            raise UsageError("say which request: a model name (and version) or a request id")
        number = None if version is None else check_version(version)
        pending = [r for r in tx.requests(model=name, status="pending") if number is None or r.version == number]
        if not pending:
            raise NotFound(f"no pending request for {name}" + (f"/{number}" if number is not None else ""))
        if len(pending) > 1:
            raise UsageError(f"{len(pending)} pending requests for {name}; say which version (or the request id)")
        return pending[0]

    def decide(
        self,
        name: str | None = None,
        version: int | str | None = None,
        *,
        approve: bool,
        request: str | None = None,
        comment: str | None = None,
        as_user: str | None = None,
    ) -> ApprovalRequest:
        """Approve (and carry out) or reject a pending request, found by model and version or by
        request id (or a unique prefix). The requester cannot decide their own request.

        Args:
            as_user: decide in another person's name; refused unless the policy enables named
                approvers (shared accounts). The audit event then records who named them.
        """
        comment = _comment(comment)
        actor, named_by = self.actor, None
        with self.store.registry_tx() as tx:
            policy = tx.policy() or DEFAULT_POLICY
            if as_user is not None and as_user != "" and as_user != actor:
                if not isinstance(as_user, str) or not as_user.strip() or len(as_user) > MAX_USER:
                    raise UsageError("the approver must be a user name")
                if not policy.named_approvers:
                    raise PermissionDenied(
                        f"you act as {actor} here; deciding as {as_user!r} needs named approvers, which this "
                        "store's policy does not allow (`jupyter mlm policy set --named-approvers on`, for "
                        "shared accounts only)"
                    )
                actor, named_by = as_user.strip(), self.actor
            found = self._find_request(tx, name, version, request)
            if found.status != "pending":
                raise Conflict(f"request {found.id[:8]} was already {found.status} by {found.decided_by}")
            refusal = decision_refusal(policy, found, actor)
            if refusal is not None:
                raise PermissionDenied(refusal)
            current = tx.version_by_id(found.version_id)
            model = tx.model_of(current)
            if approve:
                _check_move(policy, current, found.to_stage)
            decided = tx.decide_request(found, "approved" if approve else "rejected", actor, comment)
            extra = {"named_by": named_by} if named_by else {}
            tx.audit(
                actor, "approve" if approve else "reject", model,
                {"version": current.version, "stage": current.stage, "request": found.id},
                {"version": current.version, "stage": found.to_stage if approve else current.stage,
                 "request": found.id, "requested_by": found.requested_by, **extra},
                comment,
            )  # fmt: skip
            if approve:
                self._move(
                    tx, policy, model, current, found.to_stage, actor, found.comment,
                    extra={"request": found.id, "requested_by": found.requested_by, "approved_by": actor},
                )  # fmt: skip
            return decided

    # -- rollback, aliases, retirement -------------------------------------------------------
    def rollback(self, name: str, comment: str | None = None) -> ModelVersionRecord:
        """Put back the version that was in production before the current one; the current one is archived."""
        name, comment = check_model_name(name), _comment(comment)
        with self.store.registry_tx() as tx:
            policy = tx.policy() or DEFAULT_POLICY
            model = tx.model(name)
            if model is None:
                raise NotFound(f"no registered model {name!r}; `jupyter mlm models` lists them")
            stack = tx.production_history(model, policy)
            current = tx.versions(model, policy.production)
            live = {v.version for v in tx.versions(model)}
            candidates = [v for v in stack if v in live and (not current or v != current[0].version)]
            if not candidates:
                raise Conflict(f"{name!r} has no earlier {policy.production} version to roll back to")
            target = tx.version(model, candidates[-1])
            assert target is not None
            if current:
                tx.set_stage(current[0], policy.archived)
                tx.audit(
                    self.actor, "rollback", model, {"version": current[0].version, "stage": policy.production},
                    {"version": current[0].version, "stage": policy.archived, "rolled_back_to": target.version},
                    comment,
                )  # fmt: skip
            tx.set_stage(target, policy.production)
            tx.audit(
                self.actor, "restore", model, {"version": target.version, "stage": target.stage},
                {"version": target.version, "stage": policy.production,
                 "rolled_back_from": current[0].version if current else None},
                comment,
            )  # fmt: skip
            return tx.version_by_id(target.id)

    def set_alias(self, name: str, alias: str, version: int | str) -> ModelVersionRecord:
        """Point ``name@alias`` at a version; an alias names one version at a time."""
        alias = check_model_name(alias, "alias")
        with self.store.registry_tx() as tx:
            policy = tx.policy() or DEFAULT_POLICY
            if alias in policy.stages:
                raise UsageError(f"alias {alias!r} is a stage name; pick another (stages: {', '.join(policy.stages)})")
            model, target = self._locked(tx, name, version)
            existing = tx.alias_target(model, alias)
            if existing is not None and existing.id == target.id:
                return target
            tx.point_alias(model, alias, target)
            before = None if existing is None else {"alias": alias, "version": existing.version}
            tx.audit(self.actor, "alias", model, before, {"alias": alias, "version": target.version})
            return tx.version_by_id(target.id)

    def delete_alias(self, name: str, alias: str) -> None:
        name, alias = check_model_name(name), check_model_name(alias, "alias")
        with self.store.registry_tx() as tx:
            model = tx.model(name)
            if model is None:
                raise NotFound(f"no registered model {name!r}")
            existing = tx.alias_target(model, alias)
            if existing is None:
                raise NotFound(f"model {name!r} has no alias {alias!r}")
            tx.remove_alias(model, alias)
            tx.audit(self.actor, "delete_alias", model, {"alias": alias, "version": existing.version}, None)

    def delete_version(self, name: str, version: int | str, comment: str | None = None) -> None:
        """Retire a version for good: it can no longer be loaded or staged; its number stays taken."""
        comment = _comment(comment)
        with self.store.registry_tx() as tx:
            policy = tx.policy() or DEFAULT_POLICY
            model, current = self._locked(tx, name, version)
            if current.stage == policy.production:
                raise Conflict(
                    f"version {current.version} of {model.name!r} is in {policy.production}; "
                    "promote another or roll back first"
                )
            tx.retire(current, self.actor)
            tx.audit(
                self.actor, "delete", model,
                {"version": current.version, "stage": current.stage, "aliases": list(current.aliases)},
                {"version": current.version, "deleted": True}, comment,
            )  # fmt: skip

    # -- what the faces show -----------------------------------------------------------------
    def summaries(self) -> list[dict[str, Any]]:
        """One row per model: versions, production version, other stages, aliases, pending requests."""
        policy = self.policy()
        by_model: dict[str, list[ModelVersionRecord]] = {}
        for record in self.store.list_all_versions():
            by_model.setdefault(record.model, []).append(record)
        pending = self.store.approval_requests(status="pending")
        out = []
        for model in self.store.list_models():
            own = by_model.get(model.name, [])
            production = [v for v in own if v.stage == policy.production]
            out.append({
                "name": model.name, "description": model.description, "created_ms": model.created_ms,
                "versions": len(own), "latest": own[-1].version if own else None,
                "production": production[-1] if production else None,
                "staged": [v for v in own if v.stage not in (policy.initial, policy.production, policy.archived)],
                "aliases": {a: v.version for v in own for a in v.aliases},
                "pending": sum(1 for r in pending if r.model == model.name),
            })  # fmt: skip
        return out

    def model_detail(self, name: str) -> dict[str, Any]:
        """A model with each version and the moves allowed for it, its requests and its
        production history: everything a model page draws."""
        name = check_model_name(name)
        model = self.store.get_model(name)
        policy = self.policy()
        versions = self.store.list_versions(name)
        production = [v for v in versions if v.stage == policy.production]
        actor = self.actor
        requests = self.store.approval_requests(name)
        return {
            "model": model,
            "policy": policy,
            "actor": actor,
            "versions": [(v, allowed_moves(policy, v)) for v in versions],
            "current": production[-1] if production else (versions[-1] if versions else None),
            "requests": [(r, decision_refusal(policy, r, actor) if r.status == "pending" else None) for r in requests],
            "production_history": self.store.production_history(name, policy),
        }
