"""The run filter language, parsed without ``eval`` (one grammar for Python, REST, CLI and magics).

Grammar (case-insensitive keywords)::

    filter     := any
    any        := all ("or" all)*
    all        := term ("and" term)*
    term       := "not" term | "(" any ")" | condition
    condition  := field operator value
                | field ["not"] "in" "(" value ("," value)* ")"
                | field ["not"] "like" 'pattern'
                | field "is" ["not"] "null"
    field      := "params." KEY | "metrics." KEY | "tags." KEY
                | "status" | "name" | "experiment" | "user" | "notebook_id" | "parent_id"
    operator   := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
    value      := NUMBER | 'text' | "text"

KEY is ``[A-Za-z0-9_.\\-/]+``, or any text in backticks (``params.`learning rate```).
Metrics compare on their last value. A param compared with a number compares numerically
(params that do not read as numbers never match); compared with text, as text. A run that lacks
the field matches no comparison, ``in`` or ``like`` (``!=`` included), only ``is null``; ``not``
negates a whole term, so ``not params.x = 1`` also holds for runs without ``x``. ``like`` is
case-insensitive, with ``%`` (any text) and ``_`` (one character).

Examples: ``metrics.auc > 0.8 and params.model = 'xgb'``, ``status in ('failed', 'crashed')``,
``(params.model = 'xgb' or params.model like 'light%') and tags.reviewed is null``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from ..errors import UsageError

OPERATORS = ("<=", ">=", "!=", "==", "=", "<", ">")
FIELD_KINDS = ("params", "metrics", "tags")
PLAIN_FIELDS = ("status", "name", "experiment", "user", "notebook_id", "parent_id")
KEYWORDS = ("and", "or", "not", "in", "like", "is", "null")
FORM = (
    "use e.g. metrics.auc > 0.8 and (params.model = 'xgb' or params.model like 'light%') "
    "(fields: params.X, metrics.X, tags.X, status, name, experiment, user, notebook_id, parent_id; "
    "also in (…), like, is [not] null, not, or, parentheses)"
)

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op><=|>=|!=|==|=|<|>)
      | (?P<punct>[(),])
      | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
      | (?P<field>(?:params|metrics|tags)\.(?:`[^`]+`|[A-Za-z0-9_.\-/]+)|[A-Za-z_]+)
    )""",
    re.VERBOSE,
)


# Every condition becomes a subquery; SQLite refuses expression trees deeper than 1,000.
MAX_CONDITIONS = 100
MAX_DEPTH = 20
MAX_IN_VALUES = 1000


@dataclass(frozen=True)
class Condition:
    kind: str  # params | metrics | tags, or one of PLAIN_FIELDS
    key: str | None
    # = != < <= > >=, "in", "not in", "like", "not like", "is null", "is not null"
    op: str
    value: float | str | tuple[float | str, ...] | None


@dataclass(frozen=True)
class AnyOf:
    terms: tuple[Node, ...]


@dataclass(frozen=True)
class AllOf:
    terms: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    term: Node


Node = Union[Condition, AnyOf, AllOf, Not]  # noqa: UP007 - a runtime alias, Python 3.10


def parse_filter(text: str | None) -> list[Node]:
    """Parse a filter expression into terms joined by AND (for a filter of ``and``-joined
    comparisons, one ``Condition`` each, as before ``or`` existed).

    Raises:
        UsageError: naming what was expected where, and the form.
    """
    if text is None or not text.strip():
        return []
    parser = _Parser(text, _tokenize(text))
    node = parser.any(0)
    if parser.index != len(parser.tokens):
        _, word = parser.tokens[parser.index]
        raise UsageError(f"expected 'and', 'or' or the end before {word!r} in filter {text!r}; {FORM}")
    return list(node.terms) if isinstance(node, AllOf) else [node]


