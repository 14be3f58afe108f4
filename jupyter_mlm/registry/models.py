"""Registering, finding and loading model versions, and what each one came from."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..entities import ModelVersionRecord, StagePolicy
from ..errors import IntegrityError, NotFound, UsageError
from ..store import Store
from .flavors import PICKLE_SERIALIZERS, Serialized, deserialize, serialize, serialize_path
from .governance import Governance
from .names import check_digest, check_model_name
from .profile import check_signature, profile_data, profile_frame, signature_from_profile

PICKLE_WARNING = (
    "The pickle module is not secure. Only unpickle data you trust: {ref} was registered by {who}, "
    "not by you ({user}), in {where}; loading it can run arbitrary code. Pass trusted=True for this "
    "version, or list {who} in c.MLM.trusted_publishers ($MLM_TRUSTED_PUBLISHERS), once you trust it; "
    "prefer skops, ONNX or a native format for models you share."
)


def register(
    store: Store,
    model_or_path: Any,
    name: str,
    *,
    run_id: str | None,
    actor: str,
    flavor: str | None = None,
    reference_data: Any = None,
    signature: Any = None,
    description: str | None = None,
) -> ModelVersionRecord:
    """Store the model as a blob and record a new version of ``name`` linked to ``run_id``."""
    check_model_name(name)
    if description is not None and not isinstance(description, str):
        raise UsageError("description must be a string")
    if model_or_path is None:
        raise UsageError("register_model needs a model object or the path of a saved model, not None")
    if isinstance(model_or_path, (str, os.PathLike)):
        path = Path(model_or_path)
        if not path.exists():
            raise NotFound(f"cannot register {os.fspath(model_or_path)!r}: no such file or folder")
        serialized: Serialized = serialize_path(path, flavor)
    else:
        serialized = serialize(model_or_path, flavor)
    profile_digest = None
    if reference_data is not None:
        profile = profile_data(reference_data)
        from ..stats.reference import build_reference

        # What monitoring compares production data with (stats.reference): kept in the same blob.
        profile["monitoring"] = build_reference(profile_frame(reference_data))
        profile_digest = store.objects.put_bytes(json.dumps(profile, sort_keys=True).encode())
        if signature is None:
            signature = signature_from_profile(profile)
    signature_text = json.dumps(check_signature(signature), sort_keys=True) if signature is not None else None
    digest = store.objects.put_bytes(serialized.data)
    return Governance(store, actor).add_version(
        name, digest=digest, size=len(serialized.data), flavor=serialized.flavor, serializer=serialized.serializer,
        filename=serialized.filename, run_id=run_id, signature=signature_text, profile_digest=profile_digest,
        description=description or "",
    )  # fmt: skip


def parse_ref(ref: Any) -> tuple[str, str, str]:
    """``"churn/3"`` → (churn, version, 3); ``"churn@production"`` → (churn, at, production);
    ``"churn/latest"`` → (churn, latest, "")."""
    if not isinstance(ref, str) or not ref:
        raise UsageError(f"model reference must be NAME/VERSION or NAME@STAGE_OR_ALIAS, not {ref!r}")
    if "@" in ref:
        name, _, label = ref.partition("@")
        check_model_name(name)
        if not label:
            raise UsageError(f"say which stage or alias after '@' in {ref!r}, e.g. {name}@production")
        return name, "at", label
    if "/" in ref:
        name, _, number = ref.partition("/")
        check_model_name(name)
        if number == "latest":
            return name, "latest", ""
        if not number.isascii() or not number.isdigit() or not 0 < int(number) < 2**31:
            raise UsageError(f"version in {ref!r} must be a positive whole number or 'latest'")
        return name, "version", number
    check_model_name(ref)
    raise UsageError(f"say which version of {ref!r}: {ref}/1, {ref}/latest, {ref}@production or {ref}@champion")


def resolve(store: Store, ref: str, policy: StagePolicy) -> ModelVersionRecord:
    name, kind, value = parse_ref(ref)
    if kind == "version":
        return store.get_version(name, int(value))
    if kind == "latest":
        versions = store.list_versions(name)
        if not versions:
            raise NotFound(f"model {name!r} has no versions")
        return versions[-1]
    if value in policy.stages:
        found = store.versions_in_stage(name, value)
        if not found:
            raise NotFound(f"model {name!r} has no version in {value}")
        return found[-1]
    record = store.version_by_alias(name, value)
    if record is None:
        raise NotFound(f"model {name!r} has no stage or alias {value!r} (stages: {', '.join(policy.stages)})")
    return record


def needs_pickle_warning(
    record: ModelVersionRecord, user: str, trusted: bool, trusted_publishers: Sequence[str]
) -> bool:
    """Whether loading this version may run code its loader has not vouched for: decided per
    version, every time (never once per process)."""
    if record.serializer not in PICKLE_SERIALIZERS or trusted:
        return False
    return record.created_by != user and record.created_by not in trusted_publishers


def load(
    store: Store, ref: str, policy: StagePolicy, user: str, cache_dir: Path, trusted: bool = False,
    trusted_publishers: Sequence[str] = (),
) -> tuple[Any, ModelVersionRecord]:  # fmt: skip
    """The model behind ``ref``, after checking its bytes against the digest recorded at
    registration; every name taken from the version row is confined to ``cache_dir``."""
    data, record = fetch_verified(store, ref, policy, user, trusted, trusted_publishers, warning_depth=4)
    return deserialize_verified(data, record, cache_dir, trusted), record


def deserialize_verified(data: bytes, record: ModelVersionRecord, cache_dir: Path, trusted: bool) -> Any:
    """The model from bytes ``fetch_verified`` returned for ``record``."""
    folder = cache_dir / record.digest
    folder.mkdir(parents=True, exist_ok=True)
    return deserialize(data, record.flavor, record.serializer, record.filename, folder, trusted)


def fetch_verified(
    store: Store, ref: str, policy: StagePolicy, user: str, trusted: bool = False,
    trusted_publishers: Sequence[str] = (), warning_depth: int = 3,
) -> tuple[bytes, ModelVersionRecord]:  # fmt: skip
    """The bytes of ``ref``'s version, checked against the digest the audit log committed (and
    the pickle warning given when the loader has not vouched for its publisher), not yet
    deserialised."""
    record = resolve(store, ref, policy)
    check_digest(record.digest)
    committed = (store.committed_state(record.model) or {}).get("versions", {}).get(str(record.version))
    if committed is None or committed["digest"] != record.digest:
        raise IntegrityError(
            f"{record.model}/{record.version} points at blob {record.digest[:12]} but the audit log says "
            f"{committed['digest'][:12] if committed else 'nothing'}: the registry was changed behind its "
            "log; run `jupyter mlm audit verify`"
        )
    data = store.objects.get(record.digest)  # the object store verifies content against the address
    from ..store.objects import digest_bytes

    if digest_bytes(data) != record.digest:
        raise IntegrityError(f"model {record.model}/{record.version} does not match its digest {record.digest[:12]}")
    if needs_pickle_warning(record, user, trusted, trusted_publishers):
        warnings.warn(
            PICKLE_WARNING.format(ref=f"{record.model}/{record.version}", who=record.created_by, user=user,
                                  where=store.location.display_url),
            UserWarning, stacklevel=warning_depth,
        )  # fmt: skip
    return data, record


def read_profile(store: Store, record: ModelVersionRecord) -> dict[str, Any] | None:
    if record.profile_digest is None:
        return None
    return dict(json.loads(store.objects.get(record.profile_digest)))


@dataclass
class Lineage:
    """Data files → run → notebook snapshot → model version."""

    version: dict[str, Any]
    run: dict[str, Any] | None = None
    notebook: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    data: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data, "run": self.run, "notebook": self.notebook,
            "environment": self.environment, "version": self.version,
        }  # fmt: skip

    def lines(self) -> list[str]:
        out = [f"data: {len(self.data)} file(s)"]
        out += [f"  {d['path']}  {d['digest'][:12]}" for d in self.data]
        if self.run:
            out.append(
                f"run: {self.run['name']} ({self.run['id'][:8]}, {self.run['status']}) in {self.run['experiment']}"
            )
        if self.notebook:
            out.append(
                f"notebook: {self.notebook.get('path') or '(no file)'} snapshot {self.notebook['manifest'][:12]}"
            )
        v = self.version
        out.append(f"version: {v['model']}/{v['version']} {v['flavor']} {v['digest'][:12]}")
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())


def lineage(store: Store, record: ModelVersionRecord) -> Lineage:
    version = {
        "model": record.model, "version": record.version, "digest": record.digest, "flavor": record.flavor,
        "created_by": record.created_by, "created_ms": record.created_ms,
    }  # fmt: skip
    out = Lineage(version=version)
    if record.run_id is None:
        return out
    try:
        run = store.get_run(record.run_id)
    except NotFound:
        return out
    info = run.info
    out.run = {
        "id": info.id, "name": info.name, "experiment": info.experiment, "status": info.status,
        "user": info.user, "start_ms": info.start_ms, "end_ms": info.end_ms,
        "params": run.params, "metrics": {k: m.value for k, m in run.metrics.items()},
    }  # fmt: skip
    from ..capture.snapshot import read_snapshot

    try:
        snapshot = read_snapshot(store, info.id)
    except NotFound:
        return out
    out.notebook = {
        "path": info.notebook_path, "manifest": snapshot.row.manifest_digest, "phase": snapshot.phase,
        "created_ms": snapshot.row.created_ms, "out_of_order": snapshot.out_of_order,
    }  # fmt: skip
    env = snapshot.environment
    out.environment = environment_summary(env)
    out.data = [
        {"path": d["path"], "digest": d["digest"], "size": d.get("size"), "kind": d.get("kind", "file")}
        for d in snapshot.data
    ]
    return out


def environment_summary(env: dict[str, Any]) -> dict[str, Any]:
    python = env.get("python") or {}
    platform = env.get("platform") or {}
    git = env.get("git") or None
    return {
        "python": python.get("version"),
        "platform": platform.get("system") or platform.get("platform"),
        "packages": len(env.get("packages") or {}),
        "imported": dict(sorted((env.get("imported") or {}).items())[:40]),
        "git": git,
    }
