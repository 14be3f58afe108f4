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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Matrix = np.ndarray
Transform = Callable[[Matrix], Matrix]
Final = Callable[[Matrix], tuple[Matrix, Matrix | None]]

PROBE_ROWS = 256


@dataclass(frozen=True)
class Compiled:
    steps: tuple[Transform, ...]
    final: Final
    names: tuple[str, ...]  # the estimators, for /health

    def __call__(self, matrix: Matrix) -> tuple[Matrix, Matrix | None]:
        for step in self.steps:
            matrix = step(matrix)
        return self.final(matrix)


def compile_model(model: Any, has_proba: bool, n_features: int) -> Compiled | None:
    """A ``Compiled`` equal to ``model`` on probe rows, or None (serve with scikit-learn)."""
    steps = [s for _, s in model.steps if s not in (None, "passthrough")] if _is_pipeline(model) else [model]
    if not steps:
        return None
    transforms = [_transform(step) for step in steps[:-1]]
    final = _final(steps[-1], has_proba)
    if final is None or any(t is None for t in transforms):
        return None
    compiled = Compiled(tuple(t for t in transforms if t is not None), final, tuple(type(s).__name__ for s in steps))
    return compiled if _agrees(model, compiled, has_proba, _probe(steps[0], n_features)) else None


def _is_pipeline(model: Any) -> bool:
    return type(model).__module__ == "sklearn.pipeline" and type(model).__name__ == "Pipeline"


def _kind(estimator: Any) -> str:
    """The class, only when it is scikit-learn's own (a subclass may compute differently)."""
    cls = type(estimator)
    return cls.__name__ if cls.__module__.startswith("sklearn.") else ""


def _transform(step: Any) -> Transform | None:
    kind = _kind(step)
    if getattr(step, "_sklearn_output_config", None):
        return None
    if kind == "StandardScaler":
        mean = step.mean_ if step.with_mean else None
        scale = step.scale_ if step.with_std else None
        return lambda X: _center_scale(X, mean, scale)
    if kind == "RobustScaler":
        center = step.center_ if step.with_centering else None
        scale = step.scale_ if step.with_scaling else None
        return lambda X: _center_scale(X, center, scale)
    if kind == "MaxAbsScaler":
        return lambda X: _center_scale(X, None, step.scale_)
    if kind == "MinMaxScaler":
        low, high = step.feature_range
        clip = bool(step.clip)

        def min_max(X: Matrix) -> Matrix:
            X = X * step.scale_
            X += step.min_
            if clip:
                np.clip(X, low, high, out=X)
            return X

        return min_max
    return None


def _center_scale(X: Matrix, center: Matrix | None, scale: Matrix | None) -> Matrix:
    X = X.copy()
    if center is not None:
        X -= center
    if scale is not None:
        X /= scale
    return X


def _final(estimator: Any, has_proba: bool) -> Final | None:
    kind = _kind(estimator)
    if getattr(estimator, "_sklearn_output_config", None):
        return None
    if kind == "LogisticRegression":
        return _logistic(estimator)
    if kind in ("LinearRegression", "Ridge", "Lasso", "ElasticNet", "LassoLars", "BayesianRidge"):
        coef_t, intercept = estimator.coef_.T, estimator.intercept_
        return lambda X: (X @ coef_t + intercept, None)
    if kind in ("DecisionTreeClassifier", "DecisionTreeRegressor"):
        return _forest([estimator], estimator, kind.endswith("Classifier"), mean=False)
    if kind in ("RandomForestClassifier", "ExtraTreesClassifier", "RandomForestRegressor", "ExtraTreesRegressor"):
        return _forest(list(estimator.estimators_), estimator, kind.endswith("Classifier"), mean=True)
    return None


def _logistic(estimator: Any) -> Final:
    from scipy.special import expit
    from sklearn.utils.extmath import softmax

    coef_t, intercept, classes = estimator.coef_.T, estimator.intercept_, estimator.classes_

    def logistic(X: Matrix) -> tuple[Matrix, Matrix | None]:
        scores = X @ coef_t + intercept
        if scores.shape[1] == 1:
            scores = scores.reshape(-1)
            predictions = classes[(scores > 0).astype(np.intp)]
            positive = expit(scores)
            return predictions, np.stack([1 - positive, positive], axis=1)
        return classes[scores.argmax(axis=1)], softmax(scores.copy(), copy=False)

    return logistic


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


def _probe(first: Any, n_features: int) -> Matrix:
    """Rows to compare on: around the data's own centre and spread when the first step knows
    them (a scaler), wide normal values otherwise; fixed seed, so a load is repeatable."""
    rng = np.random.default_rng(20261201)
    rows = rng.normal(size=(PROBE_ROWS, n_features))
    centre, spread = getattr(first, "mean_", None), getattr(first, "scale_", None)
    if centre is not None and spread is not None and np.shape(centre) == (n_features,):
        return np.ascontiguousarray(rows * spread + centre)
    return np.ascontiguousarray(rows * 10.0)


def _agrees(model: Any, compiled: Compiled, has_proba: bool, probe: Matrix) -> bool:
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
