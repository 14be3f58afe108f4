"""MLflow in and out: a tracking store's experiments, runs and registered models copied into this
store (``jupyter mlm import-mlflow``) or from it (``jupyter mlm export-mlflow``), and one model
version written as an MLflow model folder (``jupyter mlm export … --format mlflow``) that
MLflow-serving stacks deploy as they are (KServe, Seldon, SageMaker, ``mlflow models serve``).

What is copied: experiments by name; runs with their name, status, start and end times, user,
params, every metric point (step, value, timestamp), tags and artifacts; registered models with
their versions in order (linked to their runs), descriptions, aliases and stages. Copies are
idempotent: a copied run carries the source's id (``mlflow.source_run_id`` here,
``mlm.run_id`` there) and is not copied again. Models are copied through their native flavor
(scikit-learn, XGBoost, LightGBM, ONNX); a version of another flavor is reported, not guessed at.
Stages go through this store's governance: where the policy wants an approval, the import
leaves a request, as a person's transition would.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError

SOURCE_RUN_TAG = "mlflow.source_run_id"  # on runs imported here: the MLflow run they came from
EXPORTED_RUN_TAG = "mlm.run_id"  # on runs exported to MLflow: the run they came from
MLFLOW_STATUS = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "killed", "RUNNING": "killed",
                 "SCHEDULED": "killed"}  # fmt: skip
OUR_STATUS = {"finished": "FINISHED", "failed": "FAILED", "killed": "KILLED", "crashed": "FAILED",
              "running": "RUNNING"}  # fmt: skip
# MLflow's tags about its own bookkeeping, re-made by MLflow on export.
_MLFLOW_OWN = ("mlflow.runName", "mlflow.user", "mlflow.log-model.history")
_NATIVE = ("sklearn", "xgboost", "lightgbm", "onnx")
_OUR_TYPES = {"double": "float", "float": "float", "long": "integer", "integer": "integer", "boolean": "boolean",
              "string": "string"}  # fmt: skip
_MLFLOW_TYPES = {"float": "double", "integer": "long", "boolean": "boolean", "string": "string"}
PAGE = 1000


@dataclass
class CopyReport:
    experiments: int = 0
    runs: int = 0
    skipped_runs: int = 0  # copied before
    metric_points: int = 0
    artifacts: int = 0
    model_versions: int = 0
    aliases: int = 0
    stage_requests: int = 0  # transitions left as approval requests by the policy
    skipped: list[str] = field(default_factory=list)  # what could not be copied, and why

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise UsageError("MLflow interop needs MLflow: pip install mlflow-skinny (or mlflow)") from None
    return mlflow


def _client(tracking_uri: str) -> Any:
    if not isinstance(tracking_uri, str) or not tracking_uri.strip():
        raise UsageError("--tracking-uri takes an MLflow tracking URI such as sqlite:///mlflow.db or http://host:5000")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@contextmanager
def _tracking(tracking_uri: str) -> Iterator[Any]:
    """MLflow's fluent API pointed at ``tracking_uri`` for the duration (it is process-wide)."""
    mlflow = _mlflow()
    previous_tracking, previous_registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # stage APIs are deprecated in MLflow 3, still what many use
            yield mlflow
    finally:
        mlflow.set_tracking_uri(previous_tracking)
        mlflow.set_registry_uri(previous_registry)


# -- into this store -------------------------------------------------------------------------------
def import_mlflow(store: Any, tracking_uri: str, actor: str, experiments: Sequence[str] | None = None) -> CopyReport:
    """Copy an MLflow tracking store's experiments, runs and registered models into ``store``."""
    with _tracking(tracking_uri) as mlflow:
        client = _client(tracking_uri)
        report = CopyReport()
        copied = _imported_runs(store)
        run_map: dict[str, str] = dict(copied)
        from mlflow.entities import ViewType

        for experiment in client.search_experiments(view_type=ViewType.ALL):
            if experiments and experiment.name not in experiments:
                continue
            ours = None  # created with its first run: MLflow's empty "Default" is not copied
            token = None
            while True:
                page = client.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL, max_results=PAGE,
                                          page_token=token, order_by=["attributes.start_time ASC"])  # fmt: skip
                for run in page:
                    if ours is None:
                        ours = store.get_or_create_experiment(experiment.name)
                        report.experiments += 1
                    if run.info.run_id in copied:
                        report.skipped_runs += 1
                        continue
                    run_map[run.info.run_id] = _import_run(store, client, mlflow, run, ours.id, report)
                token = page.token
                if not token:
                    break
        _import_models(store, client, mlflow, run_map, actor, report)
    return report


