"""Persistence: the only package that imports SQLAlchemy or touches the object store's layout."""

from .location import StoreLocation, resolve_location
from .objects import ObjectStore, open_object_store
from .store import Store, open_store

__all__ = ["ObjectStore", "Store", "StoreLocation", "open_object_store", "open_store", "resolve_location"]
