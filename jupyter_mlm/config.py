"""User-facing settings: the ``MLM`` traitlets class (``c.MLM.*``) with ``MLM_*`` environment fallbacks."""

from __future__ import annotations

import os

from traitlets import Int, Unicode, default
from traitlets.config import Configurable


class MLM(Configurable):
    """Settings for jupyter_mlm, read by the server extension and the CLI."""

    store_uri = Unicode(
        help=(
            "Where run metadata lives: a folder, sqlite:////PATH/mlm.db or "
            "postgresql+psycopg://USER:PASSWORD@HOST/DB. Default: $MLM_STORE_URI, else the nearest "
            ".mlm/ folder at or above the notebook root (created there if none)."
        )
    ).tag(config=True)

    objects_uri = Unicode(
        help=(
            "Where blobs (artifacts, snapshots, models) live: a folder or any fsspec URL. "
            "Default: $MLM_OBJECTS_URI, else objects/ beside the database."
        )
    ).tag(config=True)

    store_data_max_bytes = Int(
        help=(
            "Data files a run reads up to this size are also stored (so the exact data can be "
            "restored); larger ones are only hashed. Default: $MLM_STORE_DATA_MAX_BYTES, else 50 MB."
        )
    ).tag(config=True)

    max_notebook_bytes = Int(
        50 * 1000 * 1000, help="Largest live notebook the frontend may post to /mlm/api/snapshots."
    ).tag(config=True)

    @default("store_data_max_bytes")
    def _default_store_data_max_bytes(self) -> int:
        raw = os.environ.get("MLM_STORE_DATA_MAX_BYTES", "")
        return int(raw) if raw.isdigit() else 50 * 1000 * 1000

    @default("store_uri")
    def _default_store_uri(self) -> str:
        return os.environ.get("MLM_STORE_URI", "")

    @default("objects_uri")
    def _default_objects_uri(self) -> str:
        return os.environ.get("MLM_OBJECTS_URI", "")
