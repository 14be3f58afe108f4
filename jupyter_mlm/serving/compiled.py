"""The arithmetic of common scikit-learn estimators, run without scikit-learn's per-call checks.

For a single row, scikit-learn spends ~450 µs validating its input on every call of a scaler +
logistic regression pipeline (three ``check_array`` passes, feature-name checks, namespace
lookups); the arithmetic itself takes a few microseconds. Serving has already checked the input
against the version's signature and builds a C-contiguous float64 matrix, so for the estimators
below it runs the same numpy operations scikit-learn runs, in the same order.

A compiled model is used only after it gave *exactly* scikit-learn's predictions and
probabilities (``np.array_equal``, bit for bit) on probe rows, one at a time and in a batch;
anything else — another estimator, an option not mirrored here, a different scikit-learn whose
formulas moved — keeps scikit-learn. Rows with NaN or infinities always go to scikit-learn, which
gives its own answer or error for them.

The scalers and linear models are also kept as data (``Step``: arrays and options), which
``compiled_cache`` stores so that a later start can serve before scikit-learn is imported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Matrix = np.ndarray
Transform = Callable[[Matrix], Matrix]
Final = Callable[[Matrix], tuple[Matrix, Matrix | None]]
Sigmoid = Callable[[Matrix], Matrix]

PROBE_ROWS = 256
TRANSFORM_KINDS = ("center_scale", "min_max")
FINAL_KINDS = ("linear", "logistic")


@dataclass(frozen=True)
class Step:
    """One estimator's arithmetic as data: its kind, arrays and scalar options."""

    kind: str
    arrays: dict[str, Matrix]
    options: dict[str, Any] = field(default_factory=dict)

    def same_as(self, other: Step) -> bool:
        return (self.kind == other.kind and self.options == other.options and self.arrays.keys() == other.arrays.keys()
                and all(_identical(a, other.arrays[k]) for k, a in self.arrays.items()))  # fmt: skip


@dataclass(frozen=True)
class Compiled:
    steps: tuple[Transform, ...]
    final: Final
    names: tuple[str, ...]  # the estimators, for /health
    portable: tuple[Step, ...] | None = None  # the same as data, when every step can be (trees cannot)

    def same_form(self, other: Compiled) -> bool:
        """Whether both are the same steps kept as data (the same arrays, bit for bit)."""
        mine, theirs = self.portable, other.portable
        return (mine is not None and theirs is not None and len(mine) == len(theirs)
                and all(a.same_as(b) for a, b in zip(mine, theirs, strict=True)))  # fmt: skip

    def __call__(self, matrix: Matrix) -> tuple[Matrix, Matrix | None]:
        for step in self.steps:
            matrix = step(matrix)
        return self.final(matrix)


def compile_model(model: Any, has_proba: bool, n_features: int) -> Compiled | None:
    """A ``Compiled`` equal to ``model`` on probe rows, or None (serve with scikit-learn)."""
    steps = _steps(model)
    if not steps or any(getattr(s, "_sklearn_output_config", None) for s in steps):
        return None
    described = [_transform_step(step) for step in steps[:-1]]
    if any(d is None for d in described):
        return None
    final_step = _final_step(steps[-1])
    names = tuple(type(s).__name__ for s in steps)
    if final_step is not None:
        from scipy.special import expit

        compiled = build([d for d in described if d is not None] + [final_step], names, expit)
    else:
        final = _forest_final(steps[-1])
        if final is None:
            return None
        transforms = tuple(_build_transform(d) for d in described if d is not None)
        compiled = Compiled(transforms, final, names)
    return compiled if agrees(model, compiled, has_proba, probe_rows(steps[0], n_features)) else None


def build(portable: list[Step] | tuple[Step, ...], names: tuple[str, ...], sigmoid: Sigmoid) -> Compiled:
    """The callable form of steps kept as data (the last one a final step)."""
    *transforms, final = portable
    if final.kind not in FINAL_KINDS or any(t.kind not in TRANSFORM_KINDS for t in transforms):
        raise ValueError(f"not a compiled model: {[t.kind for t in portable]}")
    return Compiled(tuple(_build_transform(t) for t in transforms), _build_final(final, sigmoid), names,
                    tuple(portable))  # fmt: skip


