"""One loaded model version, ready to predict: the registry's digest-checked load, the
version's signature, and how the model wants its inputs (a DataFrame when it was fitted on one,
else a 2-D array in signature order).

A version whose compiled form was kept at an earlier load (``compiled_cache``) is ready from that
form at once; the model loads in a background thread, and its fresh compile replaces the kept
form — or, should the two differ, the kept one is discarded and the model's own answers serve."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..entities import ModelVersionRecord
from ..store import Store
from . import compiled_cache
from .compiled import Compiled, compile_model, first_step, probe_rows
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
    # Set once ``model`` is loaded; a version served from its kept compiled form loads it in the
    # background, and rows only the model can answer (NaN, text) wait for it.
    loaded: threading.Event = field(default_factory=threading.Event)
    load_error: str = ""
    from_kept_form: bool = False  # ready from the compiled form an earlier load kept

    @property
    def engine(self) -> str:
        return "compiled: " + " → ".join(self.compiled.names) if self.compiled else "model"

    @property
    def model_loaded(self) -> bool:
        return self.loaded.is_set() and not self.load_error

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

        compiled, matrix = self.compiled, rows.matrix
        if compiled is not None and matrix is not None and np.isfinite(matrix).all() and self._matrix_fits(rows):
            return compiled(matrix)
        self.loaded.wait()
        if self.load_error:
            raise RuntimeError(self.load_error)
        features = self.inputs(rows)
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

    def _matrix_fits(self, rows: Rows) -> bool:
        """Whether the model takes the float matrix as it is (what ``inputs`` would hand it)."""
        return not self.wants_frame or (self.matrix_ok and rows.names == [n for n, _ in self.signature or []])


def signature_of(record: ModelVersionRecord) -> list[tuple[str, str]] | None:
    if not record.signature:
        return None
    inputs = json.loads(record.signature).get("inputs") or []
    return [(str(spec["name"]), str(spec.get("type", "float"))) for spec in inputs if "name" in spec] or None


def load_served(store: Store, ref: str, user: str, cache_dir: Path, trusted: bool, publishers: list[str],
                compile_sklearn: bool = True, notify: Callable[[str], None] | None = None) -> Served:  # fmt: skip
    """Load ``ref`` through the registry (bytes checked against the digest the audit log
    committed before anything is deserialised). ``notify`` hears what the background load of a
    version served from its kept compiled form found (stderr by default)."""
    from ..registry import Governance
    from ..registry.models import deserialize_verified, fetch_verified

    policy = Governance(store, user).policy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data, record = fetch_verified(store, ref, policy, user, trusted, publishers)
        signature = signature_of(record)
        kept = None
        if compile_sklearn and signature and not _has_text(signature):
            kept = compiled_cache.read(cache_dir, record.digest, len(signature))
        if kept is None:
            model = deserialize_verified(data, record, cache_dir, trusted)
            served = _served(record, model, signature, [str(w.message) for w in caught], compile_sklearn)
            if compile_sklearn:
                _keep(served, cache_dir)
            return served
    compiled, facts = kept
    served = Served(record=record, model=None, signature=signature, wants_frame=facts["wants_frame"],
                    has_proba=facts["has_proba"], warnings=[str(w.message) for w in caught],
                    matrix_ok=facts["matrix_ok"], compiled=compiled, from_kept_form=True)  # fmt: skip
    report = notify or (lambda text: print(f"jupyter mlm serve: {text}", file=sys.stderr, flush=True))

    def load_in_background() -> None:
        try:
            with _requests_first(), warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always")
                model = deserialize_verified(data, record, cache_dir, trusted)
            for warning in said:
                report(str(warning.message))
            fresh = _served(record, model, signature, [], True)
        except Exception as error:  # the kept form still answers what it can; the rest fails clearly
            served.load_error = f"{served.ref} could not be loaded: {type(error).__name__}: {error}"
            report(served.load_error)
            served.loaded.set()
            return
        same = (fresh.compiled is not None and fresh.compiled.same_form(compiled)
                and all(getattr(fresh, k) == facts[k] for k in compiled_cache.FACTS))  # fmt: skip
        served.model, served.pipeline_final = fresh.model, fresh.pipeline_final
        served.wants_frame, served.has_proba, served.matrix_ok = fresh.wants_frame, fresh.has_proba, fresh.matrix_ok
        served.compiled = fresh.compiled  # one assignment: a request uses the kept form or the fresh one
        if not same:
            compiled_cache.discard(cache_dir, record.digest)
            _keep(fresh, cache_dir)
            report(f"{served.ref}: the kept compiled form differed from the model's own; replaced, now "
                   f"serving {served.engine}")  # fmt: skip
        served.loaded.set()

    threading.Thread(target=load_in_background, name=f"mlm-load-{record.version}", daemon=True).start()
    return served


class _RequestsFirst:
    """While a model loads behind a kept form (importing scikit-learn is Python code that holds
    the GIL), the serving thread takes the GIL back after 0.5 ms instead of the default 5 ms:
    requests answered meanwhile wait less, the load takes a little longer. Loads may overlap
    (a primary and its shadow): the interval is restored when the last one ends."""

    SWITCH_SECONDS = 0.0005

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._saved = 0.0

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, self.SWITCH_SECONDS))
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    sys.setswitchinterval(self._saved)


_requests_first = _RequestsFirst()


def _served(record: ModelVersionRecord, model: Any, signature: list[tuple[str, str]] | None, said: list[str],
            compile_sklearn: bool) -> Served:  # fmt: skip
    if not callable(getattr(model, "predict", None)):
        from ..errors import UsageError

        raise UsageError(f"{record.model}/{record.version} ({record.flavor}) has no predict method to serve")
    fitted_names = getattr(model, "feature_names_in_", None)
    wants_frame = fitted_names is not None or (signature is not None and _has_text(signature))
    has_proba = callable(getattr(model, "predict_proba", None))
    matrix_ok = _names_only_checked(model, signature)
    compiled = None
    if compile_sklearn and signature and (matrix_ok or not wants_frame) and not _has_text(signature):
        compiled = compile_model(model, has_proba, len(signature))
    served = Served(
        record=record, model=model, signature=signature, wants_frame=wants_frame, has_proba=has_proba,
        warnings=said, pipeline_final=_pipeline_final(model), matrix_ok=matrix_ok, compiled=compiled,
    )  # fmt: skip
    served.loaded.set()
    return served


def _keep(served: Served, cache_dir: Path) -> None:
    """Keep ``served``'s compiled form for the next start, when it has one that can be kept."""
    if served.compiled is None or served.compiled.portable is None or not served.signature:
        return
    facts = {k: bool(getattr(served, k)) for k in compiled_cache.FACTS}
    probe = probe_rows(first_step(served.model), len(served.signature))
    compiled_cache.save(cache_dir, served.record.digest, served.compiled, facts, probe)


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
