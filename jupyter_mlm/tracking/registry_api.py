"""The registry half of ``import jupyter_mlm as mlm``: register, stage, approve, roll back, load.

Each function is a thin call into ``registry.Governance`` acting as this process's identity
(the hub user or the OS login; on PostgreSQL, the database role).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..entities import ApprovalRequest, AuditEvent, AuditReport, StagePolicy
from .context import current_user
from .run import Run
from .session import SESSION

if TYPE_CHECKING:
    from ..registry import Governance, ModelVersion

# The registry (and with it the store and SQLAlchemy) loads on first use, not with
# ``import jupyter_mlm`` or ``%load_ext``: that import sits on the path of every kernel start.


def check_model_name(name: Any, what: str = "model name") -> str:
    from ..registry import check_model_name as check

    return check(name, what)


def _governance() -> Governance:
    from ..registry import Governance

    return Governance(SESSION.store, current_user())


def _version(record: Any, policy: StagePolicy | None = None) -> ModelVersion:
    from ..registry import ModelVersion

    return ModelVersion(SESSION.store, record, policy or _governance().policy())


def registry_policy() -> StagePolicy:
    """The stage policy of this store: stages, which need approval, approvers. Every face
    (notebooks, the sidebar, the CLI) applies this same policy."""
    return _governance().policy()


def set_registry_policy(comment: str | None = None, **changes: Any) -> StagePolicy:
    """Change the stage policy for everyone using this store (an audited event).

    Args:
        comment: why.
        **changes: ``stages``, ``production``, ``archived``, ``require_approval_for``
            (e.g. ``["production"]``), ``approvers`` (names; empty: anyone but the requester),
            ``named_approvers`` (True only for shared accounts: approvers then say who they are).
    """
    return _governance().set_policy(comment, **changes)


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
            store, model_or_path, name, run_id=run_id, actor=current_user(), flavor=flavor,
            reference_data=reference_data, signature=signature, description=description,
        )  # fmt: skip
    return _version(record)


def get_model_version(ref: str) -> ModelVersion:
    """A version by reference: ``"churn/3"``, ``"churn/latest"``, ``"churn@production"``, ``"churn@champion"``."""
    from ..registry import resolve as resolve_version

    policy = registry_policy()
    return _version(resolve_version(SESSION.store, ref, policy), policy)


def list_model_versions(name: str) -> list[ModelVersion]:
    """Every live version of ``name``, oldest first."""
    policy = registry_policy()
    return [_version(r, policy) for r in SESSION.store.list_versions(check_model_name(name))]


def list_models() -> list[str]:
    """The names of registered models."""
    return [m.name for m in SESSION.store.list_models()]


def load_model(ref: str, trusted: bool = False) -> Any:
    """The model behind ``ref`` (``"churn@production"``, ``"churn@champion"``, ``"churn/3"``).

    The bytes are checked against the digest recorded at registration before anything is
    deserialised; a mismatch raises. Loading a pickle-based version that someone else
    registered warns every time, unless ``trusted=True`` or its publisher is listed in
    ``c.MLM.trusted_publishers`` / ``$MLM_TRUSTED_PUBLISHERS``; ``trusted=True`` also admits a
    skops file's non-default types.
    """
    from ..config import MLM, model_cache_dir
    from ..registry import load as load_version

    cache = model_cache_dir()
    model, _ = load_version(
        SESSION.store, ref, registry_policy(), current_user(), cache, trusted, MLM().trusted_publishers
    )
    return model


def transition(name: str, version: int, stage: str, comment: str | None = None) -> ModelVersion | ApprovalRequest:
    """Move a version to ``stage``. Promoting to production archives the previous production
    version. When the store's policy gates the stage, this records a request and returns it;
    another person then calls ``approve``."""
    result = _governance().transition(name, version, stage, comment)
    return result if isinstance(result, ApprovalRequest) else _version(result)


def archive(name: str, version: int, comment: str | None = None) -> ModelVersion:
    """Move a version to the archived stage."""
    return _version(_governance().archive(name, version, comment))


def pending_requests(name: str | None = None) -> list[ApprovalRequest]:
    """Approval requests waiting for a decision."""
    return _governance().pending(name)


def approve(
    name: str = "", version: int | None = None, comment: str | None = None, approver: str | None = None,
    request: str | None = None,
) -> ApprovalRequest:  # fmt: skip
    """Approve the pending request for ``name``/``version`` (or ``request=ID``) and carry it out.

    You approve as yourself; ``approver`` names someone else and is refused unless the store's
    policy enables named approvers (shared accounts). The requester cannot approve.
    """
    return _governance().decide(name, version, approve=True, request=request, comment=comment, as_user=approver)


def reject(
    name: str = "", version: int | None = None, comment: str | None = None, approver: str | None = None,
    request: str | None = None,
) -> ApprovalRequest:  # fmt: skip
    """Reject the pending request for ``name``/``version`` (or ``request=ID``), with a comment saying why."""
    return _governance().decide(name, version, approve=False, request=request, comment=comment, as_user=approver)


def rollback(name: str, comment: str | None = None) -> ModelVersion:
    """Put the previous production version back in production (the current one is archived)."""
    return _version(_governance().rollback(name, comment))


def set_alias(name: str, alias: str, version: int) -> ModelVersion:
    """Point ``name@alias`` (e.g. ``champion``) at a version; an alias names one version at a time."""
    return _version(_governance().set_alias(name, alias, version))


def delete_alias(name: str, alias: str) -> None:
    _governance().delete_alias(name, alias)


def delete_model_version(name: str, version: int, comment: str | None = None) -> None:
    """Retire a version for good (not while in production). Its number is never reused."""
    _governance().delete_version(name, version, comment)


def audit_log(name: str | None = None, limit: int | None = None) -> list[AuditEvent]:
    """Registry events, newest first (of one model when ``name`` is given)."""
    if name is not None:
        check_model_name(name)
    return SESSION.store.audit_events(name, limit)


def verify_audit(anchor: str | None = None) -> AuditReport:
    """Recompute the audit hash chain and compare the state it commits to with the registry;
    with ``anchor`` (``"SEQ:HASH"`` from ``jupyter mlm audit anchor``), also prove the log still
    extends it. ``ok`` False names the first problem."""
    from ..registry.audit import parse_anchors

    return SESSION.store.verify_audit(parse_anchors(anchor) if anchor else ())


def compare_models(
    a: str, b: str, data: Any, labels: Any, metric: str = "roc_auc", trusted: bool = False
) -> dict[str, Any]:
    """Challenger against champion on the same rows: ``compare_models("churn@champion",
    "churn@challenger", data=X, labels=y, metric="roc_auc")`` predicts with both versions and
    records both metrics, the difference (b − a), its 95 % bootstrap interval, the rows used and
    a digest of the data; the versions' cards and the model page show it."""
    from ..config import MLM, model_cache_dir
    from ..loop.compare import as_dict
    from ..loop.compare import compare_models as compare

    cache = model_cache_dir()
    row = compare(SESSION.store, current_user(), a, b, data, labels, metric, cache, trusted,
                  tuple(MLM().trusted_publishers))  # fmt: skip
    return as_dict(row)
