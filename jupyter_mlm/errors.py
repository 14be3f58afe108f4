"""Exceptions shared by every layer.

Services raise these; faces map them once: the REST base handler to HTTP status codes,
the magics to ``UsageError`` lines, the CLI to exit codes. Every message is one line that
says what to do.
"""

from __future__ import annotations


class MLMError(Exception):
    """Base class; ``code`` is stable and machine-readable, ``http_status`` maps REST answers."""

    code = "MLM_ERROR"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(MLMError):
    """The caller passed something invalid; the message names the right form."""

    code = "INVALID_ARGUMENT"
    http_status = 400


class NotFound(MLMError):
    code = "NOT_FOUND"
    http_status = 404


class AlreadyExists(MLMError):
    code = "ALREADY_EXISTS"
    http_status = 409


class Conflict(MLMError):
    """The request is valid but contradicts the current state (e.g. a param changing value)."""

    code = "CONFLICT"
    http_status = 409


class PermissionDenied(MLMError):
    code = "PERMISSION_DENIED"
    http_status = 403


class IntegrityError(MLMError):
    """Stored data does not match its digest or hash chain."""

    code = "INTEGRITY"
    http_status = 500


class StoreError(MLMError):
    """The store cannot be opened or used (bad URI, unreachable server, no permission, newer schema)."""

    code = "STORE_UNAVAILABLE"
    http_status = 503


class DiskFull(StoreError):
    """The store's database or objects folder is on a full disk (or over quota): nothing was
    half-written, and what was being written is kept where it can be (the metric buffer)."""

    code = "DISK_FULL"
    http_status = 507
