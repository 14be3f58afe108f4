"""Request bodies → validated columns, in the shapes MLflow's scoring server accepts.

JSON bodies: ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}``,
``{"dataframe_records": [{...}, ...]}``, ``{"instances": [...]}`` / ``{"inputs": [...]}`` (rows as
objects, or as lists in signature order), and for ``/predict`` also a bare list of records or
``{"columns": [...], "data": [...]}``. CSV bodies (``text/csv``) have a header row. Every column
of the version's signature must be present and of its type; a wrong call gets one line naming the
column (and row) that is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from ..errors import UsageError

MAX_ROWS = 100_000
NUMERIC_TYPES = ("integer", "float")


class BadInput(UsageError):
    """A request the server refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _rows_to_columns(rows: Sequence[Any], names: Sequence[str] | None) -> dict[str, list[Any]]:
    if not rows:
        raise BadInput("the request holds no rows")
    if all(isinstance(r, Mapping) for r in rows):
        keys: dict[str, None] = {}
        for row in rows:
            keys.update(dict.fromkeys(row))
        return {str(k): [row.get(k) for row in rows] for k in keys}
    if names is None:
        raise BadInput("rows given as lists need column names: send dataframe_split with 'columns'")
    width = len(names)
    for n, row in enumerate(rows):
        if not isinstance(row, (list, tuple)) or len(row) != width:
            raise BadInput(f"row {n} must be a list of {width} values ({', '.join(names)})")
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def _split(part: Any) -> dict[str, list[Any]]:
    if not isinstance(part, Mapping) or not isinstance(part.get("columns"), list):
        raise BadInput('dataframe_split must be {"columns": [...], "data": [[...], ...]}')
    data = part.get("data")
    if not isinstance(data, list):
        raise BadInput("dataframe_split needs 'data': a list of rows")
    return _rows_to_columns(data, [str(c) for c in part["columns"]])


def parse_body(body: bytes, content_type: str, names: Sequence[str] | None) -> dict[str, list[Any]]:
    """The request's columns, by name. ``names`` (the signature's order) reads rows sent as lists."""
    kind = (content_type or "application/json").split(";")[0].strip().lower()
    if kind == "text/csv":
        try:
            reader = csv.reader(io.StringIO(body.decode("utf-8")))
            header = next(reader)
        except (UnicodeDecodeError, StopIteration, csv.Error) as error:
            raise BadInput(f"the CSV body cannot be read: {error}") from None
        return _rows_to_columns([_csv_values(r) for r in reader], header)
    if kind not in ("application/json", ""):
        raise BadInput(f"send application/json or text/csv, not {kind}", status=415)
    payload = _loads(body)
    if isinstance(payload, list):
        return _rows_to_columns(payload, names)
    if not isinstance(payload, Mapping):
        raise BadInput("the body must be a JSON object (dataframe_split, dataframe_records or instances) or a list")
    if "dataframe_split" in payload:
        return _split(payload["dataframe_split"])
    if "dataframe_records" in payload:
        records = payload["dataframe_records"]
        if not isinstance(records, list):
            raise BadInput("dataframe_records must be a list of objects")
        return _rows_to_columns(records, names)
    for key in ("instances", "inputs"):
        if key in payload:
            value = payload[key]
            if isinstance(value, Mapping):  # columnar: {"col": [values]}
                return {str(k): v if isinstance(v, list) else [v] for k, v in value.items()}
            if not isinstance(value, list):
                raise BadInput(f"{key} must be a list of rows")
            return _rows_to_columns(value, names)
    if "columns" in payload and "data" in payload:
        return _split(payload)
    raise BadInput("say what to predict on: dataframe_split, dataframe_records, instances or inputs")


def _csv_values(row: list[str]) -> list[Any]:
    out: list[Any] = []
    for text in row:
        if text == "":
            out.append(None)
            continue
        try:
            out.append(float(text) if any(c in text for c in ".eEn") else int(text))
        except ValueError:
            out.append(text)
    return out


def check_columns(
    columns: dict[str, list[Any]], signature: Sequence[tuple[str, str]] | None, model: str
) -> dict[str, list[Any]]:
    """The columns in the signature's order, each checked against its type."""
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise BadInput("every column must have the same number of rows")
    rows = lengths.pop()
    if rows == 0:
        raise BadInput("the request holds no rows")
    if rows > MAX_ROWS:
        raise BadInput(f"a request holds at most {MAX_ROWS:,} rows, not {rows:,}; split it", status=413)
    if not signature:
        return columns
    expected = [name for name, _ in signature]
    unknown = [name for name in columns if name not in dict(signature)]
    if unknown:
        raise BadInput(f"column {unknown[0]!r} is not an input of {model} (inputs: {', '.join(expected)})")
    out: dict[str, list[Any]] = {}
    for name, kind in signature:
        if name not in columns:
            raise BadInput(f"column {name!r} is missing (inputs of {model}: {', '.join(expected)})")
        values = columns[name]
        if kind in NUMERIC_TYPES:
            for n, value in enumerate(values):
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise BadInput(f"column {name!r} must be {kind} (a number); row {n} holds {value!r:.40}")
                if isinstance(value, float) and math.isinf(value):
                    raise BadInput(f"column {name!r} must be finite; row {n} holds {value}")
        elif kind == "boolean":
            for n, value in enumerate(values):
                if value is not None and not isinstance(value, bool):
                    raise BadInput(f"column {name!r} must be true or false; row {n} holds {value!r:.40}")
        else:
            for n, value in enumerate(values):
                if isinstance(value, (list, dict)):
                    raise BadInput(f"column {name!r} takes single values; row {n} holds a {type(value).__name__}")
        out[name] = values
    return out


