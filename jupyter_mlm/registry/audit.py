"""Anchors of the audit log: its head (number and hash) written down outside the store, so that
rewriting history, which anyone with write access to the store could recompute a chain for,
no longer goes unnoticed. ``jupyter mlm audit anchor --to FILE`` appends one line per anchor;
``audit verify --anchor FILE`` proves the log still extends every line of it."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from ..errors import NotFound, UsageError
from ..store import Store
from ..store.audit import parse_anchor

ANCHOR_PREFIX = "mlm-audit-anchor"
__all__ = ["ANCHOR_PREFIX", "anchor_line", "parse_anchor", "parse_anchors", "record_anchor"]


def anchor_line(store: Store) -> str:
    """``mlm-audit-anchor SEQ:HASH TIME STORE``: one line to keep somewhere the store cannot reach."""
    seq, digest = store.audit_head()
    if seq == 0:
        raise UsageError("the audit log is empty: nothing to anchor yet")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{ANCHOR_PREFIX} {seq}:{digest} {stamp} {store.location.display_url}"


def record_anchor(store: Store, path: str | os.PathLike[str]) -> str:
    line = anchor_line(store)
    with open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")
        out.flush()
        os.fsync(out.fileno())
    return line


def parse_anchors(value: str) -> list[tuple[int | None, str]]:
    """An anchor (``SEQ:HASH`` or ``HASH``), or a file of ``anchor`` lines, as (seq, hash) pairs."""
    if not isinstance(value, str) or not value.strip():
        raise UsageError("an anchor is SEQ:HASH, a 64-digit hash, or a file written by `jupyter mlm audit anchor`")
    single = parse_anchor(value)
    if single is not None:
        return [single]
    path = Path(value).expanduser()
    if not path.is_file():
        raise NotFound(f"{value!r} is neither an anchor (SEQ:HASH) nor a file of anchors")
    anchors = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        words = line.split()
        if not words or line.lstrip().startswith("#"):
            continue
        token = words[1] if words[0] == ANCHOR_PREFIX and len(words) > 1 else words[0]
        parsed = parse_anchor(token)
        if parsed is None:
            raise UsageError(f"{path}:{number} is not an anchor line: {line[:80]!r}")
        anchors.append(parsed)
    if not anchors:
        raise UsageError(f"{path} holds no anchors")
    return anchors
