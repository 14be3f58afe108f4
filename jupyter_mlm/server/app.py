"""The Jupyter server extension: resolves the store once, shares it with kernels, serves /mlm/api."""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.extension.application import ExtensionApp

from ..capture.notebook import NotebookWriter
from ..config import MLM
from ..errors import MLMError
from ..identity import login_name
from ..registry import Governance
from ..store import open_store
from .handlers import routes
from .notebooks import pre_save_hook, server_key

_CONTENTS_MANAGERS = (
    "ContentsManager", "FileContentsManager", "LargeFileManager",
    "AsyncContentsManager", "AsyncFileContentsManager", "AsyncLargeFileManager",
)  # fmt: skip


def install_checkpoints(config: Any) -> bool:
    """Make jupyter_server keep every checkpoint in the object store; False (and nothing changed)
    when some contents manager already has a ``checkpoints_class`` configured."""
    if any("checkpoints_class" in config.get(name, {}) for name in _CONTENTS_MANAGERS):
        return False
    config.ContentsManager.checkpoints_class = "jupyter_mlm.server.checkpoints.MLMCheckpoints"
    config.AsyncContentsManager.checkpoints_class = "jupyter_mlm.server.checkpoints.AsyncMLMCheckpoints"
    return True


class MLMExtension(ExtensionApp):
    """Serves the REST API under ``/mlm/api``; configured through ``c.MLM.*``."""

    name = "jupyter_mlm"
    classes = [MLM]

    def _link_jupyter_server_extension(self, serverapp: Any) -> None:
        super()._link_jupyter_server_extension(serverapp)
        # A server extension's jupyter_server_config.d file only enables it (jupyter_server reads
        # nothing else from there), and linking is the last moment before the contents manager is
        # built: the checkpoints class is chosen here, unless the user chose one themselves.
        if MLM(parent=self).unlimited_checkpoints:
            install_checkpoints(serverapp.config)

    def initialize_settings(self) -> None:
        settings = MLM(parent=self)
        assert self.serverapp is not None
        store = open_store(settings.store_uri or None, settings.objects_uri or None, cwd=self.serverapp.root_dir)
        configured = settings.configured_policy()
        if configured:
            # The stage policy lives in the store (every face applies the same one); the server's
            # configuration sets it, as an audited change by whoever runs the server. A
            # contradictory configuration stops the server here, clearly.
            try:
                Governance(store, login_name()).set_policy("from the Jupyter server's configuration", **configured)
            except MLMError as exc:
                store.close()
                raise ValueError(f"c.MLM registry settings: {exc}") from None
        # Kernels started by this server inherit the environment: exporting the resolved
        # location makes every notebook write to the store this server reads.
        os.environ["MLM_STORE_URI"] = store.location.db_url
        os.environ["MLM_OBJECTS_URI"] = store.objects.uri
        key = server_key(self.serverapp.root_dir)
        contents = getattr(self.serverapp, "contents_manager", None)
        if contents is not None and hasattr(contents, "register_pre_save_hook"):
            contents.register_pre_save_hook(pre_save_hook(store, key))
        self.settings.update({
            "mlm_store": store,
            "mlm_server_key": key,
            "mlm_config": settings,
            "mlm_notebook_writer": NotebookWriter(store.objects),
            "mlm_max_notebook_bytes": settings.max_notebook_bytes,
        })  # fmt: skip
        if settings.capture_exclude:
            os.environ["MLM_CAPTURE_EXCLUDE"] = ",".join(settings.capture_exclude)
        os.environ["MLM_CAPTURE_OUTPUT"] = "1" if settings.capture_output else "0"
        if settings.system_metrics_seconds < 0:
            raise ValueError("c.MLM.system_metrics_seconds must be 0 (off) or more")
        os.environ["MLM_SYSTEM_METRICS_SECONDS"] = repr(settings.system_metrics_seconds)
        if settings.store_data_max_bytes >= 0:
            os.environ["MLM_STORE_DATA_MAX_BYTES"] = str(settings.store_data_max_bytes)
        self.log.info("jupyter_mlm store: %s (schema %s)", store.location.display_url, store.schema_version)
        if settings.run_jobs:
            self._start_runner(settings, self.serverapp.root_dir)

    def _start_runner(self, settings: MLM, root: str) -> None:
        """Run queued retraining jobs and decide promotion/rollback policies while the server
        runs (what `jupyter mlm worker` does headless), on a thread with a store of its own."""
        import threading
        from pathlib import Path

        from ..loop.jobs import Runner
        from ..loop.policy import Loop

        store = open_store(settings.store_uri or os.environ["MLM_STORE_URI"], os.environ["MLM_OBJECTS_URI"])
        runner = Runner(store, Path(root), settings.job_command)
        loop = Loop(store, login_name())

        def evaluate() -> None:
            try:
                loop.evaluate_all()
            except MLMError as error:
                self.log.warning("jupyter_mlm loop: %s", error)

        def run() -> None:
            try:
                runner.run(poll_seconds=5.0, evaluate=evaluate)
            except Exception:  # a broken runner must not take the server with it
                self.log.exception("jupyter_mlm job runner stopped")

        self._runner = runner
        threading.Thread(target=run, name="mlm-job-runner", daemon=True).start()

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes())

    async def stop_extension(self) -> None:
        runner = getattr(self, "_runner", None)
        if runner is not None:
            runner.stopping.set()
        store = self.settings.get("mlm_store")
        if store is not None:
            store.close()
