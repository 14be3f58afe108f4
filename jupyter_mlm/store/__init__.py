"""Persistence: the only package that imports SQLAlchemy or touches the object store's layout."""

from .filter import Condition, parse_filter
from .location import StoreLocation, resolve_location
from .metrics import MetricSeries
from .objects import ObjectStore, open_object_store
from .runs import check_artifact_path
from .store import DEFAULT_EXPERIMENT, Store, open_store

__all__ = [
    "DEFAULT_EXPERIMENT",
    "Condition",
    "MetricSeries",
    "ObjectStore",
    "Store",
    "StoreLocation",
    "check_artifact_path",
    "open_object_store",
    "open_store",
    "parse_filter",
    "resolve_location",
]
