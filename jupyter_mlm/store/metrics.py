"""Metric points, stored in chunks of packed arrays (one row per key per flush, ≤ 100k points).

A chunk keeps steps and timestamps as little-endian int64 and values as little-endian float64,
so ingestion costs one insert per key per flush and reading a history is a few row fetches.
``metric_latest`` holds the last value per (run, key) — the one with the highest step, the
later-logged one on ties — for run lists, filters and sorting.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select

from ..entities import Metric
from ..errors import UsageError
from ..validation import check_key
from . import tables as t
from .runs import RunsMixin

CHUNK_POINTS = 100_000
_SWAP = sys.byteorder == "big"


@dataclass(frozen=True)
class MetricSeries:
    """A metric's full history, as parallel arrays."""

    key: str
    steps: array  # type: ignore[type-arg]
    values: array  # type: ignore[type-arg]
    timestamps: array  # type: ignore[type-arg]

    def __len__(self) -> int:
        return len(self.values)

    def points(self) -> list[Metric]:
        return [Metric(self.key, v, s, ts) for s, v, ts in zip(self.steps, self.values, self.timestamps, strict=True)]


def _pack(values: array) -> bytes:  # type: ignore[type-arg]
    if _SWAP:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _unpack(typecode: str, data: bytes) -> array:  # type: ignore[type-arg]
    values = array(typecode)
    values.frombytes(data)
    if _SWAP:
        values.byteswap()
    return values


class MetricsMixin(RunsMixin):
    def log_metric_batch(
        self, run_id: str, batch: Mapping[str, tuple[Sequence[int], Sequence[float], Sequence[int]]]
    ) -> int:
        """Append points to a running run's metrics in one transaction.

        Args:
            batch: key → (steps, values, timestamps_ms), three sequences of equal length;
                values already validated as floats (see ``validation.metric_value``).

        Returns:
            The number of points written.
        """
        rows = []
        latest: dict[str, tuple[int, float, int, int]] = {}
        for key, (steps, values, stamps) in batch.items():
            check_key(key, "metric name")
            step_array, value_array, stamp_array = array("q", steps), array("d", values), array("q", stamps)
            if not len(step_array) == len(value_array) == len(stamp_array):
                raise UsageError(f"metric {key!r}: steps, values and timestamps differ in length")
            if not value_array:
                continue
            for start in range(0, len(value_array), CHUNK_POINTS):
                s, v, ts = (a[start : start + CHUNK_POINTS] for a in (step_array, value_array, stamp_array))
                rows.append({
                    "run_id": run_id, "key": key, "count": len(v), "min_step": min(s), "max_step": max(s),
                    "steps": _pack(s), "values": _pack(v), "timestamps": _pack(ts),
                })  # fmt: skip
            highest = max(step_array)
            top = len(step_array) - 1
            if step_array[top] != highest:  # steps usually grow, so the last point is the answer
                top -= step_array[::-1].index(highest)
            latest[key] = (step_array[top], value_array[top], stamp_array[top], len(value_array))
        if not rows:
            return 0
        with self._write() as conn:
            self._running(conn, run_id)
            conn.execute(insert(t.metric_chunks), rows)
            existing = {
                row.key: row
                for row in conn.execute(
                    select(t.metric_latest).where(
                        t.metric_latest.c.run_id == run_id, t.metric_latest.c.key.in_(list(latest))
                    )
                )
            }
            upserts = []
            for key, (step, value, stamp, count) in latest.items():
                old = existing.get(key)
                if old is not None and old.step > step:
                    step, value, stamp = old.step, old.value, old.timestamp_ms
                total = count + (old._mapping["count"] if old is not None else 0)
                stored = None if value is None or math.isnan(value) else value
                upserts.append(
                    {"run_id": run_id, "key": key, "value": stored, "step": step, "timestamp_ms": stamp, "count": total}
                )
            self._upsert(conn, t.metric_latest, upserts, ["run_id", "key"], ["value", "step", "timestamp_ms", "count"])
        return sum(int(row["count"]) for row in rows)  # type: ignore[call-overload]

    def get_metric_series(self, run_id: str, key: str) -> MetricSeries:
        """Every point of one metric of a run, in logging order."""
        steps, values, stamps = array("q"), array("d"), array("q")
        with self._read() as conn:
            self._run_row(conn, run_id)
            result = conn.execute(
                select(t.metric_chunks.c.steps, t.metric_chunks.c["values"], t.metric_chunks.c.timestamps)
                .where(t.metric_chunks.c.run_id == run_id, t.metric_chunks.c.key == key)
                .order_by(t.metric_chunks.c.id)
            )
            for row in result:
                steps.extend(_unpack("q", row.steps))
                values.extend(_unpack("d", row[1]))
                stamps.extend(_unpack("q", row.timestamps))
        return MetricSeries(key, steps, values, stamps)

    def metric_counts(self, run_id: str) -> dict[str, int]:
        """How many points each metric of the run holds."""
        with self._read() as conn:
            rows = conn.execute(
                select(t.metric_latest.c.key, t.metric_latest.c["count"]).where(t.metric_latest.c.run_id == run_id)
            ).all()
        return {row[0]: int(row[1]) for row in rows}

    def metric_keys(self, run_id: str) -> list[str]:
        with self._read() as conn:
            return list(
                conn.execute(
                    select(t.metric_latest.c.key)
                    .where(t.metric_latest.c.run_id == run_id)
                    .order_by(t.metric_latest.c.key)
                ).scalars()
            )


def downsample(series: MetricSeries, max_points: int) -> MetricSeries:
    """At most ``max_points`` points that keep the shape: the first and last point, and the
    minimum and maximum of each of ``max_points / 2`` equal buckets, in their original order.

    Chart views stay truthful this way (a spike is never averaged away), unlike plain striding.
    """
    count = len(series)
    if max_points < 4:
        raise UsageError("max_points must be at least 4")
    if count <= max_points:
        return series
    buckets = (max_points - 2) // 2
    values = series.values
    chosen = [0]
    size = (count - 2) / buckets
    for bucket in range(buckets):
        start = 1 + int(bucket * size)
        end = 1 + int((bucket + 1) * size)
        if start >= end:
            continue
        window = values[start:end]
        low = start + min(range(len(window)), key=window.__getitem__)
        high = start + max(range(len(window)), key=window.__getitem__)
        chosen.extend(sorted({low, high}))
    chosen.append(count - 1)
    return MetricSeries(
        series.key,
        array("q", (series.steps[i] for i in chosen)),
        array("d", (values[i] for i in chosen)),
        array("q", (series.timestamps[i] for i in chosen)),
    )