def _imported_runs(store: Any) -> dict[str, str]:
    """MLflow run id → our run id, for runs imported before."""
    runs, _ = store.search_runs(filter=f"tags.{SOURCE_RUN_TAG} != ''", limit=10_000)
    return {r.tags[SOURCE_RUN_TAG]: r.info.id for r in runs if SOURCE_RUN_TAG in r.tags}


def _import_run(store: Any, client: Any, mlflow: Any, run: Any, experiment_id: str, report: CopyReport) -> str:
    info, data = run.info, run.data
    tags = {k: v for k, v in data.tags.items() if k not in _MLFLOW_OWN}
    name = info.run_name or data.tags.get("mlflow.runName") or info.run_id[:8]
    ours = store.create_run(experiment_id, name, user=info.user_id or data.tags.get("mlflow.user", ""),
                            tags={**tags, SOURCE_RUN_TAG: info.run_id})  # fmt: skip
    if data.params:
        store.log_params(ours.id, dict(data.params))
    batch: dict[str, tuple[list[int], list[float], list[int]]] = {}
    for key in data.metrics:
        history = client.get_metric_history(info.run_id, key)
        batch[key] = ([int(m.step) for m in history], [float(m.value) for m in history],
                      [int(m.timestamp) for m in history])  # fmt: skip
        report.metric_points += len(history)
    if batch:
        store.log_metric_batch(ours.id, batch)
    with tempfile.TemporaryDirectory(prefix="mlm-import-") as folder:
        if client.list_artifacts(info.run_id):
            local = Path(mlflow.artifacts.download_artifacts(run_id=info.run_id, dst_path=folder))
            for path in sorted(p for p in local.rglob("*") if p.is_file()):
                digest = store.objects.put_file(path)
                store.add_artifact(ours.id, path.relative_to(local).as_posix(), digest, path.stat().st_size)
                report.artifacts += 1
    store.end_imported_run(ours.id, MLFLOW_STATUS.get(info.status, "killed"), int(info.start_time or 0),
                           int(info.end_time) if info.end_time else None)  # fmt: skip
    report.runs += 1
    return str(ours.id)


def _flavor_of(mlflow: Any, uri: str) -> str | None:
    flavors = mlflow.models.get_model_info(uri).flavors
    return next((f for f in _NATIVE if f in flavors), None)


def _signature_of(mlflow: Any, uri: str) -> dict[str, Any] | None:
    signature = mlflow.models.get_model_info(uri).signature
    if signature is None or signature.inputs is None:
        return None
    inputs = []
    for spec in signature.inputs.inputs:
        name = getattr(spec, "name", None)
        kind = _OUR_TYPES.get(str(getattr(getattr(spec, "type", None), "name", "")).lower())
        if not name or kind is None:
            return None  # tensors, unnamed or nested inputs: no column signature here
        inputs.append({"name": name, "type": kind})
    return {"inputs": inputs}


def _import_models(store: Any, client: Any, mlflow: Any, run_map: dict[str, str], actor: str,
                   report: CopyReport) -> None:  # fmt: skip
    from ..registry import Governance, register

    governance = Governance(store, actor)
    known = {m.name for m in store.list_models()}
    for registered in client.search_registered_models():
        name = registered.name
        if name in known:
            report.skipped.append(f"model {name!r}: already in this store")
            continue
        versions = sorted(client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))
        ours_by_theirs: dict[str, int] = {}
        for version in versions:
            uri = f"models:/{name}/{version.version}"
            flavor = _flavor_of(mlflow, uri)
            if flavor is None:
                report.skipped.append(f"{name}/{version.version}: no native flavor this store loads ({uri})")
                continue
            model = getattr(mlflow, flavor).load_model(uri)
            source_run = run_map.get(version.run_id or "")
            record = register(store, model, name, run_id=source_run, actor=actor, signature=_signature_of(mlflow, uri),
                              description=version.description or None)  # fmt: skip
            ours_by_theirs[str(version.version)] = record.version
            report.model_versions += 1
            stage = (version.current_stage or "None").lower()
            if stage in ("staging", "production", "archived"):
                moved = governance.transition(name, record.version, stage, comment=f"imported from MLflow ({uri})")
                if not hasattr(moved, "version"):
                    report.stage_requests += 1
        for alias, theirs in (getattr(registered, "aliases", None) or {}).items():
            if str(theirs) in ours_by_theirs:
                governance.set_alias(name, alias, ours_by_theirs[str(theirs)])
                report.aliases += 1


