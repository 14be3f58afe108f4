"""GET /mlm/api/status: where the store is and what it holds."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, metadata, version

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import MLMHandler


def package_version() -> str:
    try:
        return version("jupyter_mlm")
    except PackageNotFoundError:
        return "0.0.0"


class StatusHandler(MLMHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        status = await self.call(self.store.status)
        self.write_json({**status.to_dict(), "version": package_version()})


_IMAGE_LINE = re.compile(r"^\s*!\[[^\]]*\]\([^)]*\)\s*$", re.MULTILINE)


def readme() -> str:
    """The README this version was installed with (its package metadata carries it), without
    the image lines (their files are in the repository, not here)."""
    try:
        text = metadata("jupyter_mlm").get_payload() or ""  # type: ignore[attr-defined]
    except PackageNotFoundError:
        text = ""
    return _IMAGE_LINE.sub("", str(text)).strip() or "# jupyter_mlm\n\nThe README was not installed with this copy."


class HelpHandler(MLMHandler):
    """GET /mlm/api/help: the README as markdown, for JupyterLab's Help menu."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json({"markdown": await self.call(readme), "version": package_version()})
