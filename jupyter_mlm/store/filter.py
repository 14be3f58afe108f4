"""The run filter language, parsed without ``eval``.

Grammar (case-insensitive keywords)::

    filter     := condition ("and" condition)*
    condition  := field operator value
    field      := "params." KEY | "metrics." KEY | "tags." KEY | "status" | "name" | "notebook_id"
    operator   := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
    value      := NUMBER | 'text' | "text"

KEY is ``[A-Za-z0-9_.\\-/]+``, or any text in backticks (``params.`learning rate```).
Metrics compare on their last value. A param compared with a number compares numerically
(params that do not read as numbers never match); compared with text, as text. Runs that lack
the field never match, whatever the operator.

Examples: ``metrics.auc > 0.8 and params.model = 'xgb'``, ``status = 'finished'``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError

OPERATORS = ("<=", ">=", "!=", "==", "=", "<", ">")
FIELD_KINDS = ("params", "metrics", "tags")
PLAIN_FIELDS = ("status", "name", "notebook_id")
FORM = (
    "use e.g. metrics.auc > 0.8 and params.model = 'xgb' "
    "(fields: params.X, metrics.X, tags.X, status, name, notebook_id)"
)

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op><=|>=|!=|==|=|<|>)
      | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
      | (?P<field>(?:params|metrics|tags)\.(?:`[^`]+`|[A-Za-z0-9_.\-/]+)|[A-Za-z_]+)
    )""",
    re.VERBOSE,
)


# Every condition becomes a subquery; SQLite refuses expression trees deeper than 1,000.
MAX_CONDITIONS = 100


@dataclass(frozen=True)
class Condition:
    kind: str  # params | metrics | tags | status | name
    key: str | None
    op: str
    value: float | str


def parse_filter(text: str | None) -> list[Condition]:
    """Parse a filter expression into conditions joined by AND.

    Raises:
        UsageError: naming the position and the expected form.
    """
    if text is None or not text.strip():
        return []
    tokens = _tokenize(text)
    conditions: list[Condition] = []
    index = 0
    while True:
        if index + 3 > len(tokens):
            raise UsageError(f"incomplete filter {text!r}: each condition is FIELD OP VALUE; {FORM}")
        (k1, field), (k2, op), (k3, raw) = tokens[index : index + 3]
        if k1 != "field" or field.lower() in ("and", "or", "not"):
            raise UsageError(f"expected a field in filter {text!r} but found {field!r}; {FORM}")
        if k2 != "op":
            raise UsageError(f"expected an operator after {field!r} in filter {text!r}; {FORM}")
        if k3 not in ("num", "str"):
            raise UsageError(f"expected a number or a quoted text after {field} {op} in filter {text!r}; {FORM}")
        conditions.append(_condition(field, "=" if op == "==" else op, raw, k3, text))
        if len(conditions) > MAX_CONDITIONS:
            raise UsageError(f"a filter takes at most {MAX_CONDITIONS} conditions; narrow it with fewer, wider ones")
        index += 3
        if index == len(tokens):
            return conditions
        kind, word = tokens[index]
        if kind != "field" or word.lower() != "and":
            raise UsageError(f"expected 'and' before {word!r} in filter {text!r} (only 'and' is supported); {FORM}")
        index += 1


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise UsageError(f"cannot read filter {text!r} at {text[position:].strip()[:20]!r}; {FORM}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _condition(field: str, op: str, raw: str, value_kind: str, text: str) -> Condition:
    value: float | str = float(raw) if value_kind == "num" else _unquote(raw)
    if "." in field and field.split(".", 1)[0] in FIELD_KINDS:
        kind, key = field.split(".", 1)
        key = key[1:-1] if key.startswith("`") else key
        if kind == "metrics" and not isinstance(value, float):
            raise UsageError(f"metrics.{key} compares with a number, not {raw}, in filter {text!r}")
        return Condition(kind, key, op, value)
    if field.lower() in PLAIN_FIELDS:
        if not isinstance(value, str) or op not in ("=", "!="):
            raise UsageError(f"{field} takes = or != with a quoted text, e.g. status = 'finished'")
        return Condition(field.lower(), None, op, value)
    raise UsageError(f"unknown field {field!r} in filter {text!r}; {FORM}")


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw[1:-1])
