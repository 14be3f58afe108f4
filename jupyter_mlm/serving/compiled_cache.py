"""Compiled forms kept between starts, so a server answers before scikit-learn is imported.

Importing scikit-learn is most of a server's start (~1.3 s of ~2 s here: its ``utils.fixes``
imports scipy.stats and pandas). After a version's compiled form agreed with scikit-learn at a
load, its steps are written here as data (numpy arrays, never a pickle) with the probe rows and
the answers they gave; the next start of the same version, with the same numpy, scikit-learn and
scipy, rebuilds it from that file alone and serves at once, while the model itself loads in the
background and the form is compared with a fresh compile of it (``model.Served``).

An entry is named by the version's digest and those library versions, lives in a folder only its
owner can write (a folder or file anyone else could write is ignored), is written atomically,
and is used only when it still gives the answers it recorded on its probe rows, bit for bit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import stat
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .compiled import Compiled, Step, build, libm_sigmoid

FORMAT = 1
FACTS = ("has_proba", "wants_frame", "matrix_ok")  # what serving decides from the model at load
PROBES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "batch": lambda rows: rows,
    "row": lambda rows: np.ascontiguousarray(rows[:1]),
}


def entry_path(cache_dir: Path, digest: str) -> Path:
    identity = json.dumps({"format": FORMAT, "digest": digest, "libraries": _libraries(),
                           "python": sys.version, "machine": platform.machine()}, sort_keys=True)  # fmt: skip
    return cache_dir / "compiled" / (hashlib.sha256(identity.encode()).hexdigest()[:40] + ".npz")


def save(cache_dir: Path, digest: str, compiled: Compiled, facts: dict[str, bool], probe: np.ndarray) -> bool:
    """Keep ``compiled`` (which agreed with the model on ``probe``) for the next start; False
    when it cannot be kept (trees, object arrays, an unwritable folder)."""
    if compiled.portable is None:
        return False
    arrays: dict[str, np.ndarray] = {"probe.rows": probe}
    # A row alone can round differently from the same row in a batch (BLAS picks other kernels):
    # both answers are kept, as both were compared with scikit-learn's.
    for part, rows in PROBES.items():
        predictions, scores = compiled(rows(probe))
        arrays[f"probe.{part}.predictions"] = np.asarray(predictions)
        if scores is not None:
            arrays[f"probe.{part}.scores"] = scores
    steps = []
    for number, step in enumerate(compiled.portable):
        steps.append({"kind": step.kind, "options": step.options, "arrays": sorted(step.arrays)})
        arrays.update({f"step{number}.{name}": array for name, array in step.arrays.items()})
    meta = {"format": FORMAT, "digest": digest, "names": list(compiled.names), "steps": steps,
            "facts": {k: bool(facts[k]) for k in FACTS}}  # fmt: skip
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = entry_path(cache_dir, digest)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".compiled-", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                np.savez(handle, allow_pickle=False, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except (OSError, ValueError):  # ValueError: an object array (classes as Python objects)
        return False
    return True


def read(cache_dir: Path, digest: str, n_features: int) -> tuple[Compiled, dict[str, bool]] | None:
    """The kept compiled form of the version with ``digest`` and what serving decided about it,
    or None (none kept, kept by another account, damaged, or no longer giving its answers)."""
    path = entry_path(cache_dir, digest)
    try:
        if not (_private(path) and _private(path.parent)):
            return None
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        meta = json.loads(arrays.pop("meta").tobytes())
        if meta.get("format") != FORMAT or meta.get("digest") != digest:
            return None
        steps = tuple(
            Step(str(s["kind"]), {name: arrays[f"step{number}.{name}"] for name in s["arrays"]}, dict(s["options"]))
            for number, s in enumerate(meta["steps"])
        )
        compiled = build(steps, tuple(str(n) for n in meta["names"]), libm_sigmoid)
        facts = {k: bool(meta["facts"][k]) for k in FACTS}
        rows = arrays["probe.rows"]
        if rows.ndim != 2 or rows.shape[1] != n_features:
            return None
        for part, subset in PROBES.items():
            predictions, scores = compiled(subset(rows))
            expected = arrays.get(f"probe.{part}.scores")
            if not np.array_equal(predictions, arrays[f"probe.{part}.predictions"]):
                return None
            if (scores is None) != (expected is None) or facts["has_proba"] != (scores is not None):
                return None
            if scores is not None and expected is not None and not np.array_equal(scores, expected):
                return None
    except Exception:  # whatever a damaged file makes numpy or json raise: the model's own load follows
        return None
    return compiled, facts


def discard(cache_dir: Path, digest: str) -> None:
    with contextlib.suppress(OSError):
        entry_path(cache_dir, digest).unlink()


def _private(path: Path) -> bool:
    """Owned by this account and writable by nobody else (as ssh treats its keys' folder)."""
    status = path.stat()
    return status.st_uid == os.getuid() and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _libraries() -> dict[str, str]:
    found: dict[str, Any] = {"numpy": np.__version__}
    for name in ("scikit-learn", "scipy"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found
