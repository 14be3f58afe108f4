"""REST routes for runs in a real Jupyter server: list, detail, metric series, artifacts."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from jupyter_server.utils import url_path_join
from tornado.httpclient import HTTPClientError

from jupyter_mlm.store import Store, open_store


@pytest.fixture
def server_store(jp_serverapp: Any, tmp_path: Path) -> Store:
    """The store the server under test uses, filled with three runs."""
    store = open_store(str(tmp_path / "server-store"))
    exp = store.get_or_create_experiment("churn")
    for name, lr, auc in [("a", 0.1, 0.7), ("b", 0.01, 0.9), ("c", 0.05, 0.8)]:
        run = store.create_run(exp.id, name, user="ana")
        store.log_params(run.id, {"lr": lr})
        n = 5000
        store.log_metric_batch(run.id, {"loss": (list(range(n)), [1 / (i + 1) for i in range(n)], [0] * n)})
        store.log_metric_batch(run.id, {"auc": ([0], [auc], [0]), "nan": ([0], [math.nan], [0])})
        digest = store.objects.put_bytes(f"report of {name}".encode())
        store.add_artifact(run.id, "reports/summary.txt", digest, 11)
        png = store.objects.put_bytes(b"\x89PNG\r\n\x1a\nfake")
        store.add_artifact(run.id, "roc.png", png, 12)
        store.add_artifact(run.id, "page.html", store.objects.put_bytes(b"<script>alert(1)</script>"), 25)
        if name != "c":
            store.end_run(run.id)
    return store


async def get_json(jp_fetch: Any, *parts: str, **params: Any) -> Any:
    response = await jp_fetch(*parts, params=params)
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def expect_error(jp_fetch: Any, code: int, *parts: str, **params: Any) -> str:
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch(*parts, params=params)
    assert caught.value.code == code
    assert caught.value.response is not None
    body = json.loads(caught.value.response.body)
    assert "traceback" not in body
    return str(body["message"])


async def test_list_filter_sort_page(jp_fetch: Any, server_store: Store) -> None:
    body = await get_json(jp_fetch, "mlm", "api", "runs")
    assert body["total"] == 3 and [r["name"] for r in body["runs"]] == ["c", "b", "a"]
    assert body["experiments"] == ["churn"]
    run = body["runs"][0]
    assert run["status"] == "running" and run["params"] == {"lr": "0.05"}
    assert run["metrics"]["auc"]["value"] == 0.8 and run["metrics"]["nan"]["value"] == "NaN"
    body = await get_json(jp_fetch, "mlm", "api", "runs", filter="metrics.auc >= 0.8", order_by="metrics.auc DESC")
    assert [r["name"] for r in body["runs"]] == ["b", "c"]
    body = await get_json(jp_fetch, "mlm", "api", "runs", order_by="name", limit="1", offset="1")
    assert [r["name"] for r in body["runs"]] == ["b"] and body["total"] == 3
    body = await get_json(jp_fetch, "mlm", "api", "runs", experiment="nope")
    assert body["total"] == 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"filter": "metrics.auc >"}, "incomplete filter"),
        ({"order_by": "bogus"}, "cannot order by"),
        ({"limit": "0"}, "limit must be an integer"),
        ({"limit": "ten"}, "limit must be an integer"),
        ({"offset": "-1"}, "offset must be an integer"),
    ],
)
async def test_list_bad_input_is_400(jp_fetch: Any, server_store: Store, params: dict[str, str], message: str) -> None:
    assert message in await expect_error(jp_fetch, 400, "mlm", "api", "runs", **params)


async def test_run_detail_by_id_prefix_and_name(jp_fetch: Any, server_store: Store) -> None:
    run_id = server_store.resolve_run("b").id
    for ref in (run_id, run_id[:8], "b"):
        body = await get_json(jp_fetch, "mlm", "api", "runs", ref)
        assert body["id"] == run_id and body["status"] == "finished"
        assert body["metrics"]["loss"]["count"] == 5000
        assert [a["path"] for a in body["artifacts"]] == ["page.html", "reports/summary.txt", "roc.png"]
    assert "no run" in await expect_error(jp_fetch, 404, "mlm", "api", "runs", "missing")


async def test_metric_series_is_downsampled_keeping_extremes(jp_fetch: Any, server_store: Store) -> None:
    body = await get_json(jp_fetch, "mlm", "api", "runs", "a", "metrics", "loss", max_points="100")
    assert body["total"] == 5000 and len(body["values"]) <= 100
    assert body["steps"][0] == 0 and body["steps"][-1] == 4999
    assert max(body["values"]) == 1.0 and body["steps"] == sorted(body["steps"])
    full = await get_json(jp_fetch, "mlm", "api", "runs", "a", "metrics", "auc")
    assert full["values"] == [0.7]
    assert "max_points" in await expect_error(
        jp_fetch, 400, "mlm", "api", "runs", "a", "metrics", "loss", max_points="2"
    )
    assert "no metric" in await expect_error(jp_fetch, 404, "mlm", "api", "runs", "a", "metrics", "absent")


async def test_artifact_download_and_safe_content_types(jp_fetch: Any, server_store: Store) -> None:
    response = await jp_fetch("mlm", "api", "runs", "a", "artifacts", "reports/summary.txt")
    assert response.body == b"report of a"
    assert (
        response.headers["Content-Disposition"] == "attachment; filename=\"summary.txt\"; filename*=UTF-8''summary.txt"
    )
    png = await jp_fetch("mlm", "api", "runs", "a", "artifacts", "roc.png")
    assert png.headers["Content-Type"] == "image/png" and png.body.startswith(b"\x89PNG")
    html = await jp_fetch("mlm", "api", "runs", "a", "artifacts", "page.html")
    assert html.headers["Content-Type"] == "application/octet-stream"
    assert html.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in html.headers["Content-Security-Policy"]


@pytest.mark.parametrize("name", ["文件.txt", "😀 report.bin", "\u202egnp.exe", "tab\there.bin", 'quo"te.bin'])
async def test_any_artifact_name_downloads_with_a_safe_header(jp_fetch: Any, server_store: Store, name: str) -> None:
    """RFC 6266/5987: the exact name percent-encoded, an ASCII fallback without controls or quotes."""
    from urllib.parse import unquote

    run = server_store.resolve_run("c")  # still running: artifacts can be added
    server_store.add_artifact(run.id, name, server_store.objects.put_bytes(b"x"), 1)
    response = await jp_fetch("mlm", "api", "runs", "c", "artifacts", name)  # jp_fetch encodes it
    header = response.headers["Content-Disposition"]
    assert response.body == b"x" and header.isascii() and header.isprintable()
    fallback, _, encoded = header.partition("; filename*=UTF-8''")
    assert unquote(encoded) == name and fallback.count('"') == 2


@pytest.mark.parametrize(
    "raw_path",
    ["..%2F..%2Fmlm.db", "%2e%2e/%2e%2e/etc/passwd", "reports/../../x", "%2Fetc%2Fpasswd", "reports%5C..%5Cx", "a//b"],
)
async def test_artifact_path_escapes_are_refused(
    http_server_client: Any, jp_base_url: str, jp_serverapp: Any, server_store: Store, raw_path: str
) -> None:
    token = jp_serverapp.identity_provider.token
    url = url_path_join(jp_base_url, "mlm/api/runs/a/artifacts/") + raw_path
    response = await http_server_client.fetch(url, headers={"Authorization": f"token {token}"}, raise_error=False)
    assert response.code in (400, 404), (raw_path, response.code)
    assert b"report of" not in response.body and b"SQLite" not in response.body
    if response.code == 400:
        assert "invalid artifact path" in json.loads(response.body)["message"]


async def test_double_encoded_escape_is_just_a_missing_artifact(jp_fetch: Any, server_store: Store) -> None:
    message = await expect_error(jp_fetch, 404, "mlm", "api", "runs", "a", "artifacts", quote("%2e%2e/x"))
    assert "no artifact" in message


async def test_the_first_page_names_the_keys_of_the_whole_result(jp_fetch: Any, server_store: Store) -> None:
    exp = server_store.get_or_create_experiment("wide")
    for i in range(5):
        run = server_store.create_run(exp.id, f"w{i}")
        server_store.log_params(run.id, {"rare": 1} if i == 0 else {"common": i, "other": i})
    first = await get_json(jp_fetch, "mlm", "api", "runs", experiment="wide", limit="1")
    # The page holds one run (w4: common, other); the columns come from all five.
    assert first["keys"] == {"params": ["common", "other", "rare"], "metrics": [], "tags": []}
    assert "keys" not in await get_json(jp_fetch, "mlm", "api", "runs", experiment="wide", limit="1", offset="1")
    without = await get_json(jp_fetch, "mlm", "api", "runs", experiment="wide", limit="1", keys="false")
    assert "keys" not in without and [r["name"] for r in without["runs"]] == [r["name"] for r in first["runs"]]
    await expect_error(jp_fetch, 400, "mlm", "api", "runs", keys="maybe")
    filtered = await get_json(jp_fetch, "mlm", "api", "runs", filter="params.rare = 1")
    assert filtered["keys"]["params"] == ["rare"]
    everything = await get_json(jp_fetch, "mlm", "api", "runs")
    assert everything["keys"]["params"][0] in ("common", "lr") and "auc" in everything["keys"]["metrics"]


async def test_a_run_says_how_many_snapshots_it_has_and_who_its_parent_is(jp_fetch: Any, server_store: Store) -> None:
    exp = server_store.get_or_create_experiment("nested")
    parent = server_store.create_run(exp.id, "sweep")
    child = server_store.create_run(exp.id, "trial", parent_id=parent.id)
    body = await get_json(jp_fetch, "mlm", "api", "runs", child.id)
    assert body["snapshots"] == 0 and body["parent"] == {"id": parent.id, "name": "sweep"}
    assert "parent" not in await get_json(jp_fetch, "mlm", "api", "runs", parent.id)


async def _send(jp_fetch: Any, method: str, *parts: str, body: Any = None) -> Any:
    response = await jp_fetch(*parts, method=method, body=None if body is None else json.dumps(body),
                              allow_nonstandard_methods=True)  # fmt: skip
    return json.loads(response.body)


async def test_runs_are_renamed_annotated_tagged_deleted_and_restored(jp_fetch: Any, server_store: Store) -> None:
    run = server_store.resolve_run("a")
    edited = await _send(jp_fetch, "PATCH", "mlm", "api", "runs", run.id,
                         body={"name": "a-final", "note": "# Why\nbetter", "tags": {"owner": "ana"}})  # fmt: skip
    assert edited["name"] == "a-final" and edited["note"] == "# Why\nbetter" and edited["tags"] == {"owner": "ana"}
    edited = await _send(jp_fetch, "PATCH", "mlm", "api", "runs", run.id, body={"delete_tags": ["owner"]})
    assert edited["tags"] == {}
    deleted = await _send(jp_fetch, "DELETE", "mlm", "api", "runs", run.id)
    assert deleted["deleted_ms"] is not None
    listed = await get_json(jp_fetch, "mlm", "api", "runs")
    assert "a-final" not in [r["name"] for r in listed["runs"]]
    gone = await get_json(jp_fetch, "mlm", "api", "runs", deleted="true")
    assert [r["name"] for r in gone["runs"]] == ["a-final"]
    restored = await _send(jp_fetch, "POST", "mlm", "api", "runs", run.id, "restore", body={})
    assert restored["deleted_ms"] is None
    assert "a-final" in [r["name"] for r in (await get_json(jp_fetch, "mlm", "api", "runs"))["runs"]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "a run edit takes"),
        ({"colour": "red"}, "a run edit takes"),
        ({"name": ""}, "name"),
        ({"tags": ["x"]}, "tags is an object"),
        ({"note": "x" * 100_001}, "at most 100,000"),
    ],
)
async def test_bad_run_edits_are_400(jp_fetch: Any, server_store: Store, body: Any, message: str) -> None:
    with pytest.raises(HTTPClientError) as caught:
        await _send(jp_fetch, "PATCH", "mlm", "api", "runs", "a", body=body)
    assert caught.value.code == 400 and message in json.loads(caught.value.response.body)["message"]


async def test_a_run_edit_is_all_or_nothing(jp_fetch: Any, server_store: Store) -> None:
    run = server_store.resolve_run("a")
    with pytest.raises(HTTPClientError) as caught:
        await _send(jp_fetch, "PATCH", "mlm", "api", "runs", run.id, body={"name": "renamed", "tags": {"": "x"}})
    assert caught.value.code == 400
    assert server_store.get_run(run.id).info.name == "a"  # the bad tag left the name as it was


async def test_a_running_run_is_not_deleted_over_rest(jp_fetch: Any, server_store: Store) -> None:
    with pytest.raises(HTTPClientError) as caught:
        await _send(jp_fetch, "DELETE", "mlm", "api", "runs", "c")  # still running
    assert caught.value.code == 409 and "still running" in json.loads(caught.value.response.body)["message"]


async def test_experiments_are_renamed_and_archived_over_rest(jp_fetch: Any, server_store: Store) -> None:
    server_store.get_or_create_experiment("other")
    renamed = await _send(jp_fetch, "PATCH", "mlm", "api", "experiments", "other", body={"name": "renamed"})
    assert renamed["name"] == "renamed"
    archived = await _send(jp_fetch, "PATCH", "mlm", "api", "experiments", "renamed", body={"archived": True})
    assert archived["archived_ms"] is not None
    listed = await get_json(jp_fetch, "mlm", "api", "experiments")
    assert [e["name"] for e in listed["experiments"]] == ["churn"]
    everything = await get_json(jp_fetch, "mlm", "api", "experiments", archived="true")
    assert [e["name"] for e in everything["experiments"]] == ["churn", "renamed"]
    assert (await get_json(jp_fetch, "mlm", "api", "runs"))["experiments"] == ["churn"]
    with pytest.raises(HTTPClientError) as caught:
        await _send(jp_fetch, "PATCH", "mlm", "api", "experiments", "nope", body={"archived": True})
    assert caught.value.code == 404


async def test_runs_export_as_csv_safe_for_spreadsheets(jp_fetch: Any, server_store: Store) -> None:
    import csv
    import io

    run = server_store.resolve_run("a")
    server_store.set_tags(run.id, {"formula": '=HYPERLINK("http://x")', "delta": "-0.5"})
    response = await jp_fetch("mlm", "api", "runs", params={"format": "csv", "filter": "params.lr > 0.001"})
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.body.decode())))
    assert sorted(r["name"] for r in rows) == ["a", "b", "c"]
    first = next(r for r in rows if r["name"] == "a")
    assert first["params.lr"] == "0.1" and float(first["metrics.auc"]) == 0.7
    assert first["tags.formula"].startswith("'=") and first["tags.delta"] == "-0.5"
    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("mlm", "api", "runs", params={"format": "xlsx"})
    assert caught.value.code == 400


async def test_refused_experiment_edits_change_nothing(jp_fetch: Any, server_store: Store) -> None:
    server_store.get_or_create_experiment("taken")
    with pytest.raises(HTTPClientError) as caught:
        await _send(jp_fetch, "PATCH", "mlm", "api", "experiments", "churn", body={"name": "taken", "archived": True})
    assert caught.value.code == 409 and "already an experiment" in json.loads(caught.value.response.body)["message"]
    churn = server_store.find_experiment("churn")
    assert churn is not None and churn.archived_ms is None  # the refused rename archived nothing
    for route, flag in ((("runs",), "deleted"), (("experiments",), "archived")):
        with pytest.raises(HTTPClientError) as caught:
            await jp_fetch("mlm", "api", *route, params={flag: "maybe"})
        assert caught.value.code == 400 and "true" in json.loads(caught.value.response.body)["message"]


async def test_runs_grouped_by_a_field_with_their_metrics(jp_fetch: Any, server_store: Store) -> None:
    exp = server_store.get_or_create_experiment("churn")
    extra = server_store.create_run(exp.id, "d")
    server_store.log_params(extra.id, {"lr": 0.1})
    server_store.log_metric_batch(extra.id, {"auc": ([0], [0.9], [0])})
    body = await get_json(jp_fetch, "mlm", "api", "runs", group_by="params.lr", metric="auc")
    assert body["by"] == "params.lr" and body["total"] == 3
    assert [(g["value"], g["runs"]) for g in body["groups"]] == [("0.01", 1), ("0.05", 1), ("0.1", 2)]
    auc = body["groups"][2]["metrics"]["auc"]
    assert (auc["count"], auc["min"], auc["max"]) == (2, 0.7, 0.9) and auc["mean"] == pytest.approx(0.8)
    assert list(body["groups"][0]["metrics"]) == ["auc"]  # only the metric asked for
    everything = await get_json(jp_fetch, "mlm", "api", "runs", group_by="status", filter="metrics.auc > 0.75")
    assert [(g["value"], g["runs"]) for g in everything["groups"]] == [("finished", 1), ("running", 2)]
    assert everything["groups"][0]["metrics"]["nan"] == {"count": 0, "mean": None, "min": None, "max": None}
    message = await expect_error(jp_fetch, 400, "mlm", "api", "runs", group_by="metrics.auc")
    assert "a metric varies run to run" in message
    message = await expect_error(jp_fetch, 400, "mlm", "api", "runs", group_by="params.lr", filter="auc >")
    assert "filter" in message


async def test_nested_runs_listed_as_trees(jp_fetch: Any, server_store: Store) -> None:
    exp = server_store.get_or_create_experiment("nested")
    parent = server_store.create_run(exp.id, "sweep")
    trials = [server_store.create_run(exp.id, f"trial-{i}", parent_id=parent.id) for i in range(3)]
    fold = server_store.create_run(exp.id, "fold", parent_id=trials[0].id)
    server_store.log_metric_batch(fold.id, {"auc": ([0], [0.99], [0])})
    flat = await get_json(jp_fetch, "mlm", "api", "runs", experiment="nested")
    assert flat["total"] == 5 and "children" not in flat
    roots = await get_json(jp_fetch, "mlm", "api", "runs", experiment="nested", tree="true")
    assert [r["name"] for r in roots["runs"]] == ["sweep"] and roots["total"] == 1
    assert roots["children"] == {parent.id: 3}
    below = await get_json(jp_fetch, "mlm", "api", "runs", experiment="nested", tree="true", parent=parent.id,
                           order_by="name")  # fmt: skip
    assert [r["name"] for r in below["runs"]] == ["trial-0", "trial-1", "trial-2"]
    assert below["children"] == {trials[0].id: 1} and "keys" not in below
    # Under a filter the tree is of the matching runs: the fold's ancestors do not match.
    matching = await get_json(jp_fetch, "mlm", "api", "runs", tree="true", filter="metrics.auc > 0.95")
    assert [r["name"] for r in matching["runs"]] == ["fold"] and matching["children"] == {}
    assert "no run" in await expect_error(jp_fetch, 404, "mlm", "api", "runs", tree="true", parent="f" * 32)
    assert "tree is true" in await expect_error(jp_fetch, 400, "mlm", "api", "runs", tree="yes")
