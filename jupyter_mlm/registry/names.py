"""Names and numbers taken from users or the store: model names, aliases, version numbers,
file names inside a model. Checked once here, used everywhere."""

from __future__ import annotations

import re
from typing import Any

from ..errors import UsageError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,249}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_FILENAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\- ]{0,249}$")
MAX_VERSION = 2**31 - 1


def check_model_name(name: Any, what: str = "model name") -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UsageError(
            f"{what} must be 1-250 characters of letters, digits, '_', '.', '-' starting with a letter "
            f"or digit, not {name!r}"
        )
    return name


def check_version(version: Any) -> int:
    """A version number: a positive whole number in ASCII digits (``"²"`` is a digit to
    ``str.isdigit`` but no number), small enough for every database."""
    if isinstance(version, bool):
        raise UsageError(f"version must be a positive whole number, not {version!r}")
    if isinstance(version, str) and version.isascii() and version.isdigit():
        version = int(version)
    if not isinstance(version, int) or not 0 < version <= MAX_VERSION:
        raise UsageError(f"version must be a whole number from 1 to {MAX_VERSION}, not {version!r}")
    return version


def check_digest(digest: Any) -> str:
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise UsageError(f"not a blob digest: {digest!r}")
    return digest


def check_filename(name: Any) -> str:
    """A file name to create inside a model's own folder: one plain path component, never a
    path (no '/', '\\', '..', drive or absolute form), no control characters."""
    if not isinstance(name, str) or not _FILENAME.fullmatch(name) or name in (".", ".."):
        raise UsageError(
            f"model file name {name!r} is not a plain file name (letters, digits, '_', '.', '-', ' '); "
            "the version record may have been tampered with"
        )
    return name
