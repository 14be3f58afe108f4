"""A served version's compiled form kept between starts (``serving.compiled_cache``): the next
start is ready from it before scikit-learn is imported, gives scikit-learn's answers bit for bit,
and a kept form that is damaged, writable by others or different from the model is never
trusted past the model's own load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jupyter_mlm.serving import compiled_cache
from jupyter_mlm.serving.compiled import Step, build, compile_model, libm_sigmoid, probe_rows


def _fitted() -> list[tuple[Any, Any, Any]]:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

    binary = load_breast_cancer(return_X_y=True, as_frame=True)
    multiclass = load_iris(return_X_y=True, as_frame=True)
    regression = load_diabetes(return_X_y=True, as_frame=True)
    models = [
        (make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)), binary),
        (make_pipeline(MinMaxScaler(clip=True), LogisticRegression(max_iter=3000)), multiclass),
        (make_pipeline(RobustScaler(), MaxAbsScaler(), Ridge()), regression),
        (LinearRegression(), regression),
    ]
    return [(model.fit(X, y), X, y) for model, (X, y) in models]


def test_kept_forms_read_back_give_scikit_learns_answers_bit_for_bit(tmp_path: Path) -> None:
    for model, X, _ in _fitted():
        has_proba = hasattr(model, "predict_proba")
        compiled = compile_model(model, has_proba, X.shape[1])
        assert compiled is not None and compiled.portable is not None, model
        facts = {"has_proba": has_proba, "wants_frame": True, "matrix_ok": True}
        first = model.steps[0][1] if hasattr(model, "steps") else model
        assert compiled_cache.save(tmp_path, "d" * 64, compiled, facts, probe_rows(first, X.shape[1]))
        kept = compiled_cache.read(tmp_path, "d" * 64, X.shape[1])
        assert kept is not None and kept[1] == facts
        rows = np.ascontiguousarray(X.to_numpy(dtype=float))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for subset in (rows, rows[:1], rows[5:6], rows[:33]):
                predictions, scores = kept[0](subset)
                assert np.array_equal(predictions, model.predict(subset)), compiled.names
                assert (scores is None) == (not has_proba)
                if scores is not None:
                    assert np.array_equal(scores, model.predict_proba(subset)), compiled.names
    entry = compiled_cache.entry_path(tmp_path, "d" * 64)
    assert entry.stat().st_mode & 0o777 == 0o600 and entry.parent.stat().st_mode & 0o777 == 0o700
    assert compiled_cache.read(tmp_path, "e" * 64, 4) is None  # another version: nothing kept


def test_trees_are_not_kept_and_the_logistic_function_without_scipy_is_scipys() -> None:
    from scipy.special import expit
    from sklearn.datasets import load_breast_cancer
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_breast_cancer(return_X_y=True)
    tree = compile_model(DecisionTreeClassifier(random_state=0).fit(X, y), True, X.shape[1])
    assert tree is not None and tree.portable is None
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(size=20_000) * s for s in (1, 30, 800)] + [np.array([-1e4, 1e4, 0.0])])
    assert np.array_equal(libm_sigmoid(values), expit(values))


def _register(tmp_path: Path) -> tuple[Any, str, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from jupyter_mlm.registry import register
    from jupyter_mlm.store import open_store

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    store = open_store(str(tmp_path / "store"), str(tmp_path / "objects"))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).fit(X, y)
    record = register(store, model, "cancer", run_id=None, actor="tester", reference_data=X)
    return store, f"cancer/{record.version}", X


def _rows(X: Any, ref: str, signature: Any, count: int = 5) -> Any:
    from jupyter_mlm.serving.inputs import read_rows

    body = json.dumps({"dataframe_split": {"columns": list(X.columns), "data": X.iloc[:count].to_numpy().tolist()}})
    return read_rows(body.encode(), "application/json", signature, ref)


def test_a_second_start_is_ready_from_the_kept_form_before_scikit_learn_is_imported(tmp_path: Path) -> None:
    from jupyter_mlm.serving.model import load_served

    store, ref, X = _register(tmp_path)
    first = load_served(store, ref, "tester", tmp_path / "cache", True, [])
    assert not first.from_kept_form and first.model_loaded
    digest = first.record.digest
    store.close()
    # A new interpreter, where importing scikit-learn waits at a gate until the kept form has
    # answered: the answer cannot have come from scikit-learn.
    script = textwrap.dedent(f"""
        import json, sys, threading
        gate, reached = threading.Event(), threading.Event()
        class Gate:
            def find_spec(self, name, path=None, target=None):
                if name == "sklearn":
                    reached.set()
                    gate.wait()
                return None
        sys.meta_path.insert(0, Gate())
        from jupyter_mlm.serving.inputs import read_rows
        from jupyter_mlm.serving.model import load_served
        from jupyter_mlm.store import open_store
        store = open_store({str(tmp_path / "store")!r}, {str(tmp_path / "objects")!r})
        served = load_served(store, {ref!r}, "tester", __import__("pathlib").Path({str(tmp_path / "cache")!r}),
                             True, [])
        body = sys.stdin.buffer.read()
        predictions, scores = served.predict(read_rows(body, "application/json", served.signature, {ref!r}))
        reached.wait(60)  # the background load has begun, and waits at the gate
        before = dict(kept=served.from_kept_form, loaded=served.model_loaded, sklearn="sklearn" in sys.modules,
                      engine=served.engine, switch=sys.getswitchinterval())
        gate.set()
        served.loaded.wait(120)
        print(json.dumps(dict(before=before, loaded=served.model_loaded, predictions=predictions.tolist(),
                              scores=scores.tolist(), engine=served.engine, switch=sys.getswitchinterval())))
    """)
    body = json.dumps({"dataframe_split": {"columns": list(X.columns), "data": X.iloc[:5].to_numpy().tolist()}})
    done = subprocess.run([sys.executable, "-c", script], input=body.encode(), capture_output=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"}, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout)
    # While the model loads, requests take the GIL back sooner; afterwards the default returns.
    assert out["before"] == {"kept": True, "loaded": False, "sklearn": False, "switch": 0.0005,
                             "engine": "compiled: StandardScaler → LogisticRegression"}  # fmt: skip
    assert out["loaded"] and out["engine"] == "compiled: StandardScaler → LogisticRegression"
    assert out["switch"] == 0.005
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = first.model
        rows = X.iloc[:5].to_numpy()
        assert np.array_equal(np.asarray(out["predictions"]), model.predict(rows))
        assert np.array_equal(np.asarray(out["scores"]), model.predict_proba(rows))
    assert compiled_cache.read(tmp_path / "cache", digest, X.shape[1]) is not None


def test_rows_only_the_model_can_answer_wait_for_it_and_get_its_own_error(tmp_path: Path) -> None:
    from jupyter_mlm.serving.model import load_served

    store, ref, X = _register(tmp_path)
    load_served(store, ref, "tester", tmp_path / "cache", True, [])
    served = load_served(store, ref, "tester", tmp_path / "cache", True, [])
    assert served.from_kept_form
    rows = _rows(X, ref, served.signature)
    rows.matrix[0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):  # scikit-learn's refusal, after waiting for the model
        served.predict(rows)
    assert served.model_loaded
    store.close()


def test_a_kept_form_that_differs_from_the_model_serves_no_longer_than_the_models_load(tmp_path: Path) -> None:
    from jupyter_mlm.serving.model import load_served

    store, ref, X = _register(tmp_path)
    genuine = load_served(store, ref, "tester", tmp_path / "cache", True, [])
    digest, n = genuine.record.digest, X.shape[1]
    kept = compiled_cache.read(tmp_path / "cache", digest, n)
    assert kept is not None and kept[0].portable is not None
    # Written by someone who can write the cache: consistent with itself (its probe answers are
    # its own), but a coefficient moved.
    *scalers, final = kept[0].portable
    coef = final.arrays["coef"].copy()
    coef[0, 0] += 5.0
    forged = build([*scalers, Step(final.kind, {**final.arrays, "coef": coef}, final.options)], kept[0].names,
                   libm_sigmoid)  # fmt: skip
    first = genuine.model.steps[0][1]
    assert compiled_cache.save(tmp_path / "cache", digest, forged, kept[1], probe_rows(first, n))
    heard: list[str] = []
    served = load_served(store, ref, "tester", tmp_path / "cache", True, [], notify=heard.append)
    assert served.from_kept_form
    assert served.loaded.wait(120) and served.model_loaded
    assert any("differed from the model's own" in text for text in heard), heard
    rows = _rows(X, ref, served.signature, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, scores = served.predict(rows)
        assert np.array_equal(scores, genuine.model.predict_proba(rows.matrix))
    rewritten = compiled_cache.read(tmp_path / "cache", digest, n)  # the model's own form replaced it
    assert rewritten is not None and rewritten[0].portable is not None
    assert rewritten[0].same_form(kept[0]) and not rewritten[0].same_form(forged)
    store.close()


def test_damaged_or_shared_kept_forms_are_ignored(tmp_path: Path) -> None:
    from jupyter_mlm.serving.model import load_served

    store, ref, _ = _register(tmp_path)
    genuine = load_served(store, ref, "tester", tmp_path / "cache", True, [])
    entry = compiled_cache.entry_path(tmp_path / "cache", genuine.record.digest)
    whole = entry.read_bytes()
    entry.write_bytes(whole[: len(whole) // 2])
    served = load_served(store, ref, "tester", tmp_path / "cache", True, [])
    assert not served.from_kept_form and served.model_loaded  # the model's own load, which keeps a new form
    assert compiled_cache.read(tmp_path / "cache", genuine.record.digest, len(genuine.signature or [])) is not None
    entry.chmod(0o620)  # writable by its group: anyone there could have changed it
    assert not load_served(store, ref, "tester", tmp_path / "cache", True, []).from_kept_form
    entry.chmod(0o600)
    entry.parent.chmod(0o777)
    assert not load_served(store, ref, "tester", tmp_path / "cache", True, []).from_kept_form
    entry.parent.chmod(0o700)
    assert load_served(store, ref, "tester", tmp_path / "cache", True, []).from_kept_form
    assert not load_served(store, ref, "tester", tmp_path / "cache", True, [], compile_sklearn=False).from_kept_form
    store.close()
