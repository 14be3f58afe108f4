"""The local source files a run used: Python modules imported from outside the interpreter and
its site-packages (``utils.py`` beside the notebook, a package under ``src/``).

Assumptions: a module counts when its ``__file__`` is a ``.py`` file (or has one beside its
``.pyc``) that does not live under the interpreter's own folders, site-packages, or this package;
IPython's per-cell files and frozen or built-in modules have no such file. The list is taken
from ``sys.modules`` at snapshot time, so a module imported and then deleted is missed, and an
edit made after import is what is stored (the file as it is now: Python does not keep the text
it compiled). Each file's bytes are stored once per content (the object store deduplicates);
where a file lies in a git repository, the diff of those files against HEAD is stored too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..store import Store
from .data import interpreter_dirs

MAX_SOURCE_BYTES = 5 * 1000 * 1000
_OWN = os.path.join(os.path.realpath(os.path.dirname(os.path.dirname(__file__))), "")


def _source_file(module: Any) -> str | None:
    path = getattr(module, "__file__", None)
    if not isinstance(path, str):
        return None
    if path.endswith(".pyc"):
        candidate = path[:-1]
        path = candidate if os.path.exists(candidate) else path
    return os.path.realpath(path) if path.endswith(".py") else None


_SKIP: tuple[str, ...] | None = None
# Module name → its local source file or None, decided once: a snapshot walks sys.modules
# (thousands of entries) and must cost microseconds per module, not a realpath each.
_DECIDED: dict[tuple[str, int], str | None] = {}


def local_module_files() -> dict[str, str]:
    """{absolute path: module name} of the local source files imported in this process."""
    global _SKIP
    if _SKIP is None:
        _SKIP = (*(os.path.join(os.path.realpath(d), "") for d in interpreter_dirs()), _OWN)
    found: dict[str, str] = {}
    for name, module in list(sys.modules.items()):
        key = (name, id(module))
        if key not in _DECIDED:
            path = _source_file(module)
            local = path is not None and not path.startswith(_SKIP) and "/ipykernel_" not in path
            _DECIDED[key] = path if local else None
        path = _DECIDED[key]
        if path is not None:
            found.setdefault(path, name)
    return found


def _git_root(path: str) -> str | None:
    for folder in Path(path).parents:
        if (folder / ".git").exists():
            return str(folder)
    return None


def capture_sources(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Store the local source files and, per git repository, their diff against HEAD.

    Returns:
        (files: [{path, module, digest, size}], repositories: [{root, commit, diff}]) where
        ``diff`` is the digest of the unified diff text (None when clean).
    """
    sizes: dict[str, int] = {}
    modules = local_module_files()
    for path in sorted(modules):
        try:
            size = os.path.getsize(path)
        except OSError:
            continue
        if size <= MAX_SOURCE_BYTES:
            sizes[path] = size
    # One batch: on S3 the existence checks and uploads of a few hundred files go concurrently.
    digests = store.objects.put_files(sizes)
    files = []
    by_repo: dict[str, list[str]] = {}
    for path, digest in digests.items():
        files.append({"path": path, "module": modules[path], "digest": digest, "size": sizes[path]})
        root = _git_root(path)
        if root is not None:
            by_repo.setdefault(root, []).append(path)
    repositories = []
    for root, paths in sorted(by_repo.items()):
        repositories.append(_git_diff(store, root, paths))
    return files, repositories


def _git_diff(store: Store, root: str, paths: list[str]) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = (git("rev-parse", "HEAD") or "").strip() or None
    text = git("diff", "HEAD", "--", *paths) if commit else None
    digest = store.objects.put_bytes(text.encode()) if text else None
    return {"root": root, "commit": commit, "diff": digest}