@dataclass
class Rows:
    """A request's rows, checked: a float matrix when every input is numeric (what the model and
    monitoring take without a per-value pass), else the columns as lists."""

    names: list[str]
    matrix: np.ndarray | None
    columns: dict[str, list[Any]] | None

    def __len__(self) -> int:
        if self.matrix is not None:
            return int(self.matrix.shape[0])
        return len(next(iter((self.columns or {"": []}).values())))

    def arrays(self) -> dict[str, np.ndarray]:
        """Per-column arrays (monitoring's input)."""
        if self.matrix is not None:
            return {name: self.matrix[:, i] for i, name in enumerate(self.names)}
        out: dict[str, np.ndarray] = {}
        for name, values in (self.columns or {}).items():
            try:
                out[name] = np.asarray([np.nan if v is None else v for v in values], dtype=float)
            except (TypeError, ValueError):
                out[name] = np.asarray(["" if v is None else str(v) for v in values], dtype=object)
        return out


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadInput(f"the body is not JSON: {error}") from None
    except RecursionError:
        raise BadInput("the body nests too deeply to be rows of a table") from None


# orjson reads integer literals past 64 bits as floats, where Python's json keeps them exact.
_EXACT_INTEGERS = float(2**63)


def _matrix_from_orjson(body: bytes, signature: Sequence[tuple[str, str]]) -> np.ndarray | None:
    """The fast path's matrix from orjson (~10x Python's json on rows of floats), where the two
    provably agree: anything orjson refuses (NaN/Infinity literals, another encoding, not JSON)
    and any value as large as 2**63 go to Python's json instead."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    matrix = _fast_matrix(body, payload, signature)
    if matrix is not None and matrix.size and float(np.abs(matrix).max()) >= _EXACT_INTEGERS:
        return None
    return matrix


def _fast_matrix(body: bytes, payload: Any, signature: Sequence[tuple[str, str]]) -> np.ndarray | None:
    """The rows of a ``dataframe_split`` (or ``instances`` lists) body as one float matrix, when
    that is provably what the per-value checks would accept: every input numeric, the columns
    exactly the signature's, no JSON booleans anywhere, no value numpy would have to guess at."""
    if any(kind not in NUMERIC_TYPES for _, kind in signature) or b"true" in body or b"false" in body:
        return None
    names = [name for name, _ in signature]
    if isinstance(payload, Mapping) and isinstance(payload.get("dataframe_split"), Mapping):
        part = payload["dataframe_split"]
        if part.get("columns") != names:
            return None
        data = part.get("data")
    elif isinstance(payload, Mapping) and isinstance(payload.get("instances"), list):
        data = payload["instances"]
    else:
        return None
    if not isinstance(data, list) or not data or not all(isinstance(row, list) for row in data):
        return None
    try:
        raw = np.asarray(data)
    except (TypeError, ValueError):
        return None  # ragged rows: the per-value path says which
    if raw.dtype.kind not in "iuf":  # texts (numpy would parse "1.5"), or None among numbers
        return None
    matrix = raw.astype(np.float64, copy=False)
    if matrix.ndim != 2 or matrix.shape[1] != len(names) or np.isinf(matrix).any():
        return None
    return matrix


def read_rows(body: bytes, content_type: str, signature: Sequence[tuple[str, str]] | None, model: str) -> Rows:
    """Parse and check a request body against the version's signature."""
    kind = (content_type or "application/json").split(";")[0].strip().lower()
    if signature and kind in ("application/json", ""):
        matrix = _matrix_from_orjson(body, signature)
        if matrix is None:
            matrix = _fast_matrix(body, _loads(body), signature)
        if matrix is not None:
            if matrix.shape[0] > MAX_ROWS:
                raise BadInput(
                    f"a request holds at most {MAX_ROWS:,} rows, not {matrix.shape[0]:,}; split it", status=413
                )
            return Rows([name for name, _ in signature], matrix, None)
    names = [name for name, _ in signature] if signature else None
    columns = check_columns(parse_body(body, content_type, names), signature, model)
    if signature and all(k in NUMERIC_TYPES for _, k in signature):
        matrix = np.asarray([[np.nan if v is None else v for v in columns[n]] for n, _ in signature], dtype=float).T
        return Rows([n for n, _ in signature], np.ascontiguousarray(matrix), None)
    return Rows(list(columns), None, columns)
