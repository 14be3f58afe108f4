"""Which data files a run read: an audit hook on ``open``, plus what the user names explicitly.

Assumptions: Python-level opens (``open``, ``io.open``, ``os.open``, pandas/numpy readers built
on them) raise the ``open`` audit event; native code calling ``fopen`` does not, which is what
``mlm.log_data(path)`` is for. Audit hooks cannot be removed once added, so the hook is added
once per process and does nothing unless recording is on. It keeps only raw paths (a set
insert, well under a microsecond); filtering and hashing happen at snapshot time.
"""

from __future__ import annotations

import os
import re
import site
import stat
import sys
import sysconfig
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


class ReadRecorder:
    def __init__(self) -> None:
        self.paths: set[str] = set()
        self.recording = False
        self._installed = False
        self._excluded: tuple[str, ...] = ()

    def install(self, exclude: list[str] | None = None) -> None:
        """Add the audit hook (once) and start recording reads.

        Places excluded earlier (the store, opened before recording started) stay excluded.
        """
        if not self._installed:
            self._excluded = (*self._excluded, *(os.path.join(os.path.realpath(p), "") for p in interpreter_dirs()))
            sys.addaudithook(self._hook)
            self._installed = True
        for path in exclude or []:
            self.exclude(path)
        self.recording = True

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Our own reads (the notebook file, hashing) are not the user's data."""
        was, self.recording = self.recording, False
        try:
            yield
        finally:
            self.recording = was

    def exclude(self, path: str) -> None:
        self._excluded = (*self._excluded, os.path.join(os.path.realpath(path), ""))

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event != "open" or not self.recording:
            return
        path, mode, flags = args
        if isinstance(mode, str):
            if "w" in mode or "a" in mode or "x" in mode or "+" in mode:
                return
        elif isinstance(flags, int) and flags & _WRITE_FLAGS:
            return
        if isinstance(path, (str, bytes, os.PathLike)) and not isinstance(path, int):
            self.paths.add(os.fsdecode(path))

    def take(self) -> list[str]:
        """Regular files read since the last call, as absolute paths, minus excluded places."""
        raw, self.paths = self.paths, set()
        found = []
        for path in raw:
            full = os.path.abspath(path)
            real = os.path.realpath(full)
            if real.startswith(self._excluded) or _skipped_name(real):
                continue
            try:
                if stat.S_ISREG(os.stat(real).st_mode):
                    found.append(full)
            except OSError:
                continue
        return sorted(found)


# A blob of any jupyter_mlm object store (``objects/ab/cdef…``), e.g. one opened by the CLI or
# another store object in the same process: the store's own bookkeeping, not the user's data.
_BLOB_PATH = re.compile(r"/[0-9a-f]{2}/[0-9a-f]{62}$")


def _skipped_name(path: str) -> bool:
    name = os.path.basename(path)
    return name.endswith((".pyc", ".py", ".so", ".pth")) or "/__pycache__/" in path or bool(_BLOB_PATH.search(path))


def interpreter_dirs() -> list[str]:
    """Folders of the interpreter, its packages and Jupyter's own files: never the user's."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, "/proc", "/dev", "/sys", "/etc", "/usr/share"}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        with_path = sysconfig.get_paths().get(key)
        if with_path:
            dirs.add(with_path)
    try:
        dirs.update(site.getsitepackages())
        dirs.add(site.getusersitepackages())
    except AttributeError:
        pass
    # Jupyter's own runtime, config and data files are not the user's data.
    home = Path.home()
    dirs.update(str(home / d) for d in (".jupyter", ".local/share/jupyter", ".ipython", ".cache", ".config/matplotlib"))
    if os.environ.get("JUPYTER_RUNTIME_DIR"):
        dirs.add(os.environ["JUPYTER_RUNTIME_DIR"])
    return [d for d in dirs if d]


RECORDER = ReadRecorder()
