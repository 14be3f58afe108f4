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

INTEGER_KINDS = ("integer",)


@dataclass
class Served:
    record: ModelVersionRecord
    model: Any
    signature: list[tuple[str, str]] | None
    wants_frame: bool
    has_proba: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.record.model}/{self.record.version}"

    def inputs(self, columns: dict[str, list[Any]]) -> Any:
        """What the model's ``predict`` takes, from checked columns."""
        if self.wants_frame:
            import pandas as pd

            frame = {}
            for name, values in columns.items():
                kind = dict(self.signature or []).get(name)
                frame[name] = np.asarray(values, dtype=float) if kind in ("integer", "float") else values
            return pd.DataFrame(frame)
        try:
            return np.asarray(list(columns.values()), dtype=float).T
        except (TypeError, ValueError):
            return np.asarray(list(columns.values()), dtype=object).T

    def predict(self, columns: dict[str, list[Any]]) -> tuple[list[Any], list[list[float]] | None]:
        """Predictions, and class probabilities per row where the model has ``predict_proba``."""
        features = self.inputs(columns)
        predictions = self.model.predict(features)
        scores = None
        if self.has_proba:
            scores = np.asarray(self.model.predict_proba(features), dtype=float).tolist()
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
    )  # fmt: skip


def _has_text(signature: list[tuple[str, str]]) -> bool:
    return any(kind not in ("integer", "float", "boolean") for _, kind in signature)
