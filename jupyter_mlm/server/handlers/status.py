"""GET /mlm/api/status: where the store is and what it holds."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ... import __version__
from .base import MLMHandler


class StatusHandler(MLMHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        status = await self.call(self.store.status)
        self.write_json({**status.to_dict(), "version": __version__})
