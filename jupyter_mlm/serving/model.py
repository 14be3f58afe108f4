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
from .compiled import Compiled, compile_model
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
    # The model only *checks* feature names (numeric scikit-learn estimators fitted on a frame
    # whose columns are the signature's, in order): it computes the same on the float matrix.
    matrix_ok: bool = False
    # The same arithmetic without scikit-learn's per-call checks (see compiled.py), when it
    # agreed with scikit-learn exactly at load.
    compiled: Compiled | None = None

    @property
    def engine(self) -> str:
        return "compiled: " + " → ".join(self.compiled.names) if self.compiled else "model"

    @property
    def ref(self) -> str:
        return f"{self.record.model}/{self.record.version}"

    def inputs(self, rows: Rows) -> Any:
        """What the model's ``predict`` takes: a DataFrame over the float matrix when the model
        was fitted on one (no copy), else the matrix; mixed types always as a DataFrame."""
        if rows.matrix is not None:
            if not self.wants_frame or (self.matrix_ok and rows.names == [n for n, _ in self.signature or []]):
                return rows.matrix
            import pandas as pd

            return pd.DataFrame(rows.matrix, columns=rows.names, copy=False)
        import pandas as pd

        return pd.DataFrame(rows.columns)

    def predict(self, rows: Rows) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions, and class probabilities per row where the model has ``predict_proba``.

        For a scikit-learn Pipeline both come from one pass through its transformers (what
        ``Pipeline.predict`` and ``predict_proba`` each do, done once), then the final step."""
        import contextlib

        features = self.inputs(rows)
        matrix = rows.matrix
        if self.compiled is not None and matrix is not None and features is matrix and np.isfinite(matrix).all():
            return self.compiled(matrix)
        context: Any = contextlib.ExitStack()
        if self.pipeline_final is not None or self.matrix_ok:
            import sklearn

            context.enter_context(sklearn.config_context(skip_parameter_validation=True))
        if self.matrix_ok and features is rows.matrix:
            # scikit-learn notes that the matrix has no column names; the checks were ours.
            context.enter_context(warnings.catch_warnings())
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
        with context:
            model = self.model
            if self.pipeline_final is not None:
                features = self.model[:-1].transform(features) if len(self.model.steps) > 1 else features
                model = self.pipeline_final
            predictions = model.predict(features)
            scores = np.asarray(model.predict_proba(features), dtype=float) if self.has_proba else None
        return np.asarray(predictions), scores


def signature_of(record: ModelVersionRecord) -> list[tuple[str, str]] | None:
    if not record.signature:
        return None
    inputs = json.loads(record.signature).get("inputs") or []
    return [(str(spec["name"]), str(spec.get("type", "float"))) for spec in inputs if "name" in spec] or None


def load_served(store: Store, ref: str, user: str, cache_dir: Path, trusted: bool, publishers: list[str],
                compile_sklearn: bool = True) -> Served:  # fmt: skip
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
    has_proba = callable(getattr(model, "predict_proba", None))
    matrix_ok = _names_only_checked(model, signature)
    compiled = None
    if compile_sklearn and signature and (matrix_ok or not wants_frame) and not _has_text(signature):
        compiled = compile_model(model, has_proba, len(signature))
    return Served(
        record=record, model=model, signature=signature, wants_frame=wants_frame, has_proba=has_proba,
        warnings=[str(w.message) for w in caught], pipeline_final=_pipeline_final(model), matrix_ok=matrix_ok,
        compiled=compiled,
    )  # fmt: skip


# scikit-learn estimators whose use of feature names is a check against the fitted ones (their
# numbers come from the same float array either way). Anything else — ColumnTransformer,
# FunctionTransformer, third-party wrappers — gets the DataFrame it was fitted on.
_MATRIX_MODULES = (
    "sklearn.preprocessing._data", "sklearn.linear_model.", "sklearn.ensemble._forest", "sklearn.tree.",
    "sklearn.svm.", "sklearn.neighbors.", "sklearn.naive_bayes", "sklearn.discriminant_analysis",
    "sklearn.decomposition._pca", "sklearn.impute._base",
)  # fmt: skip


def _names_only_checked(model: Any, signature: list[tuple[str, str]] | None) -> bool:
    if not signature or any(kind not in ("integer", "float") for _, kind in signature):
        return False
    steps = [s for _, s in model.steps] if _pipeline_final(model) is not None else [model]
    if not all(type(s).__module__.startswith(_MATRIX_MODULES) for s in steps if s not in (None, "passthrough")):
        return False
    if any(getattr(s, "_sklearn_output_config", None) for s in steps):
        return False  # set_output(...) changes what the steps hand each other
    fitted = getattr(steps[0], "feature_names_in_", None)
    return fitted is not None and [str(n) for n in fitted] == [n for n, _ in signature]


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
