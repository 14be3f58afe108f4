"""REST routes under /mlm/api; one module per resource."""

from __future__ import annotations

from typing import Any

from .diff import DiffHandler
from .monitor import (
    AlertsHandler,
    ArmsHandler,
    BatchHandler,
    ModelStatusHandler,
    MonitoredModelsHandler,
    ReportHandler,
    RulesHandler,
    SeriesHandler,
    TimelineHandler,
)
from .registry import (
    AliasHandler,
    AuditHandler,
    AuditVerifyHandler,
    DecisionHandler,
    MeHandler,
    ModelHandler,
    ModelListHandler,
    PolicyHandler,
    RollbackHandler,
    TransitionHandler,
    VersionHandler,
)
from .runs import (
    ArtifactHandler,
    ExperimentHandler,
    ExperimentListHandler,
    MetricSeriesHandler,
    RunHandler,
    RunListHandler,
    RunRestoreHandler,
)
from .snapshots import (
    DataCheckHandler,
    LiveNotebookHandler,
    SnapshotHandler,
    SnapshotNotebookHandler,
    SourceFileHandler,
)
from .status import HelpHandler, StatusHandler

API = r"/mlm/api"


def routes() -> list[tuple[str, Any]]:
    return [
        (rf"{API}/status", StatusHandler),
        (rf"{API}/help", HelpHandler),
        (rf"{API}/runs", RunListHandler),
        (rf"{API}/runs/(?P<ref>[^/]+)", RunHandler),
        (rf"{API}/runs/(?P<ref>[^/]+)/restore", RunRestoreHandler),
        (rf"{API}/experiments", ExperimentListHandler),
        (rf"{API}/experiments/(?P<name>[^/]+)", ExperimentHandler),
        (rf"{API}/runs/(?P<ref>[^/]+)/snapshot", SnapshotHandler),
        (rf"{API}/runs/(?P<ref>[^/]+)/snapshot/notebook", SnapshotNotebookHandler),
        (rf"{API}/runs/(?P<ref>[^/]+)/snapshot/sources/(?P<index>[^/]+)", SourceFileHandler),
        (rf"{API}/runs/(?P<ref>[^/]+)/check", DataCheckHandler),
        (rf"{API}/snapshots", LiveNotebookHandler),
        (rf"{API}/diff", DiffHandler),
        (rf"{API}/me", MeHandler),
        (rf"{API}/policy", PolicyHandler),
        (rf"{API}/models", ModelListHandler),
        (rf"{API}/models/(?P<name>[^/]+)", ModelHandler),
        (rf"{API}/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", VersionHandler),
        (rf"{API}/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/transition", TransitionHandler),
        (rf"{API}/models/(?P<name>[^/]+)/requests/(?P<request_id>[^/]+)/(?P<decision>[a-z]+)", DecisionHandler),
        (rf"{API}/models/(?P<name>[^/]+)/rollback", RollbackHandler),
        (rf"{API}/models/(?P<name>[^/]+)/aliases/(?P<alias>[^/]+)", AliasHandler),
        (rf"{API}/monitor", MonitoredModelsHandler),
        (rf"{API}/monitor/(?P<model>[^/]+)", ModelStatusHandler),
        (rf"{API}/monitor/(?P<model>[^/]+)/report", ReportHandler),
        (rf"{API}/monitor/(?P<model>[^/]+)/series", SeriesHandler),
        (rf"{API}/monitor/(?P<model>[^/]+)/alerts", AlertsHandler),
        (rf"{API}/monitor/(?P<model>[^/]+)/batches", BatchHandler),
        (rf"{API}/monitor/(?P<model>[^/]+)/rules", RulesHandler),
        (rf"{API}/monitor/(?P<model>[^/]+)/timeline", TimelineHandler),
        (rf"{API}/monitor/(?P<model>[^/]+)/arms", ArmsHandler),
        (rf"{API}/monitor/(?P<model>[^/]+)/rules/(?P<rule_id>[^/]+)", RulesHandler),
        (rf"{API}/audit", AuditHandler),
        (rf"{API}/audit/verify", AuditVerifyHandler),
        (rf"{API}/runs/(?P<ref>[^/]+)/metrics/(?P<key>.+)", MetricSeriesHandler),
        (rf"{API}/runs/(?P<ref>[^/]+)/artifacts/(?P<path>.+)", ArtifactHandler),
    ]
