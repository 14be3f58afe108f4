"""GET /mlm/api/diff?a=RUN&b=RUN[&base=1][&strict=1]: a RunDiff as JSON, with nbdime's {base, diff}
for the notebook; ``strict`` keeps the volatile fields ignored by default."""

from __future__ import annotations

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
        strict = self.get_query_argument("strict", "0")
        if strict not in ("0", "1", "true", "false"):
            raise web.HTTPError(400, "strict must be 1 or 0")

        def compute() -> dict[str, Any]:
            result = diff_runs(self.store, a, b, strict=strict in ("1", "true"))
            body = result.to_dict()
            if with_base and result.notebook is not None:
                # nbdime's viewers render a diff against its base, normalised as the diff was computed.
                body["notebook"]["base"] = steady_notebook(self.store, result.notebook["manifest_a"], result.strict)
            return body

        self.write_json(await self.call(compute))
