"""The execution log: which cells ran, in what order, with which source, how long, and whether they raised.

Fed by the kernel's ``pre_run_cell``/``post_run_cell`` events (see ``kernel.py``); the hooks do a
dictionary build and a BLAKE3 of the source — a few microseconds. Sources are kept in memory
(deduplicated by digest) until a snapshot stores them as blobs.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import blake3

MAX_ENTRIES = 100_000


@dataclass
class Execution:
    order: int
    cell_id: str | None
    source_digest: str
    start_ms: int
    duration_ms: float
    success: bool | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ExecutionLog:
    def __init__(self) -> None:
        self.entries: list[Execution] = []
        self.sources: dict[str, str] = {}
        self._started: float | None = None
        self._order = 0

    def before(self, cell_id: str | None, source: str) -> None:
        digest = blake3.blake3(source.encode()).hexdigest()
        self.sources.setdefault(digest, source)
        self._order += 1
        self._started = time.perf_counter()
        self.entries.append(Execution(self._order, cell_id, digest, time.time_ns() // 1_000_000, 0.0, None))
        if len(self.entries) > MAX_ENTRIES:
            del self.entries[: len(self.entries) - MAX_ENTRIES]

    def after(self, success: bool) -> None:
        if self.entries and self._started is not None and self.entries[-1].success is None:
            entry = self.entries[-1]
            entry.duration_ms = round((time.perf_counter() - self._started) * 1000, 3)
            entry.success = success
        self._started = None

    def since(self, start_ms: int) -> list[Execution]:
        return [e for e in self.entries if e.start_ms >= start_ms]


LOG = ExecutionLog()


def out_of_order_reasons(executions: list[dict[str, Any]], cells: list[dict[str, Any]]) -> list[str]:
    """Why the notebook as it stands may not be what produced the results, or [] if it is.

    An execution is matched to its cell by cell id when the frontend sent one (JupyterLab does),
    else by source digest (nbclient sends no ids); executions matching no cell are reported.

    Args:
        executions: execution log entries (dicts with cell_id, source_digest, order).
        cells: the notebook's code cells in document order, dicts with id and source_digest.
    """
    by_id = {cell["id"]: index for index, cell in enumerate(cells) if cell.get("id")}
    by_source: dict[str, int] = {}
    for index, cell in enumerate(cells):
        by_source.setdefault(cell["source_digest"], index)
    reasons: list[str] = []
    last_position = -1
    last_run: dict[int, str] = {}
    for entry in executions:
        cell_id = entry.get("cell_id")
        position = by_id.get(cell_id) if cell_id else by_source.get(entry["source_digest"])
        if position is None:
            if cell_id or entry["source_digest"] not in by_source:
                reasons.append(f"execution {entry['order']} ran code that is no longer in the notebook")
            continue
        if position < last_position:
            reasons.append(
                f"cell {position + 1} ran (execution {entry['order']}) after cell {last_position + 1}: "
                "cells ran out of document order"
            )
        last_position = position
        last_run[position] = entry["source_digest"]
    for position, digest in sorted(last_run.items()):
        if cells[position]["source_digest"] != digest:
            reasons.append(f"cell {position + 1} was edited after it ran: its output came from other code")
    return reasons
