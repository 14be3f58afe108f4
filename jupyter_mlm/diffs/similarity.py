"""nbdime's cell-matching predicates, decided the same way but faster.

``nbdime.diff_notebooks`` aligns cells with predicates built on difflib's similarity ratio. These
are the same rules (same thresholds, same cut-offs, same order of checks), with two changes that
cannot alter a result: the ratio comes from ``cydifflib`` when it is installed (a compiled port of
difflib's ``SequenceMatcher``, equal ratios, ~8× faster; the tests compare the two), and ratios
are remembered per pair of strings, since the multilevel alignment asks about the same pair at
several levels.
"""

from __future__ import annotations

import operator
import re
import string
from functools import lru_cache
from typing import Any

try:
    from cydifflib import SequenceMatcher
except ImportError:  # pragma: no cover - the plain-Python matcher gives the same ratios, slower
    from difflib import SequenceMatcher

_Indel: Any
_cdist: Any
try:
    from rapidfuzz.distance import Indel as _Indel
    from rapidfuzz.process import cdist as _cdist
except ImportError:  # pragma: no cover - without it the character-count bound does the job, slower
    _Indel = _cdist = None

# nbdime's constants (nbdime.diffing.notebooks): what it calls short, its output length caps.
SHORT_TEXT = 10
TEXT_MIMEDATA_MAX_COMPARE_LENGTH = 10_000
STREAM_MAX_COMPARE_LENGTH = 1_000
STRICT = 0.95
APPROXIMATE = 0.7

_BASE64_BODY = re.compile(r"[a-z0-9+/]*", re.IGNORECASE)
_BASE64_ASCII = (string.ascii_letters + string.digits + "+/").encode()
# What ``str.splitlines`` splits on among ASCII characters.
_ASCII_LINE_BREAKS = b"\n\r\x0b\x0c\x1c\x1d\x1e"
_POINTER = re.compile(r"0x[a-f0-9]{8,16}", re.IGNORECASE)


# A bound is only trusted to reject when it clears the threshold by this much, so float rounding
# can only send a pair on to the exact ratio, never decide it.
MARGIN = 1e-9


@lru_cache(maxsize=65_536)
def _quick_ratio(x: Any, y: Any) -> float:
    return float(SequenceMatcher(None, x, y, autojunk=False).quick_ratio())


def ratio_bound(x: Any, y: Any) -> float:
    """An upper bound of difflib's ratio, ~100× cheaper than it: difflib's matching blocks form a
    common subsequence, so its ratio never exceeds 2·LCS/(len x + len y) (rapidfuzz's Indel
    similarity, bit-parallel); ``quick_ratio`` where rapidfuzz is missing."""
    if _Indel is not None:
        return float(_Indel.normalized_similarity(x, y))
    return _quick_ratio(x, y)


def ratio_bounds(xs: list[str], ys: list[str]) -> Any:
    """``ratio_bound`` for every pair of ``xs`` × ``ys`` as a float64 matrix, computed in one
    compiled call; None where rapidfuzz is missing (callers then bound by character counts)."""
    if _cdist is None:
        return None
    import numpy as np

    return _cdist(xs, ys, scorer=_Indel.normalized_similarity, dtype=np.float64)


@lru_cache(maxsize=65_536)
def _ratio(x: Any, y: Any) -> float:
    return float(SequenceMatcher(None, x, y, autojunk=False).ratio())


def opcodes(x: str, y: str) -> Any:
    return SequenceMatcher(None, x, y, autojunk=False).get_opcodes()


def forget() -> None:
    """Drop the remembered ratios (a benchmark's passes each start with nothing remembered)."""
    _ratio.cache_clear()
    _quick_ratio.cache_clear()


def strings_similar(x: Any, y: Any, threshold: float = APPROXIMATE, maxlen: int | None = None) -> bool:
    """nbdime's ``compare_strings_approximate``: cheap bounds first, the full ratio last."""
    if bool(x) != bool(y):
        return False
    if len(x) == len(y) and x == y:
        return True
    if not (isinstance(x, str) and isinstance(y, str)):
        x, y = tuple(x), tuple(y)
    length = len(x) + len(y)
    if 2.0 * min(len(x), len(y)) / length < threshold:
        return False
    if ratio_bound(x, y) < threshold - MARGIN:
        return False
    if maxlen is not None and len(x) > maxlen and len(y) > maxlen:
        return False
    return _ratio(x, y) > threshold


