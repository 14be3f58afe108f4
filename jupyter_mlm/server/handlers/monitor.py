"""Monitoring over REST: a model's status, report, series and alerts; batches posted as JSON or
Arrow IPC (size-bounded); alert rules added and removed. Reads need ``read``, writes ``write``
on the ``mlm`` resource. Every rule is the monitoring core's; handlers parse and format."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ...errors import UsageError
from ...monitoring.rules import window_ms
from ...monitoring.service import Monitor
from ...registry import check_model_name
from .base import MLMHandler

MAX_BATCH_BYTES = 50 * 1000 * 1000
ARROW = "application/vnd.apache.arrow.stream"


class MonitorHandler(MLMHandler):
    def monitor(self) -> Monitor:
        return Monitor(self.store, self.identity)

    def model(self, model: str) -> str:
        try:
            return check_model_name(model)
        except UsageError as exc:
            raise web.HTTPError(400, "%s", exc.message) from None


class MonitoredModelsHandler(MonitorHandler):
    """GET: every monitored model with its status (ok / drift / alert)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        def load() -> dict[str, Any]:
            monitor = self.monitor()
            return {"models": [monitor.status(name) for name in self.store.monitored_models()]}

        self.write_json(await self.call(load))


class ModelStatusHandler(MonitorHandler):
    @web.authenticated
    @authorized
    async def get(self, model: str) -> None:
        name = self.model(model)
        self.write_json(await self.call(lambda: self.monitor().status(name)))


class ReportHandler(MonitorHandler):
    """GET …/report?window=1d&version=N: drift per column, performance, latency, alerts."""

    @web.authenticated
    @authorized
    async def get(self, model: str) -> None:
        name = self.model(model)
        window = self.get_query_argument("window", "1d")
        version = self.get_query_argument("version", None) or None
        report = await self.call(lambda: self.monitor().report(name, window=window, version=version))
        self.write_json(report.to_dict())


class SeriesHandler(MonitorHandler):
    """GET …/series?metric=roc_auc&every=1h: one point per bucket."""

    @web.authenticated
    @authorized
    async def get(self, model: str) -> None:
        name = self.model(model)
        metric = self.get_query_argument("metric", "")
        every = self.get_query_argument("every", "1h")
        if not metric:
            raise web.HTTPError(400, "say which metric: …/series?metric=drift_share&every=1h")

        def load() -> dict[str, Any]:
            frame = self.monitor().series(name, metric, every)
            points = [
                {"time_ms": int(row.time.timestamp() * 1000), "value": row.value, "rows": int(row.rows),
                 "version": None if row.version is None or row.version != row.version else int(row.version)}
                for row in frame.itertuples()
            ]  # fmt: skip
            alerts = [a.__dict__ for a in self.store.alerts(name)]
            return {
                "model": name,
                "metric": metric,
                "every": every,
                "every_ms": window_ms(every),
                "points": points,
                "alerts": alerts,
                "promotions": self.monitor().promotions(name),
            }

        self.write_json(await self.call(load))


class AlertsHandler(MonitorHandler):
    @web.authenticated
    @authorized
    async def get(self, model: str) -> None:
        name = self.model(model)
        self.write_json({"alerts": await self.call(lambda: self.store.alerts(name))})


