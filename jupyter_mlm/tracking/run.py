"""``Run``: a handle on one run that reads fresh state from the store and renders itself."""

from __future__ import annotations

import html
import os
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..entities import RunData, RunRecord
from .session import SESSION, TrackingSession

if TYPE_CHECKING:
    from ..capture.snapshot import Snapshot


def _when(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc) if ms is not None else None


def format_duration(start_ms: int, end_ms: int | None) -> str:
    if end_ms is None:
        return "running"
    seconds = max(0, end_ms - start_ms) / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


class Run:
    """A run. Attributes are read from the store on access, so they are always current.

    Also a context manager: leaving the ``with`` block ends the run, as ``failed`` when an
    exception escapes it (the exception still propagates).
    """

    def __init__(self, record: RunRecord, session: TrackingSession = SESSION) -> None:
        self._record = record
        self._session = session

    def _data(self) -> RunData:
        if self._session.active is not None and self._session.active.id == self.id:
            self._session.flush()
        data = self._session.store.get_run(self.id)
        self._record = data.info
        return data

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def experiment(self) -> str:
        return self._record.experiment

    @property
    def status(self) -> str:
        self._record = self._session.store.get_run_record(self.id)
        return self._record.status

    @property
    def start(self) -> datetime:
        start = _when(self._record.start_ms)
        assert start is not None
        return start

    @property
    def end(self) -> datetime | None:
        self._record = self._session.store.get_run_record(self.id)
        return _when(self._record.end_ms)

    @property
    def params(self) -> dict[str, str]:
        return self._data().params

    @property
    def metrics(self) -> dict[str, float]:
        """Last value of each metric."""
        return {key: metric.value for key, metric in self._data().metrics.items()}

    @property
    def tags(self) -> dict[str, str]:
        return self._data().tags

    @property
    def note(self) -> str:
        """The run's note (markdown), ``""`` when none."""
        self._record = self._session.store.get_run_record(self.id)
        return self._record.note or ""

    @property
    def deleted(self) -> bool:
        """Deleted with ``mlm.delete_run`` (hidden from searches, restorable until purged)."""
        self._record = self._session.store.get_run_record(self.id)
        return self._record.deleted_ms is not None

    @property
    def artifacts(self) -> list[str]:
        return [artifact.path for artifact in self._data().artifacts]

    def download_artifact(self, path: str, dest: str | os.PathLike[str] = ".") -> Path:
        """Write the artifact ``path`` under the folder ``dest`` (``dest/path``, created as
        needed; the stored path is confined to the run, so nothing lands outside ``dest``)."""
        from ..store import check_artifact_path

        artifact = self._session.store.get_artifact(self.id, check_artifact_path(path))
        target = Path(dest) / artifact.path
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        partial.write_bytes(self._session.store.objects.get(artifact.digest))
        partial.replace(target)  # a reader never sees half a file
        return target

    @property
    def info(self) -> RunRecord:
        return self._record

    @property
    def snapshot(self) -> Snapshot:
        """What produced this run: ``.notebook``, ``.executions``, ``.environment``, ``.data``,
        ``.out_of_order`` — from its end snapshot once ended, its start snapshot before."""
        from ..capture.snapshot import read_snapshot

        return read_snapshot(self._session.store, self.id)

    # -- logging to this run explicitly (refused once it has ended) ------------------------------
    def log_param(self, key: str, value: Any) -> None:
        self._session.store.log_params(self.id, {key: value})

    def log_params(self, params: dict[str, Any]) -> None:
        self._session.store.log_params(self.id, params)

    def log_metric(self, key: str, value: Any, step: int | None = None, timestamp: int | None = None) -> None:
        if self._session.active is not None and self._session.active.id == self.id:
            self._session.log_metric(key, value, step, timestamp, run_id=self.id)
            return
        from ..validation import check_key, metric_step, metric_value

        point = metric_value(check_key(key, "metric name"), value)
        stamp = timestamp if timestamp is not None else int(datetime.now(tz=timezone.utc).timestamp() * 1000)
        self._session.store.log_metric_batch(self.id, {key: ([metric_step(step or 0)], [point], [stamp])})

    def set_tag(self, key: str, value: Any) -> None:
        self._session.store.set_tags(self.id, {key: value})

    # -- context manager --------------------------------------------------------------------
    def __enter__(self) -> Run:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session.active is not None and self._session.active.id == self.id:
            self._session.end_run("failed" if exc_type is not None else "finished")

    # -- display ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<Run {self.name!r} {self.id[:8]} {self.status} in {self.experiment!r}>"

    def _repr_html_(self) -> str:
        data = self._data()
        return render_run_html(data)


_STATUS_COLOURS = {
    "running": "#1976d2",
    "finished": "#2e7d32",
    "failed": "#c62828",
    "killed": "#6d4c41",
    "crashed": "#c62828",
}


def status_badge(status: str) -> str:
    colour = _STATUS_COLOURS.get(status, "#616161")
    return (
        f'<span style="background:{colour};color:#fff;border-radius:8px;padding:1px 7px;font-size:0.85em">'
        f"{html.escape(status)}</span>"
    )


def _table(title: str, rows: dict[str, Any]) -> str:
    if not rows:
        return ""
    body = "".join(
        f"<tr><td style='text-align:left'>{html.escape(str(k))}</td><td style='text-align:left'>"
        f"<code>{html.escape(str(v))}</code></td></tr>"
        for k, v in rows.items()
    )
    return f"<details open><summary><b>{title}</b> ({len(rows)})</summary><table>{body}</table></details>"


def render_run_html(data: RunData) -> str:
    info = data.info
    start = _when(info.start_ms)
    header = (
        f"<div><b>{html.escape(info.name)}</b> {status_badge(info.status)} "
        f"<span style='opacity:0.7'>run <code>{info.id[:8]}</code> · experiment {html.escape(info.experiment)} · "
        f"started {start:%Y-%m-%d %H:%M:%S} UTC · {format_duration(info.start_ms, info.end_ms)}</span></div>"
    )
    metrics = {k: f"{m.value:.6g} (step {m.step})" for k, m in data.metrics.items()}
    artifacts = {a.path: f"{a.size:,} bytes" for a in data.artifacts}
    return (
        "<div class='mlm-run'>"
        + header
        + _table("Params", data.params)
        + _table("Metrics", metrics)
        + _table("Tags", data.tags)
        + _table("Artifacts", artifacts)
        + "</div>"
    )
