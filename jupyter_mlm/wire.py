"""The one JSON policy for every face that emits JSON (REST, ``jupyter mlm … --json``).

JSON has no NaN or infinity, and ``json.dumps`` would write them as bare ``NaN``/``Infinity``,
which strict parsers (browsers' ``JSON.parse``, jq) reject. Here they travel as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` wherever they occur; the labextension's
``format.ts`` reads them back. Dataclasses become objects, tuples and sets lists, anything else
unknown its ``str``. Output is always strict JSON (``allow_nan=False``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any


def number(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def jsonable(value: Any) -> Any:
    """``value`` with every non-finite float replaced and every container made JSON-ready."""
    if isinstance(value, float):
        return number(value)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return str(value)


def dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(jsonable(value), allow_nan=False, indent=indent, ensure_ascii=False)
