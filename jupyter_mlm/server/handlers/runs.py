"""Runs: list (filter, sort, paging), detail, metric series (downsampled), artifact download."""

from __future__ import annotations

import asyncio
import csv
import io
import mimetypes
from datetime import datetime, timezone
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ...entities import Experiment, RunData
from ...errors import NotFound, UsageError
from ...store import check_artifact_path
from ...store.metrics import downsample
from ...store.runs import MAX_NOTE_CHARS, MAX_PAGE
from .base import MLMHandler
from .wire import number, run_data, run_record

MAX_EDIT_BYTES = 4 * MAX_NOTE_CHARS + 64 * 1024  # a full note, escaped, and some tags

# Served inline (so the sidebar can show them); anything else downloads as an attachment, so a
# logged HTML or SVG file can never run script on the Jupyter origin.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
DEFAULT_MAX_POINTS = 1000
MAX_POINTS = 100_000


class RunsMixin(MLMHandler):
    def flag_argument(self, name: str, meaning: str, default: bool = False) -> bool:
        raw = self.get_query_argument(name, "true" if default else "false")
        if raw not in ("true", "false"):
            raise web.HTTPError(400, "%s is true (%s) or false, not %r", name, meaning, raw)
        return raw == "true"

    def int_argument(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise web.HTTPError(400, "%s must be an integer from %d to %d, not %r", name, low, high, raw) from None
        if not low <= value <= high:
            raise web.HTTPError(400, "%s must be an integer from %d to %d, not %d", name, low, high, value)
        return value


class RunListHandler(RunsMixin):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        experiments = self.get_query_arguments("experiment") or None
        filter_text = self.get_query_argument("filter", None)
        order_by = self.get_query_arguments("order_by") or None
        limit = self.int_argument("limit", 100, 1, MAX_PAGE)
        offset = self.int_argument("offset", 0, 0, 2**31)
        show_deleted = self.flag_argument("deleted", "the deleted runs")
        group_by = self.get_query_argument("group_by", None)
        if group_by:
            await self._groups(group_by, experiments, filter_text, show_deleted)
            return
        tree = self.flag_argument("tree", "only the runs whose parent is not in the result, with child counts")
        parent = self.get_query_argument("parent", None)
        output = self.get_query_argument("format", "json")
        if output not in ("json", "csv"):
            raise web.HTTPError(400, "format is json or csv, not %r", output)
        if output == "csv":  # the whole result (up to a page's limit), for a spreadsheet
            limit = self.int_argument("limit", MAX_PAGE, 1, MAX_PAGE)
        listed = filter_text
        if parent:  # one run's children; their own child counts still follow the query's filter
            parent_id = (await self.call(self.store.resolve_run, parent)).id
            condition = f"parent_id = '{parent_id}'"
            listed = f"({filter_text}) and {condition}" if filter_text and filter_text.strip() else condition
        # The table's columns come from the whole result, once per query (its first page); that
        # query and the experiments list run beside the page's own on other threads.
        keys_wanted = output == "json" and offset == 0 and not parent
        keys_wanted &= self.flag_argument("keys", "the param, metric and tag names of the whole result", True)
        keys = (
            asyncio.ensure_future(self.call(self.store.run_keys, experiments, filter_text, show_deleted))
            if keys_wanted
            else None
        )
        listed_experiments = asyncio.ensure_future(self.call(self.store.list_experiments)) if output == "json" else None
        try:
            runs, total = await self.call(
                self.store.search_runs, experiments, listed, order_by, limit, offset, show_deleted,
                tree and output == "json" and not parent,
            )  # fmt: skip
            if output == "csv":
                self.set_header("Content-Disposition", 'attachment; filename="runs.csv"')
                self.set_header("X-Content-Type-Options", "nosniff")
                self.finish(runs_csv(runs), set_content_type="text/csv; charset=utf-8")
                return
            body = {
                "runs": [run_data(r) for r in runs],
                "total": total,
                "offset": offset,
                "limit": limit,
                "experiments": [e.name for e in await listed_experiments] if listed_experiments else [],
            }
            if tree:
                body["children"] = await self.call(
                    self.store.child_counts, [r.info.id for r in runs], experiments, filter_text, show_deleted
                )
            if keys is not None:
                body["keys"] = {kind: [name for name, _ in found] for kind, found in (await keys).items()}
            self.write_json(body)
        finally:  # a failed step must not leave the side queries running, or their errors unread
            for pending in (keys, listed_experiments):
                if pending is None:
                    continue
                if not pending.done():
                    pending.cancel()
                elif not pending.cancelled():
                    pending.exception()  # read: an error here is the response's only if it was awaited

    async def _groups(self, by: str, experiments: list[str] | None, filter_text: str | None, deleted: bool) -> None:
        metrics = self.get_query_arguments("metric") or None
        groups, total = await self.call(self.store.group_runs, by, experiments, filter_text, deleted, metrics)
        self.write_json({
            "by": by,
            "groups": [{"value": g.value, "runs": g.runs, "metrics": g.metrics} for g in groups],
            "total": total,
        })  # fmt: skip


def runs_csv(runs: list[RunData]) -> str:
    """One row per run: identity and times, then every param, metric (last value) and tag."""
    keys = {kind: sorted({k for r in runs for k in getattr(r, kind)}) for kind in ("params", "metrics", "tags")}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "name", "experiment", "status", "start", "end", "user", "parent_id", "note",
                     *(f"{kind}.{key}" for kind, names in keys.items() for key in names)])  # fmt: skip
    for run in runs:
        info = run.info
        writer.writerow([
            info.id, _cell(info.name), _cell(info.experiment), info.status, _iso(info.start_ms), _iso(info.end_ms),
            _cell(info.user), info.parent_id or "", _cell(info.note or ""),
            *(_cell(run.params.get(k, "")) for k in keys["params"]),
            *("" if k not in run.metrics else repr(run.metrics[k].value) for k in keys["metrics"]),
            *(_cell(run.tags.get(k, "")) for k in keys["tags"]),
        ])  # fmt: skip
    return buffer.getvalue()