def _joined(value: Any) -> Any:
    return "".join(value) if isinstance(value, list) else value


def text_approximate(x: Any, y: Any, maxlen: int | None = None) -> bool:
    """nbdime's ``compare_text_approximate``: short strings always align."""
    if bool(x) != bool(y):
        return False
    x, y = _joined(x), _joined(y)
    if len(x) < SHORT_TEXT and len(y) < SHORT_TEXT:
        return True
    return strings_similar(x, y, APPROXIMATE, maxlen)


def text_strict(x: Any, y: Any, maxlen: int | None = None) -> bool:
    """nbdime's ``compare_text_strict``."""
    x, y = _joined(x), _joined(y)
    if len(x) == len(y) and x == y:
        return True
    return strings_similar(x, y, STRICT, maxlen)


def _is_base64(text: str, min_len: int = 64) -> bool:
    """nbdime's ``_BASE64`` match, without the regex's per-quartet backtracking: a multiple of
    four characters, the base64 alphabet, at most two trailing ``=``. ASCII text (every image)
    is checked on its bytes, ~15× faster than a case-insensitive regex, which must also accept
    non-ASCII characters that fold to a letter (Kelvin sign, long s)."""
    if len(text) < min_len:
        return False
    if text.isascii():
        data = text.encode("ascii").translate(None, _ASCII_LINE_BREAKS)
        if len(data) % 4:
            return False
        body = data[:-2] if data.endswith(b"==") else data[:-1] if data.endswith(b"=") else data
        return not body.translate(None, _BASE64_ASCII)
    joined = "".join(text.splitlines())
    if len(joined) % 4:
        return False
    body_text = joined[:-2] if joined.endswith("==") else joined[:-1] if joined.endswith("=") else joined
    return _BASE64_BODY.fullmatch(body_text) is not None


def _mimedata_equal(mimetype: str, x: Any, y: Any, strict: bool) -> bool:
    def text(a: Any, b: Any) -> bool:
        compare = text_strict if strict else text_approximate
        return compare(a, b, maxlen=TEXT_MIMEDATA_MAX_COMPARE_LENGTH)

    mimetype = mimetype.lower()
    # Reprs that differ only in object addresses align.
    if mimetype == "text/plain" and "\n" not in x and "\n" not in y and _POINTER.split(x) == _POINTER.split(y):
        return True
    if mimetype.startswith("text/"):
        return text(x, y)
    if isinstance(x, str) and isinstance(y, str):
        if _is_base64(x):
            return len(x) == len(y) and x == y
        return text(x, y)
    return bool(x == y)


def mimebundle_strict(x: Any, y: Any) -> bool:
    """nbdime's ``compare_mimebundle_strict``."""
    if x is None or y is None:
        return x is None and y is None
    if set(x) != set(y):
        return False
    return all(_mimedata_equal(key, x[key], y[key], strict=True) for key in x)


def output_strict(x: Any, y: Any) -> bool:
    """nbdime's ``compare_output_strict``: everything but ``data`` equal, ``data`` nearly so."""
    if x["output_type"] != y["output_type"]:
        return False
    if "data" not in x:
        return bool(x == y)  # equal outputs have equal keys
    if x.keys() != y.keys():
        return False
    if any(x[k] != y[k] for k in set(x) - {"output_type", "data"}):
        return False
    return mimebundle_strict(x.get("data"), y.get("data"))


def cell_strict(x: Any, y: Any) -> bool:
    """nbdime's ``compare_cell_strict`` (first cell level below ids)."""
    if x["cell_type"] != y["cell_type"]:
        return False
    if not text_strict(x["source"], y["source"]):
        return False
    if x["cell_type"] == "code":
        outputs_x, outputs_y = x["outputs"] or (), y["outputs"] or ()
        if len(outputs_x) != len(outputs_y):
            return False
        return all(output_strict(a, b) for a, b in zip(outputs_x, outputs_y, strict=True))
    return True


