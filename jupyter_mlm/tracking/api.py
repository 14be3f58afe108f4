"""The Python tracking API (``import jupyter_mlm as mlm``): thin functions over the session and store."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..entities import Metric
from ..errors import NotFound, UsageError
from ..validation import check_key
from .run import Run
from .session import SESSION


def start_run(
    name: str | None = None,
    experiment: str | None = None,
    tags: Mapping[str, Any] | None = None,
    parent: str | Run | None = None,
) -> Run:
    """Start a run and make it the active one.

    Args:
        name: run name; defaults to the notebook's (or script's) name.
        experiment: experiment name, created if missing; when None, the parent's (for a nested run)
            or ``Default``.
        tags: initial tags.
        parent: a run (or its id/name) to nest this run under; the parent becomes active again
            when this run ends.

    Returns:
        The ``Run``; use it as a context manager to end it automatically (``failed`` on error).
    """
    parent_ref = parent.id if isinstance(parent, Run) else parent
    return Run(SESSION.start_run(name, experiment, tags, parent_ref))


def end_run(status: str = "finished") -> Run | None:
    """End the active run (``finished``, ``failed`` or ``killed``); returns it, or None if none was active."""
    ended = SESSION.end_run(status)
    return Run(ended) if ended is not None else None


def active_run() -> Run | None:
    """The active run, or None."""
    record = SESSION.active
    return Run(record) if record is not None else None


def log_param(key: str, value: Any) -> None:
    """Log one param to the active run (started implicitly if none). Params cannot change value."""
    SESSION.store.log_params(SESSION.ensure_run().id, {key: value})


def log_params(params: Mapping[str, Any]) -> None:
    """Log several params at once; if any conflicts, none is written."""
    SESSION.store.log_params(SESSION.ensure_run().id, params)


def log_metric(key: str, value: float, step: int | None = None, timestamp: int | None = None) -> None:
    """Log one metric point. Buffered: costs about a microsecond; written in batches.

    Args:
        key: metric name. value: a number (bools and strings are refused).
        step: integer step; defaults to one more than this metric's previous step (0 first).
        timestamp: milliseconds since the epoch; defaults to now.
    """
    SESSION.log_metric(key, value, step, timestamp)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log several metrics at the same step. All are validated before any is buffered."""
    if not isinstance(metrics, Mapping):
        raise UsageError("log_metrics takes a dict of name → number")
    from ..validation import metric_value

    checked = {check_key(k, "metric name"): metric_value(k, v) for k, v in metrics.items()}
    for key, value in checked.items():
        SESSION.log_metric(key, value, step)


def set_tag(key: str, value: Any) -> None:
    SESSION.store.set_tags(SESSION.ensure_run().id, {key: value})


def set_tags(tags: Mapping[str, Any]) -> None:
    SESSION.store.set_tags(SESSION.ensure_run().id, tags)


def _store_artifact(data: bytes, name: str) -> str:
    run_id = SESSION.ensure_run().id
    store = SESSION.store
    digest = store.objects.put_bytes(data)
    return store.add_artifact(run_id, name, digest, len(data)).path


def log_artifact(path: str | os.PathLike[str], name: str | None = None) -> list[str]:
    """Store a file, or every file of a folder, as artifacts of the active run.

    Args:
        path: a file or folder on disk.
        name: artifact path in the run; defaults to the file or folder name.

    Returns:
        The artifact paths recorded.
    """
    source = Path(path)
    if not source.exists():
        raise NotFound(f"cannot log artifact {os.fspath(path)!r}: no such file or folder")
    target = name if name is not None else source.name
    run_id = SESSION.ensure_run().id
    store = SESSION.store
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    root = source.resolve()
    for file in files:
        # A link out of the folder would smuggle in a file the user never chose to log.
        if file != source and not file.resolve().is_relative_to(root):
            raise UsageError(f"{os.fspath(file)!r} links outside {os.fspath(path)!r}; log that file explicitly instead")
    if not files:
        raise UsageError(f"folder {os.fspath(path)!r} holds no files to log")
    from ..capture.data import RECORDER

    recorded = []
    with RECORDER.paused():  # storing an output is not reading an input
        for file in files:
            artifact_path = target if file == source else f"{target}/{file.relative_to(source).as_posix()}"
            digest = store.objects.put_file(file)
            recorded.append(store.add_artifact(run_id, artifact_path, digest, file.stat().st_size).path)
    return recorded