# -- out of this store -----------------------------------------------------------------------------
def export_mlflow(store: Any, tracking_uri: str, actor: str, experiments: Sequence[str] | None = None,
                  artifact_root: str | None = None, trusted: bool = False) -> CopyReport:  # fmt: skip
    """Copy this store's experiments, runs and registered models into an MLflow tracking store."""
    with _tracking(tracking_uri) as mlflow:
        client = _client(tracking_uri)
        report = CopyReport()
        exported = _exported_runs(client)
        run_map: dict[str, str] = dict(exported)
        runs, _ = store.search_runs(experiments=list(experiments) if experiments else None, order_by="start ASC",
                                    limit=10_000)  # fmt: skip
        experiment_ids: dict[str, str] = {}
        for run in runs:
            info = run.info
            if info.experiment not in experiment_ids:
                experiment_ids[info.experiment] = _mlflow_experiment(client, info.experiment, artifact_root)
                report.experiments += 1
            if info.id in exported:
                report.skipped_runs += 1
                continue
            if info.status == "running":
                report.skipped.append(f"run {info.name!r} ({info.id[:8]}): still running")
                continue
            run_map[info.id] = _export_run(store, client, run, experiment_ids[info.experiment], report)
        _export_models(store, client, mlflow, run_map, actor, trusted, report)
    return report


def _exported_runs(client: Any) -> dict[str, str]:
    from mlflow.entities import ViewType

    out: dict[str, str] = {}
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    if not ids:
        return out
    token = None
    while True:
        page = client.search_runs(ids, filter_string=f"tags.`{EXPORTED_RUN_TAG}` != ''", run_view_type=ViewType.ALL,
                                  max_results=PAGE, page_token=token)  # fmt: skip
        out.update({r.data.tags[EXPORTED_RUN_TAG]: r.info.run_id for r in page})
        token = page.token
        if not token:
            return out


def _mlflow_experiment(client: Any, name: str, artifact_root: str | None) -> str:
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    # A folder named by a digest of the name: any experiment name, never a path of its own.
    folder = hashlib.blake2b(name.encode(), digest_size=8).hexdigest()
    location = None if artifact_root is None else f"{artifact_root.rstrip('/')}/{folder}"
    return str(client.create_experiment(name, artifact_location=location))


def _export_run(store: Any, client: Any, run: Any, experiment_id: str, report: CopyReport) -> str:
    from mlflow.entities import Metric, Param

    info = run.info
    tags = {**run.tags, EXPORTED_RUN_TAG: info.id, "mlflow.user": info.user or ""}
    created = client.create_run(experiment_id, start_time=info.start_ms, tags=tags, run_name=info.name)
    their = created.info.run_id
    params = [Param(k, v) for k, v in run.params.items()]
    for i in range(0, len(params), 100):
        client.log_batch(their, params=params[i : i + 100])
    for key in store.metric_keys(info.id):
        series = store.get_metric_series(info.id, key)
        points = [Metric(key, float(v), int(ts), int(s)) for s, v, ts in
                  zip(series.steps, series.values, series.timestamps, strict=True)]  # fmt: skip
        for i in range(0, len(points), 1000):
            client.log_batch(their, metrics=points[i : i + 1000])
        report.metric_points += len(points)
    with tempfile.TemporaryDirectory(prefix="mlm-export-") as folder:
        for artifact in run.artifacts:
            local = Path(folder) / artifact.path
            local.parent.mkdir(parents=True, exist_ok=True)
            with store.objects.open(artifact.digest) as source, open(local, "wb") as target:
                while chunk := source.read(1 << 20):
                    target.write(chunk)
            parent = os.path.dirname(artifact.path) or None
            client.log_artifact(their, str(local), artifact_path=parent)
            report.artifacts += 1
    client.set_terminated(their, status=OUR_STATUS.get(info.status, "FAILED"), end_time=info.end_ms)
    report.runs += 1
    return str(their)


