"""REST routes under /mlm/api; one module per resource."""

from __future__ import annotations

from typing import Any

from .status import StatusHandler

API = r"/mlm/api"


def routes() -> list[tuple[str, Any]]:
    return [
        (rf"{API}/status", StatusHandler),
    ]