def _cell(text: str) -> str:
    """A text a spreadsheet will not run as a formula (CSV injection): a leading = + - @ is
    quoted, unless the text is a number (-0.5 stays a number)."""
    if text[:1] not in ("=", "+", "-", "@", "\t", "\r"):
        return text
    try:
        float(text)
    except ValueError:
        return f"'{text}"
    return text


def _iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


class RunHandler(RunsMixin):
    @web.authenticated
    @authorized
    async def get(self, ref: str) -> None:
        def load() -> dict[str, Any]:
            record = self.store.resolve_run(ref)
            body = run_data(self.store.get_run(record.id), self.store.metric_counts(record.id))
            # The run page asks for a snapshot only where one exists, and links a nested run's parent.
            body["snapshots"] = len(self.store.list_snapshots(record.id))
            if record.parent_id:
                try:
                    parent = self.store.get_run(record.parent_id).info
                    body["parent"] = {"id": parent.id, "name": parent.name}
                except NotFound:
                    body["parent"] = None
            return body

        self.write_json(await self.call(load))

    @web.authenticated
    @authorized
    async def patch(self, ref: str) -> None:
        """Rename, set the note, set or remove tags: ``{"name", "note", "tags": {k: v}, "delete_tags": [k]}``."""
        shape = '{"name": "…", "note": "markdown", "tags": {"key": "value"}, "delete_tags": ["key"]}'
        body = self.json_object(MAX_EDIT_BYTES, shape)
        unknown = sorted(set(body) - {"name", "note", "tags", "delete_tags"})
        if unknown or not body:
            raise web.HTTPError(400, "a run edit takes name, note, tags and delete_tags: %s", shape)
        tags, delete_tags = body.get("tags") or {}, body.get("delete_tags") or []
        if "name" in body and not isinstance(body["name"], str):
            raise web.HTTPError(400, "name is a text: %s", shape)
        if not isinstance(tags, dict) or not isinstance(delete_tags, list):
            raise web.HTTPError(400, "tags is an object of texts and delete_tags a list of keys: %s", shape)

        def edit() -> dict[str, Any]:
            record = self.store.resolve_run(ref)
            note = body.get("note")
            self.store.edit_run(
                record.id,
                name=body.get("name"),
                note=None if "note" not in body else (note if note is not None else ""),
                tags=tags,
                delete_tags=delete_tags,
            )
            return run_data(self.store.get_run(record.id))

        self.write_json(await self.call(edit))

    @web.authenticated
    @authorized
    async def delete(self, ref: str) -> None:
        """Delete softly: hidden from lists, ``POST …/restore`` brings it back until purged."""

        def delete() -> dict[str, Any]:
            record = self.store.resolve_run(ref)
            return run_record(self.store.delete_run(record.id))

        self.write_json(await self.call(delete))


