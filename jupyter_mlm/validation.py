"""Input rules shared by every face: keys, names, param values, metric values.

Pure functions over plain values; the store enforces them on write and the kernel's metric
buffer applies the metric rules at ``log_metric`` time so a bad value fails where it was logged.
"""

from __future__ import annotations

import math
import re
from numbers import Integral, Real
from typing import Any

from .errors import UsageError

KEY_MAX = 250
_KEY_RE = re.compile(r"^[A-Za-z0-9_.\-/ ]{1,250}$")
PARAM_VALUE_MAX = 8000
RUN_STATUSES = ("running", "finished", "failed", "killed", "crashed")
END_STATUSES = ("finished", "failed", "killed", "crashed")


def check_key(key: Any, what: str = "key") -> str:
    if not isinstance(key, str) or not _KEY_RE.match(key) or key.strip() != key:
        shown = repr(key) if not isinstance(key, str) or len(key) <= 60 else repr(key[:60] + "…")
        raise UsageError(
            f"invalid {what} {shown}: use 1-{KEY_MAX} characters from letters, digits, _ . - / and space "
            "(no leading or trailing space)"
        )
    return key


def check_name(name: Any, what: str = "run name") -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > KEY_MAX or "\n" in name:
        raise UsageError(f"invalid {what} {name!r}: use a non-empty single line of at most {KEY_MAX} characters")
    return name.strip()


def metric_value(key: str, value: Any) -> float:
    """The metric value as a float; bools, strings and other non-numbers are refused."""
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, Real):
        type_name = getattr(type(value), "__name__", "?")
        if type_name in ("bool", "bool_"):  # numpy.bool (bool_) is not a bool subclass
            raise UsageError(f"metric {key!r} must be a number, not a boolean; log 1.0/0.0 if you mean that")
        if isinstance(value, str):
            raise UsageError(f"metric {key!r} must be a number, not the string {value!r}; convert it with float()")
        if hasattr(value, "item") and getattr(value, "size", 1) == 1 and type_name != "str_":
            return metric_value(key, value.item())
        raise UsageError(f"metric {key!r} must be a number, not {type_name}")
    try:
        return float(value)
    except OverflowError:
        raise UsageError(f"metric {key!r} is too large for a float64 ({len(str(value))} digits)") from None


def metric_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, Integral):
        raise UsageError(f"metric step must be an integer, not {step!r}")
    number: int = int(step)
    if not -(2**63) <= number < 2**63:
        raise UsageError(f"metric step {number} is out of the 64-bit range")
    return number


def param_value(key: str, value: Any) -> tuple[str, float | None]:
    """A param as stored: its text (``str()`` of the value) and its numeric reading, if any."""
    if value is None:
        text = "None"
    elif isinstance(value, str):
        text = value
    else:
        text = str(value)
    if len(text) > PARAM_VALUE_MAX:
        raise UsageError(f"param {key!r} is {len(text)} characters long; params hold at most {PARAM_VALUE_MAX}")
    number: float | None = None
    if not isinstance(value, bool):
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None and not math.isfinite(number):
            number = None
    return text, number


def check_status(status: Any, allowed: tuple[str, ...] = END_STATUSES) -> str:
    if status not in allowed:
        raise UsageError(f"invalid run status {status!r}: use one of {', '.join(allowed)}")
    return str(status)
