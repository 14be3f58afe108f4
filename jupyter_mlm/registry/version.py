"""``ModelVersion``: a registered version as users see it, with its lineage and model card."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from ..entities import ModelVersionRecord, StagePolicy
from ..store import Store
from .card import card_html, card_lines, model_card
from .models import Lineage, lineage, read_profile


class ModelVersion:
    """One version of a registered model. Attributes read the store, so they are always current."""

    def __init__(self, store: Store, record: ModelVersionRecord, policy: StagePolicy) -> None:
        self._store = store
        self._record = record
        self._policy = policy

    def _fresh(self) -> ModelVersionRecord:
        self._record = self._store.version_by_id(self._record.id)
        return self._record

    @property
    def name(self) -> str:
        return self._record.model

    @property
    def version(self) -> int:
        return self._record.version

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def stage(self) -> str:
        return self._fresh().stage

    @property
    def aliases(self) -> tuple[str, ...]:
        return self._fresh().aliases

    @property
    def digest(self) -> str:
        return self._record.digest

    @property
    def flavor(self) -> str:
        return self._record.flavor

    @property
    def size(self) -> int:
        return self._record.size

    @property
    def run_id(self) -> str | None:
        return self._record.run_id

    @property
    def created_by(self) -> str:
        return self._record.created_by

    @property
    def created(self) -> datetime:
        return datetime.fromtimestamp(self._record.created_ms / 1000, tz=timezone.utc)

    @property
    def description(self) -> str:
        return self._record.description

    @property
    def signature(self) -> dict[str, Any] | None:
        return json.loads(self._record.signature) if self._record.signature else None

    @property
    def profile(self) -> dict[str, Any] | None:
        """The reference-data profile (row count, per-column type, quantiles, histogram, frequencies)."""
        return read_profile(self._store, self._record)

    def lineage(self) -> Lineage:
        """Data files → run → notebook snapshot → this version."""
        return lineage(self._store, self._record)

    def card(self) -> dict[str, Any]:
        """The model card as a dict: source run metrics and params, data, environment, history, approvals."""
        return model_card(self._store, self._fresh(), self._policy)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelVersion) and other._record.id == self._record.id

    def __hash__(self) -> int:
        return hash(self._record.id)

    def __repr__(self) -> str:
        record = self._fresh()
        aliases = "".join(f" @{a}" for a in record.aliases)
        return f"<ModelVersion {record.model}/{record.version} {record.stage}{aliases} {record.flavor}>"

    def _repr_html_(self) -> str:
        return card_html(self.card())

    def card_text(self) -> str:
        return "\n".join(card_lines(self.card()))
