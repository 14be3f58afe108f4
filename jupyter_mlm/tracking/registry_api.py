"""The registry half of ``import jupyter_mlm as mlm``: register, stage, approve, roll back, load."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import stage_policy
from ..entities import ApprovalRequest, AuditEvent, AuditReport
from ..errors import NotFound, UsageError
from .context import current_user
from .run import Run
from .session import SESSION

if TYPE_CHECKING:
    from ..registry import ModelVersion

# The registry (and with it the store and SQLAlchemy) loads on first use, not with
# ``import jupyter_mlm`` or ``%load_ext``: that import sits on the path of every kernel start.


def check_model_name(name: Any, what: str = "model name") -> str:
    from ..registry import check_model_name as check

    return check(name, what)


def _version(record: Any) -> ModelVersion:
    from ..registry import ModelVersion

    return ModelVersion(SESSION.store, record, stage_policy())


def _number(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, (int, str)) or not str(version).isdigit():
        raise UsageError(f"version must be a positive whole number, not {version!r}")
    return int(version)


def _comment(comment: Any) -> str | None:
    if comment is not None and not isinstance(comment, str):
        raise UsageError("comment must be a string")
    return comment or None


def register_model(
    model_or_path: Any,
    name: str,
    run: str | Run | None = None,
    flavor: str | None = None,
    reference_data: Any = None,
    signature: Any = None,
    description: str | None = None,
) -> ModelVersion:
    """Register a model (an object, or the path of a saved file or folder) as a new version of ``name``.

    Args:
        model_or_path: scikit-learn, XGBoost, LightGBM, PyTorch (module or ``state_dict``), ONNX,
            any picklable object; or a path (``.onnx``, ``.pkl``, ``.joblib``, ``.skops``, ``.pt``, a folder…).
        name: model name; versions are numbered 1, 2, … per name and never reused.
        run: the run it came from (id, name or ``Run``); by default the active run, else the run
            this kernel ended last, else a new run named after the notebook.
        flavor: force a flavor instead of detecting it.
        reference_data: training data (DataFrame or array) to profile for monitoring; the
            signature is inferred from it when not given.
        signature: ``{"inputs": [{"name", "type"}, …], "outputs": […]}``.
        description: free text shown on the model card.
    """
    check_model_name(name)
    store = SESSION.store
    if run is not None:
        run_id = run.id if isinstance(run, Run) else store.resolve_run(run).id
    elif SESSION.active is not None:
        run_id = SESSION.active.id
    elif SESSION.last_ended is not None:
        run_id = SESSION.last_ended
    else:
        run_id = SESSION.ensure_run().id
    SESSION.flush()
    from ..capture.data import RECORDER
    from ..registry import register as register_version

    with RECORDER.paused():  # reading a saved model to store it is not a data input of the run
        record = register_version(
            store, model_or_path, name, run_id=run_id, actor=current_user(), policy=stage_policy(),
            flavor=flavor, reference_data=reference_data, signature=signature, description=description,
        )  # fmt: skip
    return _version(record)


def get_model_version(ref: str) -> ModelVersion:
    """A version by reference: ``"churn/3"``, ``"churn/latest"``, ``"churn@production"``, ``"churn@champion"``."""
    from ..registry import resolve as resolve_version

    return _version(resolve_version(SESSION.store, ref, stage_policy()))


def list_model_versions(name: str) -> list[ModelVersion]:
    """Every live version of ``name``, oldest first."""
    return [_version(r) for r in SESSION.store.list_versions(check_model_name(name))]


def list_models() -> list[str]:
    """The names of registered models."""
    return [m.name for m in SESSION.store.list_models()]


def load_model(ref: str, trusted: bool = False) -> Any:
    """The model behind ``ref`` (``"churn@production"``, ``"churn@champion"``, ``"churn/3"``).

    The bytes are checked against the digest recorded at registration before anything is
    deserialised; a mismatch raises. Pickle-based flavors from a store you do not own print the
    pickle-safety warning once; ``trusted=True`` silences it (and admits untrusted skops types).
    """
    from ..registry import load as load_version

    cache = Path(os.environ.get("MLM_CACHE_DIR") or Path.home() / ".cache" / "jupyter_mlm" / "models")
    model, _ = load_version(SESSION.store, ref, stage_policy(), current_user(), cache, trusted)
    return model


def transition(name: str, version: int, stage: str, comment: str | None = None) -> ModelVersion | ApprovalRequest:
    """Move a version to ``stage``. Promoting to production archives the previous production
    version. When ``c.MLM.require_approval_for`` lists the stage, this records a request and
    returns it; another user then calls ``approve``."""
    result = SESSION.store.transition(
        check_model_name(name), _number(version), stage, actor=current_user(), policy=stage_policy(),
        comment=_comment(comment),
    )  # fmt: skip
    return result if isinstance(result, ApprovalRequest) else _version(result)


def archive(name: str, version: int, comment: str | None = None) -> ModelVersion:
    """Move a version to the archived stage."""
    result = transition(name, version, stage_policy().archived, comment)
    if isinstance(result, ApprovalRequest):
        return get_model_version(f"{name}/{version}")
    return result


def pending_requests(name: str | None = None) -> list[ApprovalRequest]:
    """Approval requests waiting for a decision."""
    return SESSION.store.approval_requests(name, status="pending")


def _find_request(name: str, version: int | None, request: str | None) -> str:
    if request is not None:
        return request
    pending = [r for r in SESSION.store.approval_requests(check_model_name(name), status="pending")
               if version is None or r.version == _number(version)]  # fmt: skip
    if not pending:
        raise NotFound(f"no pending request for {name}" + (f"/{version}" if version is not None else ""))
    if len(pending) > 1:
        raise UsageError(f"{len(pending)} pending requests for {name}; say which version (or request=ID)")
    return pending[0].id


def approve(
    name: str = "", version: int | None = None, comment: str | None = None, approver: str | None = None,
    request: str | None = None,
) -> ApprovalRequest:  # fmt: skip
    """Approve the pending request for ``name``/``version`` (or ``request=ID``) and carry it out.

    The approver is the current user, or ``approver`` when named explicitly (a single-user server
    has one identity for everybody); it must not be the requester.
    """
    who = approver or current_user()
    return SESSION.store.decide(
        _find_request(name, version, request), approve=True, actor=who, policy=stage_policy(), comment=_comment(comment)
    )


def reject(
    name: str = "", version: int | None = None, comment: str | None = None, approver: str | None = None,
    request: str | None = None,
) -> ApprovalRequest:  # fmt: skip
    """Reject the pending request for ``name``/``version`` (or ``request=ID``), with a comment saying why."""
    who = approver or current_user()
    return SESSION.store.decide(
        _find_request(name, version, request),
        approve=False,
        actor=who,
        policy=stage_policy(),
        comment=_comment(comment),
    )


def rollback(name: str, comment: str | None = None) -> ModelVersion:
    """Put the previous production version back in production (the current one is archived)."""
    record = SESSION.store.rollback(check_model_name(name), actor=current_user(), policy=stage_policy(),
                                    comment=_comment(comment))  # fmt: skip
    return _version(record)


def set_alias(name: str, alias: str, version: int) -> ModelVersion:
    """Point ``name@alias`` (e.g. ``champion``) at a version; an alias names one version at a time."""
    check_model_name(alias, "alias")
    record = SESSION.store.set_alias(check_model_name(name), alias, _number(version), actor=current_user(),
                                     policy=stage_policy())  # fmt: skip
    return _version(record)


def delete_alias(name: str, alias: str) -> None:
    SESSION.store.delete_alias(check_model_name(name), check_model_name(alias, "alias"), actor=current_user())


def delete_model_version(name: str, version: int, comment: str | None = None) -> None:
    """Retire a version for good (not while in production). Its number is never reused."""
    SESSION.store.delete_version(check_model_name(name), _number(version), actor=current_user(),
                                 policy=stage_policy(), comment=_comment(comment))  # fmt: skip


def audit_log(name: str | None = None, limit: int | None = None) -> list[AuditEvent]:
    """Registry events, newest first (of one model when ``name`` is given)."""
    return SESSION.store.audit_events(name, limit)


def verify_audit() -> AuditReport:
    """Recompute the audit hash chain; ``ok`` False names the first altered or missing event."""
    return SESSION.store.verify_audit()