def libm_sigmoid(scores: Matrix) -> Matrix:
    """``1 / (1 + exp(-x))`` with the C library's ``exp``, as scipy's ``expit`` computes it, bit
    for bit (numpy's vectorised ``exp`` differs in the last bit for ~2 % of values): the logistic
    function without importing scipy."""
    exp = math.exp

    def one(value: float) -> float:
        try:
            return 1.0 / (1.0 + exp(-value))
        except OverflowError:  # C's exp gives inf there, and 1 / (1 + inf) is 0
            return 0.0

    values = scores.tolist()
    try:
        return np.array([1.0 / (1.0 + exp(-v)) for v in values], dtype=np.float64)
    except OverflowError:
        return np.array([one(v) for v in values], dtype=np.float64)


def _identical(a: Matrix, b: Matrix) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))


def first_step(model: Any) -> Any:
    """The estimator the rows reach first (the model itself when it is no pipeline)."""
    steps = _steps(model)
    return steps[0] if steps else model


def _steps(model: Any) -> list[Any]:
    return [s for _, s in model.steps if s not in (None, "passthrough")] if _is_pipeline(model) else [model]


def _is_pipeline(model: Any) -> bool:
    return type(model).__module__ == "sklearn.pipeline" and type(model).__name__ == "Pipeline"


def _kind(estimator: Any) -> str:
    """The class, only when it is scikit-learn's own (a subclass may compute differently)."""
    cls = type(estimator)
    return cls.__name__ if cls.__module__.startswith("sklearn.") else ""


def _transform_step(step: Any) -> Step | None:
    kind = _kind(step)
    if kind in ("StandardScaler", "RobustScaler", "MaxAbsScaler"):
        if kind == "StandardScaler":
            center, scale = step.mean_ if step.with_mean else None, step.scale_ if step.with_std else None
        elif kind == "RobustScaler":
            center, scale = step.center_ if step.with_centering else None, step.scale_ if step.with_scaling else None
        else:
            center, scale = None, step.scale_
        arrays = {name: np.asarray(a) for name, a in (("center", center), ("scale", scale)) if a is not None}
        return Step("center_scale", arrays)
    if kind == "MinMaxScaler":
        low, high = step.feature_range
        return Step("min_max", {"scale": np.asarray(step.scale_), "min": np.asarray(step.min_)},
                    {"clip": bool(step.clip), "low": float(low), "high": float(high)})  # fmt: skip
    return None


def _build_transform(step: Step) -> Transform:
    if step.kind == "center_scale":
        center, scale = step.arrays.get("center"), step.arrays.get("scale")
        return lambda X: _center_scale(X, center, scale)
    scale, minimum = step.arrays["scale"], step.arrays["min"]
    clip, low, high = bool(step.options["clip"]), float(step.options["low"]), float(step.options["high"])

    def min_max(X: Matrix) -> Matrix:
        X = X * scale
        X += minimum
        if clip:
            np.clip(X, low, high, out=X)
        return X

    return min_max


def _center_scale(X: Matrix, center: Matrix | None, scale: Matrix | None) -> Matrix:
    X = X.copy()
    if center is not None:
        X -= center
    if scale is not None:
        X /= scale
    return X


def _final_step(estimator: Any) -> Step | None:
    kind = _kind(estimator)
    if kind == "LogisticRegression":
        return Step("logistic", {"coef": np.asarray(estimator.coef_), "intercept": np.asarray(estimator.intercept_),
                                 "classes": np.asarray(estimator.classes_)})  # fmt: skip
    if kind in ("LinearRegression", "Ridge", "Lasso", "ElasticNet", "LassoLars", "BayesianRidge"):
        return Step("linear", {"coef": np.asarray(estimator.coef_), "intercept": np.asarray(estimator.intercept_)})
    return None