def _export_models(store: Any, client: Any, mlflow: Any, run_map: dict[str, str], actor: str, trusted: bool,
                   report: CopyReport) -> None:  # fmt: skip
    from ..config import MLM, model_cache_dir
    from ..registry import Governance, load

    governance = Governance(store, actor)
    policy = governance.policy()
    publishers = list(MLM().trusted_publishers)
    for model in store.list_models():
        if _registered(client, model.name):
            report.skipped.append(f"model {model.name!r}: already in the MLflow store")
            continue
        versions = store.list_versions(model.name)
        for version in versions:
            loaded, record = load(store, f"{model.name}/{version.version}", policy, actor, model_cache_dir(), trusted,
                                  publishers)  # fmt: skip
            run_id = run_map.get(record.run_id or "")
            started = (
                mlflow.start_run(run_id=run_id)
                if run_id
                else mlflow.start_run(run_name=f"{model.name}-v{version.version}")
            )
            with started:
                info = _log_model(mlflow, loaded, record, model.name)
            if run_id and record.run_id:  # re-opened to log the model: its own end again
                ours = store.get_run_record(record.run_id)
                client.set_terminated(run_id, status=OUR_STATUS.get(ours.status, "FAILED"), end_time=ours.end_ms)
            number = int(info.registered_model_version) if getattr(info, "registered_model_version", None) else None
            if number is None:
                report.skipped.append(f"{model.name}/{version.version}: MLflow did not register it")
                continue
            if record.description:
                client.update_model_version(model.name, str(number), description=record.description)
            if record.stage in ("staging", "production", "archived"):
                client.transition_model_version_stage(model.name, str(number), record.stage.capitalize())
            report.model_versions += 1
            for alias in getattr(record, "aliases", None) or []:
                client.set_registered_model_alias(model.name, alias, str(number))
                report.aliases += 1


def _registered(client: Any, name: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        return False
    return True


def _mlflow_signature(record: Any) -> Any:
    import json

    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = (json.loads(record.signature) if record.signature else {}).get("inputs") or []
    if not inputs or any(spec.get("type") not in _MLFLOW_TYPES for spec in inputs):
        return None
    return ModelSignature(inputs=Schema([ColSpec(_MLFLOW_TYPES[s["type"]], s["name"]) for s in inputs]))


def _flavor_module(mlflow: Any, record: Any) -> Any:
    flavor = str(record.flavor)
    if flavor in ("sklearn", "skops"):
        return mlflow.sklearn
    if flavor in ("xgboost", "lightgbm", "onnx"):
        return getattr(mlflow, flavor)
    raise UsageError(f"{record.model}/{record.version} is a {flavor} model: MLflow export supports scikit-learn "
                     "(pickle or skops), XGBoost, LightGBM and ONNX")  # fmt: skip


def _save_options(module: Any, function: Any, model: Any, record: Any) -> dict[str, Any]:
    """What MLflow's save/log takes for this model: its signature and, where MLflow stores
    scikit-learn models with skops (3.x), the types a reader must trust — this version's, which
    the registry already checked against its digest, so consumers load it without pickle."""
    import inspect

    options: dict[str, Any] = {"signature": _mlflow_signature(record)}
    if module.__name__.endswith(".sklearn") and "skops_trusted_types" in inspect.signature(function).parameters:
        import skops.io

        options["skops_trusted_types"] = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    return options


def _log_model(mlflow: Any, model: Any, record: Any, name: str) -> Any:
    module = _flavor_module(mlflow, record)
    options = _save_options(module, module.log_model, model, record)
    return module.log_model(model, name="model", registered_model_name=name, **options)


def export_model(store: Any, ref: str, directory: str | os.PathLike[str], actor: str, trusted: bool = False) -> Path:
    """Write the version behind ``ref`` as an MLflow model folder (MLmodel, environment files,
    signature) at ``directory`` (which must not exist yet)."""
    from ..config import MLM, model_cache_dir
    from ..registry import Governance, load

    target = Path(directory)
    if target.exists():
        raise UsageError(f"{target} already exists; choose a new folder for the MLflow model")
    mlflow = _mlflow()
    governance = Governance(store, actor)
    model, record = load(store, ref, governance.policy(), actor, model_cache_dir(), trusted,
                         list(MLM().trusted_publishers))  # fmt: skip
    module = _flavor_module(mlflow, record)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module.save_model(model, str(target), **_save_options(module, module.save_model, model, record))
    return target
