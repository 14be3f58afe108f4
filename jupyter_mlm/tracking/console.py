"""A run's console: what it printed to stdout and stderr, and the exception that failed it.

While runs are active, ``sys.stdout`` and ``sys.stderr`` are wrapped by a tee that passes every
write on unchanged and keeps a copy for each active run (a nested run's output belongs to its
parent too). Copies are bounded: past ``MAX_CHARS`` a run keeps the last part and says how much
it cut. When the run ends the text is stored as the artifacts ``mlm/stdout.txt`` and
``mlm/stderr.txt``, and a failed run's traceback as ``mlm/exception.txt`` (its last line also as
the tag ``mlm.exception``), with the values of secret-looking environment variables replaced.

Only Python-level writes are seen (``print``, logging to a stream handler, tracebacks); output
written by native code straight to file descriptor 1 or 2 is not. ``$MLM_CAPTURE_OUTPUT=0`` (or
``c.MLM.capture_output = False`` on the server) turns capture off.
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import traceback
from typing import Any

MAX_CHARS = 1_000_000
STREAMS = ("stdout", "stderr")
EXCEPTION_TAG = "mlm.exception"


def enabled() -> bool:
    return os.environ.get("MLM_CAPTURE_OUTPUT", "1").strip().lower() not in ("0", "false", "no", "off")


class _Kept:
    """One run's copy of one stream: the last ``MAX_CHARS`` characters."""

    def __init__(self) -> None:
        self.parts: collections.deque[str] = collections.deque()
        self.size = 0
        self.cut = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        while self.size > MAX_CHARS and self.parts:
            head = self.parts.popleft()
            over = self.size - MAX_CHARS
            if len(head) > over:
                self.parts.appendleft(head[over:])
                self.size -= over
                self.cut += over
            else:
                self.size -= len(head)
                self.cut += len(head)

    def text(self) -> str:
        body = "".join(self.parts)
        return f"[… {self.cut:,} earlier characters not kept …]\n{body}" if self.cut else body


class _Tee:
    """Stands in for ``sys.stdout`` or ``sys.stderr``: writes go to the stream it replaced and to
    the console; everything else (``flush``, ``isatty``, ipykernel's own methods and state) is
    the replaced stream's."""

    def __init__(self, inner: Any, console: Console, name: str) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_console", console)
        object.__setattr__(self, "_name", name)

    def write(self, text: Any) -> Any:
        written = self._inner.write(text)
        if isinstance(text, str) and text:
            self._console.add(self._name, text)
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # IPython patches ``sys.stdout.write`` around every cell (its own output history): that
        # patch wraps this tee's write, so it stays here; anything else is the stream's.
        if name in ("write", "writelines"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._inner, name, value)


class Console:
    """The console copies of the active runs, and the tee that makes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, dict[str, _Kept]] = {}
        self._tees: dict[str, _Tee] = {}
        self.last_error: dict[str, str] = {}

    def start(self, run_id: str) -> None:
        with self._lock:
            self._runs[run_id] = {name: _Kept() for name in STREAMS}
            for name in STREAMS:
                current = getattr(sys, name)
                if current is not self._tees.get(name):
                    tee = self._tees[name] = _Tee(current, self, name)
                    setattr(sys, name, tee)

    def add(self, name: str, text: str) -> None:
        with self._lock:
            for streams in self._runs.values():
                streams[name].add(text)

    def note_exception(self, error: BaseException) -> None:
        """An exception raised in a cell while runs were active: what a later ``failed`` end
        of those runs reports."""
        text = format_exception(error)
        with self._lock:
            for run_id in self._runs:
                self.last_error[run_id] = text

    def stop(self, run_id: str) -> dict[str, str]:
        """The run's copies (stream name → text), no longer kept; the tee is taken out once no
        run is active, where nothing has replaced it since."""
        with self._lock:
            streams = self._runs.pop(run_id, {})
            if not self._runs:
                for name, tee in list(self._tees.items()):
                    if getattr(sys, name) is tee:
                        setattr(sys, name, tee._inner)
                    del self._tees[name]
        return {name: kept.text() for name, kept in streams.items()}


def format_exception(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def exception_line(text: str) -> str:
    """The traceback's last line (``ValueError: …``), at most 500 characters."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else ""
    return last if len(last) <= 500 else last[:499] + "…"


CONSOLE = Console()
