"""Housekeeping of runs and experiments: delete (softly) and restore, purge, rename, notes,
tags of any run, experiments listed, renamed and archived."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ..entities import Experiment
from ..errors import UsageError
from .run import Run
from .session import SESSION

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)?\s*$")
_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86_400, "w": 604_800}


def age_ms(text: str | int | float) -> int:
    """``"30d"``, ``"12h"``, ``"90min"``, ``"0"`` (or a number of seconds) as milliseconds."""
    if isinstance(text, bool):
        raise UsageError("an age is a number of seconds or a text like '30d', '12h', '90min'")
    if isinstance(text, (int, float)):
        if text < 0:
            raise UsageError("an age cannot be negative")
        return int(text * 1000)
    found = _AGE.match(text) if isinstance(text, str) else None
    if found is None:
        raise UsageError(f"age {text!r} is not like '30d', '12h', '90min', '45s' or '0'")
    return int(float(found.group(1)) * _SECONDS[found.group(2) or "s"] * 1000)


def _run(ref: str | Run) -> Run:
    SESSION.flush()
    return Run(SESSION.store.resolve_run(ref.id if isinstance(ref, Run) else ref))


def delete_run(run: str | Run) -> Run:
    """Delete a run softly: hidden from the runs table and searches, restorable with
    ``restore_run`` until ``purge_runs`` removes it (and ``jupyter mlm gc`` its blobs)."""
    found = _run(run)
    return Run(SESSION.store.delete_run(found.id))


def restore_run(run: str | Run) -> Run:
    """Bring back a deleted run."""
    found = _run(run)
    return Run(SESSION.store.restore_run(found.id))


def rename_run(run: str | Run, name: str) -> Run:
    found = _run(run)
    return Run(SESSION.store.rename_run(found.id, name))


def set_note(run: str | Run, text: str | None = None) -> Run:
    """Set a run's note (markdown; ``""`` clears it): ``set_note(run, text)``, or
    ``set_note(text)`` for the active run."""
    if text is None:
        if not isinstance(run, str):
            raise UsageError("set_note(run, text), or set_note(text) for the active run")
        run, text = SESSION.ensure_run().id, run
    found = _run(run)
    return Run(SESSION.store.set_note(found.id, text))


def set_run_tags(run: str | Run, tags: Mapping[str, Any] | None = None, delete: Iterable[str] = ()) -> Run:
    """Set and remove tags of any run (``set_tags`` is the active run's)."""
    found = _run(run)
    return Run(SESSION.store.edit_run(found.id, tags=tags, delete_tags=delete))


def purge_runs(older_than: str | int | float = "30d", dry_run: bool = False) -> list[str]:
    """Remove for good the runs deleted more than ``older_than`` ago (``"0"``: all deleted runs);
    returns their names. Runs a registered model version came from are kept. Their blobs stay
    until ``jupyter mlm gc --apply`` collects what nothing references any more."""
    cutoff = int(time.time() * 1000) - age_ms(older_than)
    return [r.name for r in SESSION.store.purge_runs(cutoff, apply=not dry_run)]


def list_experiments(archived: bool = False) -> list[Experiment]:
    """Experiments by name (archived ones too with ``archived=True``)."""
    return SESSION.store.list_experiments(archived=archived)


def rename_experiment(name: str, new_name: str) -> Experiment:
    return SESSION.store.rename_experiment(name, new_name)


def archive_experiment(name: str) -> Experiment:
    """Hide an experiment from lists; its runs stay, and searching it by name still finds them."""
    return SESSION.store.archive_experiment(name)


def restore_experiment(name: str) -> Experiment:
    return SESSION.store.archive_experiment(name, archived=False)
