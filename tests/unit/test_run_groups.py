"""Runs grouped by a field with aggregated metrics, and nested runs as trees (issue 16, Table):
decided in SQL on both backends, behind mlm.group_runs, the CLI and REST (tests/server)."""

from __future__ import annotations

import math

import pytest

import jupyter_mlm as mlm
from jupyter_mlm.store import Store


@pytest.fixture
def sweep(session: Store) -> Store:
    rows = [
        ("a", {"lr": "0.1", "model": "xgb"}, {"auc": 0.80, "loss": 0.5}, {"team": "red"}),
        ("b", {"lr": "0.1", "model": "xgb"}, {"auc": 0.90}, {"team": "red"}),
        ("c", {"lr": "0.01", "model": "lgbm"}, {"auc": 0.70, "loss": 0.7}, {}),
        ("d", {"lr": "1", "model": "lgbm"}, {"auc": float("nan")}, {"team": "blue"}),
        ("e", {"model": "logreg"}, {"auc": 0.60}, {}),
    ]
    for name, params, metrics, tags in rows:
        with mlm.start_run(name, experiment="groups", tags=tags):
            mlm.log_params(params)
            mlm.log_metrics(metrics)
    with mlm.start_run("other", experiment="elsewhere"):
        mlm.log_metric("auc", 0.5)
    return session


def test_groups_by_a_param_in_numeric_order_with_metric_summaries(sweep: Store) -> None:
    groups, total = sweep.group_runs("params.lr", ["groups"])
    assert total == 4
    assert [(g.value, g.runs) for g in groups] == [("0.01", 1), ("0.1", 2), ("1", 1), (None, 1)]
    auc = groups[1].metrics["auc"]
    assert (auc.count, auc.min, auc.max) == (2, 0.80, 0.90)
    assert math.isclose(auc.mean or 0, 0.85)
    assert groups[1].metrics["loss"].count == 1  # only a logged loss counts
    nan_only = groups[2].metrics["auc"]  # NaN is left out of every summary
    assert (nan_only.count, nan_only.mean, nan_only.min) == (0, None, None)


def test_groups_by_tag_experiment_and_status_and_follow_the_filter(sweep: Store) -> None:
    by_tag, _ = sweep.group_runs("tags.team", ["groups"])
    assert [(g.value, g.runs) for g in by_tag] == [("blue", 1), ("red", 2), (None, 2)]
    by_experiment, _ = sweep.group_runs("experiment")
    assert [(g.value, g.runs) for g in by_experiment] == [("elsewhere", 1), ("groups", 5)]
    filtered, _ = sweep.group_runs("params.model", None, "metrics.auc >= 0.7")
    assert [(g.value, g.runs) for g in filtered] == [("lgbm", 1), ("xgb", 2)]
    only_loss, _ = sweep.group_runs("status", ["groups"], metrics=["loss"])
    assert [(g.value, g.runs, list(g.metrics)) for g in only_loss] == [("finished", 5, ["loss"])]


def test_many_values_are_capped_and_counted(sweep: Store) -> None:
    groups, total = sweep.group_runs("params.lr", ["groups"], limit=2)
    assert total == 4
    assert [(g.value, g.runs) for g in groups] == [("0.01", 1), ("0.1", 2)]  # the largest kept


@pytest.mark.parametrize(
    ("by", "message"),
    [
        ("metrics.auc", "a metric varies run to run"),
        ("params.", "cannot group by"),
        ("start", "cannot group by"),
        ("", "group by one of"),
    ],
)
def test_a_wrong_field_says_what_can_be_grouped(sweep: Store, by: str, message: str) -> None:
    with pytest.raises(mlm.UsageError, match=message):
        sweep.group_runs(by)


def test_the_api_gives_a_frame_and_the_cli_a_table(
    sweep: Store, store_uri: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from jupyter_mlm.cli import main as cli

    frame = mlm.group_runs("params.model", experiment="groups")
    assert list(frame["params.model"]) == ["lgbm", "logreg", "xgb"]
    assert list(frame["runs"]) == [2, 1, 2]
    assert frame["metrics.auc.mean"].tolist()[2] == pytest.approx(0.85)
    assert cli(["--store", store_uri, "runs", "list", "-e", "groups", "--group-by", "params.lr"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["PARAMS.LR", "RUNS", "MEAN", "auc", "MEAN", "loss"]
    assert lines[2].split() == ["0.1", "2", "0.85", "0.5"]
    assert lines[-1].split()[:2] == ["(none)", "1"]
    assert cli(["--store", store_uri, "runs", "list", "--group-by", "metrics.auc"]) == 1
    assert "a metric varies run to run" in capsys.readouterr().err


def test_nested_runs_come_as_roots_with_child_counts(session: Store) -> None:
    with mlm.start_run("sweep", experiment="tree") as parent:
        for index in range(3):
            with mlm.start_run(f"trial-{index}", parent=parent) as child:
                mlm.log_metric("auc", 0.7 + index / 10)
                if index == 2:
                    with mlm.start_run("fold", parent=child):
                        mlm.log_metric("auc", 0.95)
    with mlm.start_run("solo", experiment="tree"):
        pass
    roots, total = session.search_runs(["tree"], roots=True)
    assert total == 2 and sorted(r.info.name for r in roots) == ["solo", "sweep"]
    counts = session.child_counts([r.info.id for r in roots], ["tree"])
    assert counts == {parent.id: 3}
    children, _ = session.search_runs(["tree"], f"parent_id = '{parent.id}'", "name")
    assert [r.info.name for r in children] == ["trial-0", "trial-1", "trial-2"]
    assert session.child_counts([r.info.id for r in children])[children[2].info.id] == 1
    # A child whose parent does not match the filter is a root of the filtered result.
    matching, _ = session.search_runs(["tree"], "metrics.auc > 0.75", "name", roots=True)
    assert [r.info.name for r in matching] == ["trial-1", "trial-2"]
    assert session.child_counts([r.info.id for r in matching], ["tree"], "metrics.auc > 0.75") == {
        children[2].info.id: 1
    }


def test_experiment_user_and_parent_id_are_filter_fields(sweep: Store) -> None:
    assert len(mlm.search_runs(filter="experiment = 'elsewhere'")) == 1
    assert len(mlm.search_runs(filter="experiment in ('groups', 'elsewhere') and parent_id is null")) == 6
    user = sweep.search_runs(["groups"])[0][0].info.user
    assert len(mlm.search_runs("groups", filter=f"user = '{user}'")) == 5
    with pytest.raises(mlm.UsageError, match="parent_id takes = or !="):
        mlm.search_runs(filter="parent_id > 3")
