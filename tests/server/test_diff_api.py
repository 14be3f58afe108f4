"""GET /mlm/api/diff in a real Jupyter server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from nbformat.v4 import new_code_cell, new_notebook
from tornado.httpclient import HTTPClientError

from jupyter_mlm.capture.snapshot import SnapshotWriter
from jupyter_mlm.store import open_store


@pytest.fixture
def two_runs(jp_serverapp: Any, tmp_path: Path) -> tuple[str, str]:
    store = open_store(str(tmp_path / "server-store"))
    exp = store.get_or_create_experiment("cmp")
    writer = SnapshotWriter(store)
    nb = json.loads(json.dumps(new_notebook(cells=[new_code_cell(f"x = {i}") for i in range(5)])))
    ids = []
    for name, depth in (("a", 6), ("b", 12)):
        run = store.create_run(exp.id, name)
        store.log_params(run.id, {"depth": depth})
        store.log_metric_batch(run.id, {"auc": ([0], [0.8 if name == "a" else 0.85], [0])})
        if name == "b":
            nb["cells"][2]["source"] = "x = 'changed'"
        writer.take(run, "end", notebook=nb, notebook_source="disk", executions=[], sources={},
                    environment={"python": {"version": "3.11"}, "packages": {"numpy": "1.0" if name == "a" else "2.0"}})  # fmt: skip
        store.end_run(run.id)
        ids.append(run.id)
    return ids[0], ids[1]


async def test_diff_json_with_nbdime_base(jp_fetch: Any, two_runs: tuple[str, str]) -> None:
    body = json.loads((await jp_fetch("mlm", "api", "diff", params={"a": "a", "b": "b"})).body)
    assert body["a"]["id"] == two_runs[0] and body["b"]["id"] == two_runs[1]
    assert body["params"]["changed"] == {"depth": ["6", "12"]}
    assert [m["key"] for m in body["metrics"]] == ["auc"]
    assert body["environment"]["packages"]["changed"] == {"numpy": ["1.0", "2.0"]}
    notebook = body["notebook"]
    assert notebook["summary"]["changed"] == 1 and len(notebook["base"]["cells"]) == 5
    assert notebook["diff"][0]["diff"][0]["key"] == 2


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"a": "a"}, 400, "give two runs"),
        ({"a": "a", "b": "a"}, 400, "same run"),
        ({"a": "a", "b": "zzz"}, 404, "no run"),
    ],
)
async def test_diff_bad_input(
    jp_fetch: Any, two_runs: tuple[str, str], params: dict[str, str], code: int, message: str
) -> None:
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("mlm", "api", "diff", params=params)
    assert caught.value.code == code
    assert message in json.loads(caught.value.response.body)["message"]  # type: ignore[union-attr]
