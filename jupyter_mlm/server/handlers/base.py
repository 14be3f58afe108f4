"""The one base handler: authentication, authorization, off-loop store calls, error mapping."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from tornado import web
from tornado.ioloop import IOLoop

from ...errors import MLMError
from ...identity import login_name
from ...store import Store
from ...wire import dumps

# jupyter_server's default IdentityProvider names token users with a fresh uuid4 hex per session.
ANONYMOUS_ID = re.compile(r"^[0-9a-f]{32}$")


def server_identity(user: Any) -> str:
    username = str(getattr(user, "username", None) or user or "")
    if not username or ANONYMOUS_ID.fullmatch(username):
        return login_name()
    return username


T = TypeVar("T")


@web.stream_request_body
class MLMHandler(APIHandler):
    """Every /mlm/api route derives from this; ``auth_resource`` feeds jupyter_server's Authorizer.

    Bodies are streamed and bounded: a request whose declared length is over the route's limit
    is refused (413) before any of it is read, one that keeps sending past it as soon as it
    crosses it, and an unauthenticated one before its body is read at all."""

    auth_resource = "mlm"
    # The largest body a route takes; routes that take notebooks or batches raise it.
    max_body_bytes = 1024 * 1024

    def body_limit(self) -> int:
        return self.max_body_bytes

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        self._chunks: list[bytes] = []
        self._received = 0
        if self.request.method in ("POST", "PUT", "PATCH"):
            if self.current_user is None:
                raise web.HTTPError(403)
            declared = self.request.headers.get("Content-Length", "")
            limit = self.body_limit()
            if declared.isdigit() and int(declared) > limit:
                raise web.HTTPError(413, "request body is %s bytes; the limit is %d", declared, limit)

    def data_received(self, chunk: bytes) -> None:
        self._received += len(chunk)
        limit = self.body_limit()
        if self._received > limit:
            raise web.HTTPError(413, "request body is over %d bytes; the limit is %d", limit, limit)
        self._chunks.append(chunk)

    def raw_body(self) -> bytes:
        """The request body, as streamed."""
        if self._chunks:
            self.request.body = b"".join(self._chunks)
            self._chunks = []
        return self.request.body

    @property
    def store(self) -> Store:
        return self.settings["mlm_store"]  # type: ignore[no-any-return]

    async def call(self, func: Callable[..., T], *args: Any) -> T:
        """Run a (blocking) service call on a worker thread; map its errors to HTTP answers."""
        try:
            return await IOLoop.current().run_in_executor(None, func, *args)
        except MLMError as exc:
            raise web.HTTPError(exc.http_status, "%s", exc.message, reason=exc.code) from None

    def json_object(self, limit: int, shape: str, too_large: str = "") -> dict[str, Any]:
        """The request body as a JSON object of at most ``limit`` bytes; ``shape`` names the
        expected fields in the 400 message, ``too_large`` says which setting raises the limit."""
        data = self.raw_body()
        size = len(data)
        if size > limit:
            raise web.HTTPError(413, "request body is %d bytes; the limit is %d%s", size, limit, too_large)
        try:
            body = json.loads(data or b"null")
        except (ValueError, RecursionError):
            raise web.HTTPError(400, "body must be JSON (nested at most a few hundred levels): %s", shape) from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "body must be a JSON object: %s", shape)
        return body

    @property
    def identity(self) -> str:
        """The person behind this request, the same name the kernel and CLI use: the hub's (or
        another identity provider's) user name; on a single-user server, whose token users get a
        random name per browser session, the OS login of the server, which is that one person."""
        return server_identity(self.current_user)

    def write_json(self, payload: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(dumps(payload))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # APIHandler would attach a traceback for unexpected errors; never leak one.
        self.set_header("Content-Type", "application/json")
        message: str = self._reason
        exc_info = kwargs.get("exc_info")
        error = exc_info[1] if exc_info else None
        if isinstance(error, web.HTTPError) and error.log_message:
            message = error.log_message % error.args if error.args else error.log_message
        elif status_code >= 500:
            message = "internal error in jupyter_mlm; see the server log"
        self.finish(json.dumps({"message": message}))