def _build_final(step: Step, sigmoid: Sigmoid) -> Final:
    coef_t, intercept = step.arrays["coef"].T, step.arrays["intercept"]
    if step.kind == "linear":
        return lambda X: (X @ coef_t + intercept, None)
    classes = step.arrays["classes"]

    def logistic(X: Matrix) -> tuple[Matrix, Matrix | None]:
        scores = X @ coef_t + intercept
        if scores.shape[1] == 1:
            scores = scores.reshape(-1)
            predictions = classes[(scores > 0).astype(np.intp)]
            positive = sigmoid(scores)
            return predictions, np.stack([1 - positive, positive], axis=1)
        return classes[scores.argmax(axis=1)], _softmax(scores)

    return logistic


def _softmax(scores: Matrix) -> Matrix:
    """scikit-learn's ``softmax`` on a copy, step for step (the largest score taken off first)."""
    X: Matrix = scores.copy()
    X -= X.max(axis=1).reshape((-1, 1))
    np.exp(X, out=X)
    X /= X.sum(axis=1).reshape((-1, 1))
    return X


def _forest_final(estimator: Any) -> Final | None:
    kind = _kind(estimator)
    if kind in ("DecisionTreeClassifier", "DecisionTreeRegressor"):
        return _forest([estimator], estimator, kind.endswith("Classifier"), mean=False)
    if kind in ("RandomForestClassifier", "ExtraTreesClassifier", "RandomForestRegressor", "ExtraTreesRegressor"):
        return _forest(list(estimator.estimators_), estimator, kind.endswith("Classifier"), mean=True)
    return None


def _forest(trees: list[Any], estimator: Any, classifier: bool, mean: bool) -> Final | None:
    if getattr(estimator, "n_outputs_", 1) != 1 or not trees:
        return None
    nodes = [tree.tree_ for tree in trees]
    if classifier:
        classes, width = estimator.classes_, int(estimator.n_classes_)

        def vote(X: Matrix) -> tuple[Matrix, Matrix | None]:
            X32 = np.ascontiguousarray(X, dtype=np.float32)
            if not mean:
                proba = nodes[0].predict(X32)
                return classes.take(np.argmax(proba, axis=1), axis=0), proba[:, :width]
            total = np.zeros((X.shape[0], width), dtype=np.float64)
            for node in nodes:
                total += node.predict(X32)[:, :width]
            total /= len(nodes)
            return classes.take(np.argmax(total, axis=1), axis=0), total

        return vote

    def average(X: Matrix) -> tuple[Matrix, Matrix | None]:
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        if not mean:
            return nodes[0].predict(X32)[:, 0], None
        total = np.zeros(X.shape[0], dtype=np.float64)
        for node in nodes:
            total += node.predict(X32)[:, 0]
        total /= len(nodes)
        return total, None

    return average


def probe_rows(first: Any, n_features: int) -> Matrix:
    """Rows to compare on: around the data's own centre and spread when the first step knows
    them (a scaler), wide normal values otherwise; fixed seed, so a load is repeatable."""
    rng = np.random.default_rng(20261201)
    rows = rng.normal(size=(PROBE_ROWS, n_features))
    centre, spread = getattr(first, "mean_", None), getattr(first, "scale_", None)
    if centre is not None and spread is not None and np.shape(centre) == (n_features,):
        return np.ascontiguousarray(rows * spread + centre)
    return np.ascontiguousarray(rows * 10.0)


def agrees(model: Any, compiled: Compiled, has_proba: bool, probe: Matrix) -> bool:
    import warnings

    import sklearn

    try:
        with sklearn.config_context(skip_parameter_validation=True), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for rows in (probe, probe[:1], probe[1:2]):
                predictions, scores = compiled(rows)
                if not np.array_equal(np.asarray(model.predict(rows)), predictions):
                    return False
                if has_proba != (scores is not None):
                    return False
                if scores is not None and not np.array_equal(np.asarray(model.predict_proba(rows), dtype=float),
                                                             scores):  # fmt: skip
                    return False
    except Exception:
        return False
    return True