def cell_approximate(x: Any, y: Any) -> bool:
    """nbdime's ``compare_cell_approximate`` (the last, loosest level)."""
    return bool(x["cell_type"] == y["cell_type"] and text_approximate(x["source"], y["source"]))


def mimebundle_approximate(x: Any, y: Any) -> bool:
    """nbdime's ``compare_mimebundle_approximate``."""
    if x is None or y is None:
        return x is None and y is None
    if set(x) != set(y):
        return False
    return all(_mimedata_equal(key, x[key], y[key], strict=False) for key in x)


def output_approximate(x: Any, y: Any) -> bool:
    """nbdime's ``compare_output_approximate``: type and content roughly equal, metadata and
    execution count ignored."""
    kind = x["output_type"]
    if kind != y["output_type"]:
        return False
    if kind == "stream" and len(x) == 3 and len(y) == 3 and "name" in x and "text" in x and "name" in y and "text" in y:
        # A plain stream each (output_type, name, text): nothing else to compare.
        if x["name"] != y["name"]:
            return False
        return strings_similar(x["text"], y["text"], APPROXIMATE, STREAM_MAX_COMPARE_LENGTH)
    if x.keys() != y.keys():
        return False
    handled = {"output_type", "metadata", "execution_count"}
    if kind == "stream":
        if x["name"] != y["name"] or not strings_similar(x["text"], y["text"], maxlen=STREAM_MAX_COMPARE_LENGTH):
            return False
        handled |= {"name", "text"}
    elif kind == "error":
        if x["ename"] != y["ename"] or x["evalue"] != y["evalue"]:
            return False
        trace_x, trace_y = x["traceback"], y["traceback"]
        if len(trace_x) != len(trace_y) or not all(
            strings_similar(a, b) for a, b in zip(trace_x, trace_y, strict=True)
        ):
            return False
        handled |= {"ename", "evalue", "traceback"}
    elif kind in ("display_data", "execute_result"):
        if not mimebundle_approximate(x["data"], y["data"]):
            return False
        handled.add("data")
    return all(x[k] == y[k] for k in set(x) - handled)


def lcs_snakes(rows: list[int], m: int) -> list[tuple[int, int, int]]:
    """nbdime's ``bruteforce_compute_snakes`` on a grid given as row bit masks (bit ``j`` of
    ``rows[i]``: item ``i`` matches item ``j``): the same LCS, ties broken alike (walking back from
    the end: a match, else drop the row while the LCS length allows, else the column).

    The LCS table is not built: each row's lengths are kept as a bit vector (Hyyrö's bit-parallel
    LCS, valid for any match grid), ``R[x][y]`` = zeros among its low ``y`` bits."""
    n = len(rows)
    if n == 0 or m == 0 or not any(rows):
        return []
    full = (1 << m) - 1
    vector = full
    vectors = [vector]
    for row in rows:
        vector = ((vector + (vector & row)) | (vector & ~row)) & full
        vectors.append(vector)
    pairs: list[tuple[int, int]] = []
    x, y = n, m
    while x > 0 and y > 0:
        if (rows[x - 1] >> (y - 1)) & 1:
            x -= 1
            y -= 1
            pairs.append((x, y))
            continue
        low = (1 << y) - 1
        if (vectors[x] & low).bit_count() == (vectors[x - 1] & low).bit_count():
            x -= 1
        else:
            y -= 1
    pairs.reverse()
    return _snakes_of(pairs)


