"""GET /mlm/api/diff?a=RUN&b=RUN[&base=1]: a RunDiff as JSON, with nbdime's {base, diff} for the notebook."""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ...diffs.runs import diff_runs, steady_notebook
from .base import MLMHandler


class DiffHandler(MLMHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        a, b = self.get_query_argument("a", ""), self.get_query_argument("b", "")
        if not a or not b:
            raise web.HTTPError(400, "give two runs: /mlm/api/diff?a=RUN&b=RUN (ids, id prefixes or names)")
        with_base = self.get_query_argument("base", "1") != "0"

        def compute() -> dict[str, Any]:
            result = diff_runs(self.store, a, b)
            body = result.to_dict()
            if with_base and result.notebook is not None:
                # nbdime's viewers render a diff against its base, normalised as the diff was computed.
                body["notebook"]["base"] = steady_notebook(self.store, result.notebook["manifest_a"])
            return body

        body = await self.call(compute)
        self.finish(json.dumps(body, allow_nan=False, default=str))