class BatchHandler(MonitorHandler):
    """POST …/batches: ``{"columns": {name: [values]}, "predictions", "scores", "ids", "labels",
    "latency_ms", "version", "timestamp"}`` as JSON, or an Arrow IPC stream of the rows
    (Content-Type ``application/vnd.apache.arrow.stream``) whose columns ``__prediction``,
    ``__score``, ``__id``, ``__label``, ``__latency_ms`` are the outputs, with ``?version=`` and
    ``?timestamp=`` as query arguments."""

    def body_limit(self) -> int:
        return int(self.settings.get("mlm_max_batch_bytes", MAX_BATCH_BYTES))

    @web.authenticated
    @authorized
    async def post(self, model: str) -> None:
        name = self.model(model)
        limit = self.body_limit()
        size = len(self.raw_body())
        if size > limit:
            raise web.HTTPError(413, "batch is %d bytes; the limit is %d", size, limit)
        if self.request.headers.get("Content-Type", "").startswith(ARROW):
            payload = self._arrow()
        else:
            body = self.json_object(limit, '{"columns": {"tenure": [1, 2]}, "predictions": [0, 1], …}')
            payload = self._json(body)
        columns = payload.pop("columns")
        result = await self.call(lambda: self.monitor().log(name, columns, source="rest", **payload))
        self.set_status(201)
        self.write_json({"batch": result.id, "version": result.version, "rows": result.rows,
                         "alerts": result.alerts})  # fmt: skip

    def _json(self, body: dict[str, Any]) -> dict[str, Any]:
        columns = body.get("columns")
        if not isinstance(columns, dict) or not columns or not all(isinstance(v, list) for v in columns.values()):
            raise web.HTTPError(400, 'columns must be an object of lists: {"columns": {"tenure": [1, 2]}}')
        unknown = sorted(set(body) - {"columns", "predictions", "scores", "ids", "labels", "latency_ms", "version",
                                      "timestamp"})  # fmt: skip
        if unknown:
            raise web.HTTPError(400, "unknown field %s in the batch", unknown[0])
        out: dict[str, Any] = {"columns": columns}
        for key in ("predictions", "scores", "ids", "labels", "latency_ms"):
            if body.get(key) is not None:
                if not isinstance(body[key], list):
                    raise web.HTTPError(400, "%s must be a list (one value per row)", key)
                out[key] = body[key]
        for key in ("version", "timestamp"):
            if body.get(key) is not None:
                out[key] = body[key]
        return out

    def _arrow(self) -> dict[str, Any]:
        try:
            import pyarrow as pa
        except ImportError:
            raise web.HTTPError(415, "Arrow batches need pyarrow on the server: pip install pyarrow") from None
        try:
            table = pa.ipc.open_stream(self.raw_body()).read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise web.HTTPError(400, "not an Arrow IPC stream: %s", str(exc).splitlines()[0]) from None
        out: dict[str, Any] = {}
        for column, key in (("__prediction", "predictions"), ("__score", "scores"), ("__id", "ids"),
                            ("__label", "labels"), ("__latency_ms", "latency_ms")):  # fmt: skip
            if column in table.column_names:
                out[key] = table.column(column).to_numpy(zero_copy_only=False)
                table = table.drop([column])
        for key in ("version", "timestamp"):
            value = self.get_query_argument(key, None)
            if value:
                out[key] = int(value) if value.isascii() and value.isdigit() else value
        out["columns"] = table
        return out


class RulesHandler(MonitorHandler):
    """GET the rules; PUT {"rule": "roc_auc < 0.78"} adds one; DELETE …/rules/{id} removes one."""

    @web.authenticated
    @authorized
    async def get(self, model: str, rule_id: str | None = None) -> None:
        name = self.model(model)
        self.write_json({"rules": await self.call(lambda: self.store.rules(name))})

    @web.authenticated
    @authorized
    async def put(self, model: str, rule_id: str | None = None) -> None:
        name = self.model(model)
        body = self.json_object(16 * 1024, '{"rule": "roc_auc < 0.78"}')
        rule = body.get("rule")
        if not isinstance(rule, str):
            raise web.HTTPError(400, 'body must give the rule: {"rule": "roc_auc < 0.78"}')
        self.write_json({"rule": await self.call(lambda: self.monitor().add_rule(name, rule))})

    @web.authenticated
    @authorized
    async def delete(self, model: str, rule_id: str | None = None) -> None:
        name = self.model(model)
        if not rule_id or not rule_id.isascii() or not rule_id.isalnum():
            raise web.HTTPError(400, "say which rule: DELETE …/rules/{id}")
        await self.call(lambda: self.monitor().delete_rule(name, rule_id))
        self.set_status(204)
        self.finish()


class TimelineHandler(MonitorHandler):
    """GET: the model's loop as one story (alerts, jobs, comparisons, promotions, rollbacks),
    its comparisons, jobs and policy."""

    @web.authenticated
    @authorized
    async def get(self, model: str) -> None:
        from dataclasses import asdict

        from ...loop.compare import as_dict
        from ...loop.timeline import timeline

        name = self.model(model)

        def load() -> dict[str, Any]:
            return {
                "events": timeline(self.store, name),
                "comparisons": [as_dict(c) for c in self.store.comparisons(name)],
                "jobs": [asdict(j) for j in self.store.jobs(name)],
                "policy": self.store.loop_policy(name),
            }

        self.write_json(await self.call(load))


class ArmsHandler(MonitorHandler):
    """GET …/arms?window=7d: rows and metrics per serving arm and version."""

    @web.authenticated
    @authorized
    async def get(self, model: str) -> None:
        name = self.model(model)
        window = self.get_argument("window", "7d")
        if window != "all":
            try:
                window_ms(window)
            except UsageError as exc:
                raise web.HTTPError(400, "%s", exc.message) from None
        self.write_json({"arms": await self.call(lambda: self.monitor().arms(name, window))})
