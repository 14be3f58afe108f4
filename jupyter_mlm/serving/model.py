"""One loaded model version, ready to predict: the registry's digest-checked load, the
version's signature, and how the model wants its inputs (a DataFrame when it was fitted on one,
else a 2-D array in signature order)."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..entities import ModelVersionRecord
from ..store import Store
from .inputs import Rows

INTEGER_KINDS = ("integer",)


@dataclass
class Served:
    record: ModelVersionRecord
    model: Any
    signature: list[tuple[str, str]] | None
    wants_frame: bool
    has_proba: bool
    warnings: list[str] = field(default_factory=list)
    pipeline_final: Any = None  # the last step, when the model is a plain scikit-learn Pipeline

    @property
    def ref(self) -> str:
        return f"{self.record.model}/{self.record.version}"

    def inputs(self, rows: Rows) -> Any:
        """What the model's ``predict`` takes: a DataFrame over the float matrix when the model
        was fitted on one (no copy), else the matrix; mixed types always as a DataFrame."""
        if rows.matrix is not None:
            if not self.wants_frame:
                return rows.matrix
            import pandas as pd

            return pd.DataFrame(rows.matrix, columns=rows.names, copy=False)
        import pandas as pd

        return pd.DataFrame(rows.columns)

    def predict(self, rows: Rows) -> tuple[list[Any], list[list[float]] | None]:
        """Predictions, and class probabilities per row where the model has ``predict_proba``.

        For a scikit-learn Pipeline both come from one pass through its transformers (what
        ``Pipeline.predict`` and ``predict_proba`` each do, done once), then the final step."""
        import contextlib

        features = self.inputs(rows)
        context: Any = contextlib.nullcontext()
        if self.pipeline_final is not None:
            import sklearn

            context = sklearn.config_context(skip_parameter_validation=True)
        with context:
            model = self.model
            if self.pipeline_final is not None:
                features = self.model[:-1].transform(features) if len(self.model.steps) > 1 else features
                model = self.pipeline_final
            predictions = model.predict(features)
            scores = np.asarray(model.predict_proba(features), dtype=float).tolist() if self.has_proba else None
        return np.asarray(predictions).tolist(), scores


def signature_of(record: ModelVersionRecord) -> list[tuple[str, str]] | None:
    if not record.signature:
        return None
    inputs = json.loads(record.signature).get("inputs") or []
    return [(str(spec["name"]), str(spec.get("type", "float"))) for spec in inputs if "name" in spec] or None


def load_served(store: Store, ref: str, user: str, cache_dir: Path, trusted: bool, publishers: list[str]) -> Served:
    """Load ``ref`` through the registry (bytes checked against the digest the audit log
    committed before anything is deserialised)."""
    from ..registry import Governance, load

    policy = Governance(store, user).policy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, record = load(store, ref, policy, user, cache_dir, trusted, publishers)
    if not callable(getattr(model, "predict", None)):
        from ..errors import UsageError

        raise UsageError(f"{record.model}/{record.version} ({record.flavor}) has no predict method to serve")
    signature = signature_of(record)
    fitted_names = getattr(model, "feature_names_in_", None)
    wants_frame = fitted_names is not None or (signature is not None and _has_text(signature))
    return Served(
        record=record, model=model, signature=signature, wants_frame=wants_frame,
        has_proba=callable(getattr(model, "predict_proba", None)), warnings=[str(w.message) for w in caught],
        pipeline_final=_pipeline_final(model),
    )  # fmt: skip


def _pipeline_final(model: Any) -> Any:
    """The final step of a scikit-learn Pipeline that may be run step by step: a Pipeline itself
    (not a subclass, which may predict differently), without metadata routing."""
    if type(model).__module__ != "sklearn.pipeline" or type(model).__name__ != "Pipeline":
        return None
    import sklearn

    if sklearn.get_config().get("enable_metadata_routing"):
        return None
    final = model.steps[-1][1]
    return final if callable(getattr(final, "predict", None)) else None


def _has_text(signature: list[tuple[str, str]]) -> bool:
    return any(kind not in ("integer", "float", "boolean") for _, kind in signature)
