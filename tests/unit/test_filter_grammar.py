"""The run filter grammar (issue 16, Search): or, parentheses, not, in (…), like, is [not] null —
decided in SQL on both backends, the same grammar behind mlm.search_runs, REST, the CLI and
%mlm_runs."""

from __future__ import annotations

import pytest

import jupyter_mlm as mlm
from jupyter_mlm.store import Store


@pytest.fixture
def runs(session: Store) -> Store:
    rows = [
        ("xgb-1", {"model": "xgb", "depth": 4}, {"auc": 0.81}, {"reviewed": "yes"}, "finished"),
        ("xgb-2", {"model": "xgb", "depth": 8}, {"auc": 0.86}, {}, "finished"),
        ("lgbm", {"model": "LightGBM", "depth": 6}, {"auc": 0.84}, {"owner": "bo"}, "failed"),
        ("linear", {"model": "logreg"}, {"auc": 0.72}, {"reviewed": "no", "tries": 3}, "finished"),
    ]
    for name, params, metrics, tags, status in rows:
        mlm.start_run(name, experiment="grammar")
        mlm.log_params(params)
        mlm.log_metrics(metrics)
        if tags:
            mlm.set_tags(tags)
        mlm.end_run(status)
    return session


def names(expression: str) -> list[str]:
    return (
        sorted(mlm.search_runs("grammar", filter=expression)["name"])
        if len(mlm.search_runs("grammar", filter=expression))
        else []
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("params.model = 'xgb' or params.model = 'logreg'", ["linear", "xgb-1", "xgb-2"]),
        ("metrics.auc > 0.8 and (params.depth = 4 or params.depth = 6)", ["lgbm", "xgb-1"]),
        ("(metrics.auc > 0.85 or status = 'failed') and params.model like 'l%'", ["lgbm"]),
        ("metrics.auc > 0.85 or status = 'failed' and params.model like 'l%'", ["lgbm", "xgb-2"]),  # and first
        ("status in ('failed', 'crashed')", ["lgbm"]),
        ("status not in ('failed', 'crashed')", ["linear", "xgb-1", "xgb-2"]),
        ("params.depth in (4, 8)", ["xgb-1", "xgb-2"]),
        ("params.depth not in (4, 8)", ["lgbm"]),  # linear has no depth: no comparison holds for it
        ("params.model like 'light%'", ["lgbm"]),  # case-insensitive
        ("params.model not like 'x%'", ["lgbm", "linear"]),
        ("name like 'xgb-_'", ["xgb-1", "xgb-2"]),
        ("tags.reviewed is null", ["lgbm", "xgb-2"]),
        ("tags.reviewed is not null", ["linear", "xgb-1"]),
        ("params.depth is null", ["linear"]),
        ("metrics.auc is not null and notebook_id is null", ["lgbm", "linear", "xgb-1", "xgb-2"]),
        ("not params.depth = 4", ["lgbm", "linear", "xgb-2"]),  # not: also the runs without depth
        ("params.depth != 4", ["lgbm", "xgb-2"]),
        ("not (params.model = 'xgb' or tags.owner = 'bo')", ["linear"]),
        ("tags.tries in (3, 4)", ["linear"]),  # tags are texts: 3 matches "3"
        ("metrics.auc in (0.81, 0.72)", ["linear", "xgb-1"]),
        ("PARAMS.model = 'xgb' OR Name = 'linear'", []),  # field names keep their case; keywords do not
    ],
)
def test_the_grammar_decides_in_sql(runs: Store, expression: str, expected: list[str]) -> None:
    if expression.startswith("PARAMS"):
        with pytest.raises(mlm.UsageError, match=r"cannot read filter|unknown field"):
            names(expression)
        return
    assert names(expression) == expected


def test_the_cli_reads_the_same_grammar(
    runs: Store, store_uri: str, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from jupyter_mlm.cli import main as cli

    args = ["--store", store_uri, "runs", "list", "-e", "grammar", "-f", "status = 'failed' or tags.owner is not null"]
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "lgbm" in out and "xgb-1" not in out


def test_or_keeps_the_condition_limit(runs: Store) -> None:
    with pytest.raises(mlm.UsageError, match="at most 100 conditions"):
        mlm.search_runs(filter=" or ".join(["metrics.auc > 0.5"] * 101))
    assert len(mlm.search_runs("grammar", filter=" or ".join(["metrics.auc > 0.8"] * 100))) == 3