class _Parser:
    def __init__(self, text: str, tokens: list[tuple[str, str]]) -> None:
        self.text, self.tokens, self.index, self.conditions = text, tokens, 0, 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _keyword(self, *words: str) -> bool:
        token = self._peek()
        return token is not None and token[0] == "field" and token[1].lower() in words

    def _punct(self, mark: str) -> bool:
        token = self._peek()
        return token is not None and token == ("punct", mark)

    def any(self, depth: int) -> Node:
        terms = [self.all(depth)]
        while self._keyword("or"):
            self.index += 1
            terms.append(self.all(depth))
        return terms[0] if len(terms) == 1 else AnyOf(tuple(terms))

    def all(self, depth: int) -> Node:
        terms = [self.term(depth)]
        while self._keyword("and"):
            self.index += 1
            terms.append(self.term(depth))
        return terms[0] if len(terms) == 1 else AllOf(tuple(terms))

    def term(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise UsageError(f"a filter nests at most {MAX_DEPTH} levels of parentheses and 'not'")
        if self._keyword("not"):
            self.index += 1
            return Not(self.term(depth + 1))
        if self._punct("("):
            self.index += 1
            inner = self.any(depth + 1)
            if not self._punct(")"):
                raise UsageError(f"a '(' is not closed in filter {self.text!r}; {FORM}")
            self.index += 1
            return inner
        return self.condition()

    def condition(self) -> Condition:
        text = self.text
        token = self._peek()
        if token is None:
            raise UsageError(f"incomplete filter {text!r}: each condition is FIELD OP VALUE; {FORM}")
        kind, field = token
        if kind != "field" or field.lower() in KEYWORDS:
            raise UsageError(f"expected a field in filter {text!r} but found {field!r}; {FORM}")
        self.index += 1
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise UsageError(f"a filter takes at most {MAX_CONDITIONS} conditions; narrow it with fewer, wider ones")
        negated = self._keyword("not")
        if negated:
            self.index += 1
            if not self._keyword("in", "like"):
                raise UsageError(f"expected 'in' or 'like' after {field} not, in filter {text!r}; {FORM}")
        if self._keyword("is"):
            self.index += 1
            op = "is null"
            if self._keyword("not"):
                self.index += 1
                op = "is not null"
            if not self._keyword("null"):
                raise UsageError(f"expected 'null' after {field} is, in filter {text!r}; {FORM}")
            self.index += 1
            return _condition(field, op, None, text)
        if self._keyword("in"):
            self.index += 1
            values = self._values(field)
            return _condition(field, "not in" if negated else "in", values, text)
        if self._keyword("like"):
            self.index += 1
            token = self._peek()
            if token is None or token[0] != "str":
                raise UsageError(f"like takes a quoted pattern, e.g. {field} like 'xgb%', in filter {text!r}")
            self.index += 1
            return _condition(field, "not like" if negated else "like", _unquote(token[1]), text)
        token = self._peek()
        if token is None or token[0] != "op":
            if token is None:
                raise UsageError(f"incomplete filter {text!r}: each condition is FIELD OP VALUE; {FORM}")
            raise UsageError(f"expected an operator after {field!r} in filter {text!r}; {FORM}")
        op = "=" if token[1] == "==" else token[1]
        self.index += 1
        value = self._value(field, op)
        return _condition(field, op, value, text)

    def _value(self, field: str, op: str) -> float | str:
        token = self._peek()
        if token is None:
            raise UsageError(f"incomplete filter {self.text!r}: each condition is FIELD OP VALUE; {FORM}")
        if token[0] not in ("num", "str"):
            raise UsageError(f"expected a number or a quoted text after {field} {op} in filter {self.text!r}; {FORM}")
        self.index += 1
        return float(token[1]) if token[0] == "num" else _unquote(token[1])

    def _values(self, field: str) -> tuple[float | str, ...]:
        if not self._punct("("):
            raise UsageError(f"in takes a list in parentheses, e.g. {field} in ('a', 'b'), in filter {self.text!r}")
        self.index += 1
        values = [self._value(field, "in")]
        while self._punct(","):
            self.index += 1
            values.append(self._value(field, "in"))
        if not self._punct(")"):
            raise UsageError(f"the list after {field} in is not closed with ')' in filter {self.text!r}")
        self.index += 1
        if len(values) > MAX_IN_VALUES:
            raise UsageError(f"in takes at most {MAX_IN_VALUES} values")
        if len({type(v) for v in values}) > 1:
            raise UsageError(f"the values after {field} in are all numbers or all quoted texts, not both")
        return tuple(values)


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


def _condition(field: str, op: str, value: float | str | tuple[float | str, ...] | None, text: str) -> Condition:
    numeric = isinstance(value, float) or (isinstance(value, tuple) and isinstance(value[0], float))
    if "." in field and field.split(".", 1)[0] in FIELD_KINDS:
        kind, key = field.split(".", 1)
        key = key[1:-1] if key.startswith("`") else key
        if kind == "metrics" and value is not None and not numeric:
            raise UsageError(f"metrics.{key} compares with a number, not a text ({op}), in filter {text!r}")
        return Condition(kind, key, op, value)
    name = field.lower()
    if name in PLAIN_FIELDS:
        if numeric or op not in ("=", "!=", "in", "not in", "like", "not like", "is null", "is not null"):
            raise UsageError(f"{field} takes = or != with a quoted text, e.g. status = 'finished' (or in, like)")
        return Condition(name, None, op, value)
    raise UsageError(f"unknown field {field!r} in filter {text!r}; {FORM}")


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    return re.sub(r"\\(.)", r"\1", body)
