"""Monitoring over REST in a real Jupyter server: batches as JSON and Arrow, report, series,
alerts, rules; bad input answered with a JSON 4xx and nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tornado.httpclient import HTTPClientError

from jupyter_mlm.store import Store, open_store

T0 = 1_767_000_000_000


@pytest.fixture
def jp_server_config(tmp_path: Path) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_mlm": True}},
            "MLM": {"store_uri": str(tmp_path / "server-store")}}  # fmt: skip


@pytest.fixture
def monitored(jp_serverapp: Any, tmp_path: Path) -> Store:
    from jupyter_mlm.tracking import SESSION

    store = open_store(str(tmp_path / "server-store"))
    SESSION.use_store(store)
    try:
        import jupyter_mlm as mlm

        rng = np.random.default_rng(0)
        train = pd.DataFrame({"tenure": rng.normal(30, 10, 2000), "plan": rng.choice(["a", "b"], 2000)})
        mlm.register_model({"w": 1}, "churn", reference_data=train)
        mlm.transition("churn", 1, "production")
    finally:
        SESSION.use_store(None)
    return store


async def call(
    jp_fetch: Any, method: str, *parts: str, body: Any = None, headers: Any = None, **params: Any
) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"method": method, "params": params, "headers": headers or {}}
    if body is not None:
        kwargs["body"] = body if isinstance(body, (bytes, str)) else json.dumps(body)
    try:
        response = await jp_fetch("mlm", "api", "monitor", *parts, **kwargs)
    except HTTPClientError as exc:
        assert exc.response is not None
        payload = json.loads(exc.response.body)
        assert set(payload) == {"message"} and "Traceback" not in payload["message"]
        return exc.code, payload
    return response.code, json.loads(response.body) if response.body else None


async def test_batches_report_series_rules(jp_fetch: Any, monitored: Store) -> None:
    code, body = await call(jp_fetch, "PUT", "churn", "rules", body={"rule": "rows < 10000 per 1h"})
    assert code == 200 and body["rule"]["expression"] == "rows < 10000 per 1h"
    rng = np.random.default_rng(1)
    batch = {"columns": {"tenure": rng.normal(50, 10, 500).tolist(), "plan": rng.choice(["a", "b"], 500).tolist()},
             "predictions": rng.integers(0, 2, 500).tolist(), "timestamp": T0}  # fmt: skip
    code, body = await call(jp_fetch, "POST", "churn", "batches", body=batch)
    assert code == 201 and body["rows"] == 500 and body["version"] == 1
    assert [a["expression"] for a in body["alerts"]] == ["rows < 10000 per 1h"]

    import pyarrow as pa

    table = pa.table({"tenure": rng.normal(30, 10, 300), "plan": rng.choice(["a", "b"], 300)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    code, body = await call(jp_fetch, "POST", "churn", "batches", body=sink.getvalue().to_pybytes(),
                            headers={"Content-Type": "application/vnd.apache.arrow.stream"}, timestamp=str(T0 + 60_000))  # fmt: skip
    assert code == 201 and body["rows"] == 300 and body["alerts"] == []  # the same stretch: no second alert

    code, report = await call(jp_fetch, "GET", "churn", "report", window="all")
    columns = {c["column"]: c for c in report["drift"]["columns"]}
    assert code == 200 and report["rows"] == 800 and set(columns) == {"tenure", "plan"}
    assert columns["tenure"]["drifted"] is True and columns["tenure"]["method"] == "wasserstein"
    code, series = await call(jp_fetch, "GET", "churn", "series", metric="rows", every="1d")
    assert code == 200 and sum(p["rows"] for p in series["points"]) == 800 and series["alerts"]
    code, status = await call(jp_fetch, "GET", "churn")
    assert code == 200 and status["status"] == "alert" and status["batches"] == 2
    code, listing = await call(jp_fetch, "GET")
    assert code == 200 and [m["model"] for m in listing["models"]] == ["churn"]
    code, alerts = await call(jp_fetch, "GET", "churn", "alerts")
    assert code == 200 and len(alerts["alerts"]) == 1
    rule_id = monitored.rules("churn")[0].id
    code, _ = await call(jp_fetch, "DELETE", "churn", "rules", rule_id[:8])
    assert code == 204 and monitored.rules("churn") == []


@pytest.mark.parametrize(
    ("method", "parts", "body", "code", "message"),
    [
        ("POST", ("churn", "batches"), {"columns": "x"}, 400, "columns must be an object of lists"),
        ("POST", ("churn", "batches"), {"columns": {"tenure": [1.0]}}, 400, "column 'plan' of churn/1's signature"),
        ("POST", ("churn", "batches"), {"columns": {"tenure": [1.0], "plan": ["a"]}, "extra": 1}, 400, "unknown field"),
        ("POST", ("churn", "batches"), {"columns": {"tenure": ["x"], "plan": ["a"]}}, 400, "must be numeric"),
        ("POST", ("nope", "batches"), {"columns": {"x": [1]}}, 404, "no registered model 'nope'"),
        ("POST", ("churn", "batches"), "not json", 400, "body must be JSON"),
        ("PUT", ("churn", "rules"), {"rule": "auc < 1"}, 400, "unknown metric 'auc'"),
        ("PUT", ("churn", "rules"), {"rule": 5}, 400, "must give the rule"),
        ("GET", ("churn", "report"), None, 400, "a window is"),
        ("GET", ("churn", "series"), None, 400, "say which metric"),
        ("GET", ("bad name!",), None, 400, "model name must be"),
    ],
)
async def test_bad_input_is_a_clear_json_error(
    jp_fetch: Any, monitored: Store, method: str, parts: tuple[str, ...], body: Any, code: int, message: str
) -> None:
    params = {"window": "soon"} if parts[-1] == "report" else {}
    got, payload = await call(jp_fetch, method, *parts, body=body, **params)
    assert got == code and message in payload["message"], payload
    assert monitored.batches("churn") == [] and monitored.rules("churn") == []