def _snakes_of(pairs: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """The snakes nbdime makes of the matched pairs of an LCS, in order."""
    # nbdime's loop as written: it only ever extends the snake at its start cell, so snakes come
    # out one pair long; the multilevel merge joins contiguous ones.
    snakes = [(0, 0, 0)]
    for i, j in pairs:
        if snakes[-1][0] == i and snakes[-1][1] == j:
            si, sj, sn = snakes[-1]
            snakes[-1] = (si, sj, sn + 1)
        else:
            snakes.append((i, j, 1))
    if snakes[0][2] == 0:
        snakes.pop(0)
    return snakes


def one_line_snakes(a: Any, b: Any, compare: Any) -> list[tuple[int, int, int]]:
    """``small_lcs_snakes`` where one side has one element: nbdime's walk back takes the last
    element of the other side that matches it."""
    if len(a) == 1:
        x = a[0]
        for j in range(len(b) - 1, -1, -1):
            if compare(x, b[j]):
                return [(0, j, 1)]
        return []
    y = b[0]
    for i in range(len(a) - 1, -1, -1):
        if compare(a[i], y):
            return [(i, 0, 1)]
    return []


def small_lcs_snakes(a: Any, b: Any, compare: Any) -> list[tuple[int, int, int]]:
    """nbdime's brute-force LCS snakes for short lists (a cell's outputs, a text's lines), ties
    broken alike. Equality (lines) is looked up by hash instead of compared pair by pair."""
    n, m = len(a), len(b)
    if n == 1 or m == 1:
        return one_line_snakes(a, b, compare)
    if compare is operator.eq and all(type(y) is str for y in b):
        positions: dict[str, int] = {}
        for j, y in enumerate(b):
            positions[y] = positions.get(y, 0) | (1 << j)
        rows = [positions.get(x, 0) if type(x) is str else 0 for x in a]
    else:
        return lazy_lcs_snakes(a, b, compare)
    return lcs_snakes(rows, m)


def lazy_lcs_snakes(a: Any, b: Any, compare: Any) -> list[tuple[int, int, int]]:
    """``lcs_snakes`` of the grid ``compare(a[i], b[j])``, evaluating ``compare`` only where the
    answer matters. A cell of the LCS table is ``max(up, left, diagonal + match)``, and
    ``up``, ``left`` ≥ ``diagonal``: the match is asked only where both equal the diagonal; the
    walk back asks the cells it passes. On similar texts, where most lines match most lines,
    that is about one question per row instead of one per pair."""
    n, m = len(a), len(b)
    known: dict[tuple[int, int], bool] = {}

    def match(i: int, j: int) -> bool:
        found = known.get((i, j))
        if found is None:
            found = known[i, j] = bool(compare(a[i], b[j]))
        return found

    above = [0] * (m + 1)
    table = [above]
    for i in range(n):
        row = [0] * (m + 1)
        left = 0
        for j in range(m):
            diagonal, up = above[j], above[j + 1]
            best = up if up > left else left
            if best == diagonal and match(i, j):
                best += 1
            row[j + 1] = left = best
        table.append(row)
        above = row
    pairs: list[tuple[int, int]] = []
    x, y = n, m
    while x > 0 and y > 0:
        if match(x - 1, y - 1):
            x -= 1
            y -= 1
            pairs.append((x, y))
        elif table[x - 1][y] == table[x][y]:
            x -= 1
        else:
            y -= 1
    pairs.reverse()
    return _snakes_of(pairs)


def _matched(a: Any, b: Any, compares: list[Any], rect: tuple[int, int, int, int], level: int) -> int:
    """How many pairs nbdime's multilevel alignment matches inside ``rect``."""
    i0, j0, i1, j1 = rect
    snakes = [(i + i0, j + j0, k) for i, j, k in small_lcs_snakes(a[i0:i1], b[j0:j1], compares[level])]
    count = len(snakes)
    if level == 0:
        return count
    for i, j, k in [*snakes, (i1, j1, 0)]:
        if i > i0 and j > j0:
            count += _matched(a, b, compares, (i0, j0, i, j), level - 1)
        i0, j0 = i + k, j + k
    return count


def outputs_approximate(x: Any, y: Any) -> bool:
    """nbdime's ``compare_outputs_approximate``: the outputs diff would only patch, i.e. the
    multilevel alignment (approximate, then strict) pairs every output."""
    if len(x) != len(y):
        return False
    if not x:
        return True
    return _matched(x, y, [output_approximate, output_strict], (0, 0, len(x), len(y)), 1) == len(x)


def cell_moderate(x: Any, y: Any) -> bool:
    """nbdime's ``compare_cell_moderate`` (the middle level): source roughly equal and, for code,
    outputs that all align."""
    if x["cell_type"] != y["cell_type"] or not text_approximate(x["source"], y["source"]):
        return False
    if x["cell_type"] == "code":
        outputs_x, outputs_y = x["outputs"] or (), y["outputs"] or ()
        if bool(outputs_x) != bool(outputs_y):
            return False
        return outputs_approximate(list(outputs_x), list(outputs_y))
    return True