def log_text(text: str, name: str) -> str:
    """Store ``text`` (UTF-8) as an artifact called ``name``."""
    if not isinstance(text, str):
        raise UsageError("log_text takes a str; use log_artifact for files or log_dict for objects")
    return _store_artifact(text.encode("utf-8"), name)


def log_dict(obj: Any, name: str) -> str:
    """Store a JSON-serialisable object as a JSON artifact called ``name``."""
    try:
        data = json.dumps(obj, indent=2, sort_keys=True, allow_nan=True).encode("utf-8")
    except TypeError as exc:
        raise UsageError(f"log_dict needs a JSON-serialisable object: {exc}") from None
    return _store_artifact(data, name)


def log_figure(fig: Any, name: str) -> str:
    """Store a matplotlib figure as a PNG artifact (or SVG/PDF by ``name``'s extension)."""
    if not hasattr(fig, "savefig"):
        raise UsageError("log_figure takes a matplotlib Figure (something with .savefig)")
    fmt = Path(name).suffix.lstrip(".").lower() or "png"
    if fmt not in ("png", "svg", "pdf", "jpg", "jpeg"):
        raise UsageError(f"log_figure writes png, svg, pdf or jpg; {name!r} asks for {fmt!r}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, bbox_inches="tight")
    return _store_artifact(buffer.getvalue(), name if Path(name).suffix else f"{name}.png")


def log_data(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Record a data file or folder the run uses (for data read by native code, which the
    automatic ``open`` tracking cannot see). Returns its entry: path, digest, size, files.
    """
    return SESSION.log_data(path)


def flush() -> int:
    """Write buffered metric points now; returns how many were written."""
    return SESSION.flush()


def get_run(ref: str | Run) -> Run:
    """A run by id, unique id prefix, or name (the newest run with that name)."""
    SESSION.flush()
    return Run(SESSION.store.resolve_run(ref.id if isinstance(ref, Run) else ref))


def get_metric_history(run: str | Run, key: str) -> list[Metric]:
    """Every point logged for ``key`` in ``run``, in logging order."""
    SESSION.flush()
    run_id = get_run(run).id
    return SESSION.store.get_metric_series(run_id, key).points()


def search_runs(
    experiment: str | Iterable[str] | None = None,
    filter: str | None = None,
    order_by: str | list[str] | None = None,
    limit: int | None = None,
) -> Any:
    """Runs matching a filter, as a pandas DataFrame (a list of dicts without pandas).

    Args:
        experiment: an experiment name or several; all when None.
        filter: e.g. ``"metrics.auc > 0.8 and params.model = 'xgb' and status = 'finished'"``.
            Fields: ``params.X``, ``metrics.X`` (last value), ``tags.X``, ``status``, ``name``;
            operators ``= != < <= > >=``, ``in (…)``, ``like``, ``is [not] null``; conditions
            joined by ``and``/``or``, grouped with parentheses, negated with ``not``
            (the grammar: ``jupyter_mlm.store.filter``). Deleted runs are left out.
        order_by: e.g. ``"metrics.auc DESC"`` or a list of such; default newest first.
        limit: at most this many runs.
    """
    SESSION.flush()
    runs, _ = SESSION.store.search_runs(experiment, filter, order_by, limit)
    rows = []
    for data in runs:
        info = data.info
        row: dict[str, Any] = {
            "run_id": info.id,
            "name": info.name,
            "experiment": info.experiment,
            "status": info.status,
            "start": info.start_ms,
            "end": info.end_ms,
            "user": info.user,
        }
        row.update({f"params.{k}": v for k, v in data.params.items()})
        row.update({f"metrics.{k}": m.value for k, m in data.metrics.items()})
        row.update({f"tags.{k}": v for k, v in data.tags.items()})
        rows.append(row)
    try:
        import pandas as pd
    except ImportError:
        return rows
    frame = pd.DataFrame(rows, columns=None if rows else ["run_id", "name", "experiment", "status", "start", "end"])
    for column in ("start", "end"):
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
    return frame


def group_runs(
    by: str,
    experiment: str | Iterable[str] | None = None,
    filter: str | None = None,
    metrics: Iterable[str] | None = None,
) -> Any:
    """Runs grouped by one field, with how many each group holds and the mean, min and max of
    every metric's last value, as a pandas DataFrame (a list of dicts without pandas).

    Args:
        by: ``"experiment"``, ``"status"``, ``"user"``, ``"params.X"`` or ``"tags.X"``.
        experiment, filter: which runs, as in ``search_runs``.
        metrics: the metric keys to summarise (all when None).

    One row per value (numeric order when all values are numbers; runs without the field last,
    as None) with columns ``by``, ``runs``, and ``metrics.K.mean``, ``.min``, ``.max`` per key.
    """
    SESSION.flush()
    groups, _ = SESSION.store.group_runs(by, experiment, filter, False, metrics)
    rows = []
    for group in groups:
        row: dict[str, Any] = {by: group.value, "runs": group.runs}
        for key, summary in group.metrics.items():
            row.update({f"metrics.{key}.mean": summary.mean, f"metrics.{key}.min": summary.min,
                        f"metrics.{key}.max": summary.max})  # fmt: skip
        rows.append(row)
    try:
        import pandas as pd
    except ImportError:
        return rows
    return pd.DataFrame(rows, columns=None if rows else [by, "runs"])


def restore(run: str | Run, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write the notebook of ``run``'s snapshot to ``path``, and the local source files it imported
    beside it (a differing existing file is kept unless ``overwrite``); returns the path."""
    from ..capture.reproduce import restore as restore_notebook

    SESSION.flush()
    report: list[str] = []
    written = restore_notebook(SESSION.store, run.id if isinstance(run, Run) else run, path, overwrite, report)
    for line in report[1:]:
        print(line)
    return written


def check(run: str | Run) -> Any:
    """A ``CheckReport`` of the data files and packages that differ from ``run``'s snapshot now."""
    from ..capture.reproduce import check as check_run

    SESSION.flush()
    return check_run(SESSION.store, run.id if isinstance(run, Run) else run)


def reproduce(run: str | Run, timeout: int = 600) -> Any:
    """Re-execute ``run``'s notebook in a new kernel; returns a ``Reproduction`` (new run, metric deltas)."""
    from ..capture.reproduce import reproduce as reproduce_run

    SESSION.flush()
    return reproduce_run(SESSION.store, run.id if isinstance(run, Run) else run, timeout)


def set_metric_direction(key: str, direction: str) -> None:
    """Declare whether lower (``"min"``) or higher (``"max"``) is better for metric ``key`` in the
    active run, so diffs can say better or worse."""
    from ..diffs.runs import DIRECTION_TAG

    check_key(key, "metric name")
    if direction not in ("min", "max"):
        raise UsageError(f"metric direction must be 'min' or 'max', not {direction!r}")
    SESSION.store.set_tags(SESSION.ensure_run().id, {DIRECTION_TAG + key: direction})


def diff(a: str | Run, b: str | Run, strict: bool = False) -> Any:
    """A ``RunDiff`` of two runs (ids, id prefixes, names or ``Run``s): params, metrics, tags,
    environment, data, execution log, source files and notebook. Renders as HTML;
    ``.to_dict()`` for JSON. ``strict=True`` also shows volatile notebook fields (execution
    counts, timings, widget state, …; the list is in ``jupyter_mlm.diffs.volatile``)."""
    from ..diffs.runs import diff_runs

    if not isinstance(strict, bool):
        raise UsageError("strict must be True or False")
    SESSION.flush()
    return diff_runs(SESSION.store, a.id if isinstance(a, Run) else a, b.id if isinstance(b, Run) else b, strict)


def diff_notebooks(a: Any, b: Any) -> list[dict[str, Any]]:
    """The nbdime diff (nbdime's format) of two nbformat notebooks, computed by aligning identical
    cells first and running nbdime only where they differ."""
    from ..diffs.notebooks import diff_notebooks as diff_nb

    for notebook in (a, b):
        if not isinstance(notebook, Mapping) or "cells" not in notebook:
            raise UsageError("diff_notebooks takes two nbformat notebooks (dicts or nbformat nodes)")
    return diff_nb(dict(a), dict(b))
