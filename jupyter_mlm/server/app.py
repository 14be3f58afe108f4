"""The Jupyter server extension: resolves the store once, shares it with kernels, serves /mlm/api."""

from __future__ import annotations

import os

from jupyter_server.extension.application import ExtensionApp

from ..capture.notebook import NotebookWriter
from ..config import MLM
from ..store import open_store
from .handlers import routes


class MLMExtension(ExtensionApp):
    """Serves the REST API under ``/mlm/api``; configured through ``c.MLM.*``."""

    name = "jupyter_mlm"
    classes = [MLM]

    def initialize_settings(self) -> None:
        settings = MLM(parent=self)
        settings.stage_policy()  # a contradictory registry configuration stops the server here, clearly
        assert self.serverapp is not None
        store = open_store(settings.store_uri or None, settings.objects_uri or None, cwd=self.serverapp.root_dir)
        # Kernels started by this server inherit the environment: exporting the resolved
        # location makes every notebook write to the store this server reads.
        os.environ["MLM_STORE_URI"] = store.location.db_url
        os.environ["MLM_OBJECTS_URI"] = store.objects.uri
        # The same registry rules apply whether a change comes from the sidebar or a notebook.
        os.environ.update(settings.export_policy())
        self.settings.update({
            "mlm_store": store,
            "mlm_config": settings,
            "mlm_notebook_writer": NotebookWriter(store.objects),
            "mlm_max_notebook_bytes": settings.max_notebook_bytes,
        })  # fmt: skip
        if settings.store_data_max_bytes >= 0:
            os.environ["MLM_STORE_DATA_MAX_BYTES"] = str(settings.store_data_max_bytes)
        self.log.info("jupyter_mlm store: %s (schema %s)", store.location.display_url, store.schema_version)

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes())

    async def stop_extension(self) -> None:
        store = self.settings.get("mlm_store")
        if store is not None:
            store.close()