class RunRestoreHandler(RunsMixin):
    @web.authenticated
    @authorized
    async def post(self, ref: str) -> None:
        def restore() -> dict[str, Any]:
            return run_record(self.store.restore_run(self.store.resolve_run(ref).id))

        self.write_json(await self.call(restore))


class ExperimentListHandler(RunsMixin):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        archived = self.flag_argument("archived", "archived ones too")
        found = await self.call(self.store.list_experiments, archived)
        self.write_json({"experiments": [experiment_json(e) for e in found]})


class ExperimentHandler(RunsMixin):
    @web.authenticated
    @authorized
    async def patch(self, name: str) -> None:
        """Rename and archive: ``{"name": "new name", "archived": true}``."""
        shape = '{"name": "new name", "archived": true}'
        body = self.json_object(MAX_EDIT_BYTES, shape)
        if not body or set(body) - {"name", "archived"} or not isinstance(body.get("archived", False), bool):
            raise web.HTTPError(400, "an experiment edit takes name and archived (true or false): %s", shape)

        def edit() -> dict[str, Any]:
            # Renamed first: a refused name (taken, empty) then changes nothing.
            found = self.store.rename_experiment(name, body["name"]) if "name" in body else None
            if "archived" in body:
                found = self.store.archive_experiment(found.name if found else name, body["archived"])
            assert found is not None  # the body named at least one of them
            return experiment_json(found)

        self.write_json(await self.call(edit))


def experiment_json(experiment: Experiment) -> dict[str, Any]:
    return {"id": experiment.id, "name": experiment.name, "created_ms": experiment.created_ms,
            "archived_ms": experiment.archived_ms}  # fmt: skip


class MetricSeriesHandler(RunsMixin):
    @web.authenticated
    @authorized
    async def get(self, ref: str, key: str) -> None:
        max_points = self.int_argument("max_points", DEFAULT_MAX_POINTS, 4, MAX_POINTS)

        def load() -> dict[str, Any]:
            record = self.store.resolve_run(ref)
            series = self.store.get_metric_series(record.id, key)
            if not len(series) and key not in self.store.metric_keys(record.id):
                raise NotFound(f"run {record.name!r} has no metric {key!r}")
            shown = downsample(series, max_points)
            return {
                "run_id": record.id,
                "key": key,
                "total": len(series),
                "steps": list(shown.steps),
                "values": [number(v) for v in shown.values],
                "timestamps": list(shown.timestamps),
            }

        self.write_json(await self.call(load))


class ArtifactHandler(RunsMixin):
    @web.authenticated
    @authorized
    async def get(self, ref: str, path: str) -> None:
        try:
            path = check_artifact_path(path)
        except UsageError as exc:
            raise web.HTTPError(400, "%s", exc.message) from None

        def load() -> tuple[str, bytes]:
            record = self.store.resolve_run(ref)
            artifact = self.store.get_artifact(record.id, path)
            return artifact.path, self.store.objects.get(artifact.digest)

        name, content = await self.call(load)
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'")
        if content_type not in INLINE_TYPES:
            content_type = "application/octet-stream"
            self.set_header("Content-Disposition", content_disposition(name.rsplit("/", 1)[-1]))
        # APIHandler.finish would otherwise label every answer application/json.
        self.finish(content, set_content_type=content_type)


def content_disposition(filename: str) -> str:
    """``attachment`` with the name as RFC 6266 wants it: an ASCII fallback (controls, quotes,
    backslashes and non-ASCII replaced) and the exact name percent-encoded in UTF-8 (RFC 5987),
    so no name can break the header or smuggle another one."""
    from urllib.parse import quote

    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename) or "artifact"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
