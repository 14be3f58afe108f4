"""GET /mlm/api/status: where the store is and what it holds."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

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
