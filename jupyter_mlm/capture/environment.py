"""The kernel's environment: interpreter, platform, hardware, packages, imported modules, git state,
and the *names* of environment variables — never their values, which often hold secrets.

Listing installed distributions costs ~50-100 ms, so the list is cached per process and rebuilt
only when a ``sys.path`` folder's modification time changes (``pip install`` touches it).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any


def _path_signature() -> tuple[tuple[str, int], ...]:
    signature = []
    for entry in sys.path:
        try:
            signature.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            continue
    return tuple(signature)


def _header(path: str) -> tuple[str | None, str | None]:
    """Name and Version from a METADATA/PKG-INFO file, reading only its header lines (the core
    metadata spec puts them first); parsing whole files with ``email`` costs ~0.5 ms each."""
    name = version = None
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    break
                if name is None and line.startswith("Name:"):
                    name = line[5:].strip()
                elif version is None and line.startswith("Version:"):
                    version = line[8:].strip()
                if name and version:
                    break
    except OSError:
        return None, None
    return name, version


def _top_level(folder: str) -> list[str]:
    """The top-level importable names a distribution provides (``top_level.txt``, else RECORD)."""
    try:
        with open(os.path.join(folder, "top_level.txt"), encoding="utf-8") as handle:
            return [line.strip() for line in handle if line.strip()]
    except OSError:
        pass
    names: set[str] = set()
    try:
        with open(os.path.join(folder, "RECORD"), encoding="utf-8", errors="replace") as handle:
            for line in handle:
                first = line.split(",", 1)[0].split("/", 1)
                top = first[0]
                if len(first) == 1:
                    if top.endswith(".py"):
                        names.add(top[:-3])
                    continue
                if top.isidentifier() and top != "__pycache__":
                    names.add(top)
    except OSError:
        pass
    return sorted(names)


def _scan() -> tuple[dict[str, str], dict[str, list[str]]]:
    """Every installed distribution on ``sys.path`` (the first of a name wins, as for imports)
    and the distributions each top-level module comes from."""
    packages: dict[str, str] = {}
    modules: dict[str, list[str]] = {}
    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for item in names:
            if item.endswith(".dist-info"):
                meta = os.path.join(folder, item, "METADATA")
            elif item.endswith(".egg-info"):
                meta = os.path.join(folder, item, "PKG-INFO") if os.path.isdir(os.path.join(folder, item)) else ""
            else:
                continue
            name, version = _header(meta) if meta else (None, None)
            if not name or version is None:
                continue
            key = name.lower().replace("_", "-")
            if key in packages:
                continue
            packages[key] = version
            for module in _top_level(os.path.join(folder, item)):
                modules.setdefault(module, []).append(name)
    return dict(sorted(packages.items())), modules


_scan_cache: tuple[tuple[tuple[str, int], ...], dict[str, str], dict[str, list[str]]] | None = None


def _scanned() -> tuple[dict[str, str], dict[str, list[str]]]:
    global _scan_cache
    signature = _path_signature()
    if _scan_cache is None or _scan_cache[0] != signature:
        packages, modules = _scan()
        _scan_cache = (signature, packages, modules)
    return _scan_cache[1], _scan_cache[2]


def installed_packages() -> dict[str, str]:
    """Distribution name (normalised) → version, for every installed distribution."""
    return _scanned()[0]


def imported_modules() -> dict[str, str]:
    """Top-level modules imported so far that report a version (``__version__`` or their distribution)."""
    found: dict[str, str] = {}
    top_level = {name.partition(".")[0] for name in list(sys.modules)}
    packages, mapping = _scanned()
    for name in sorted(top_level):
        if name.startswith("_") or name in sys.stdlib_module_names:
            continue
        dists = mapping.get(name)
        version = packages.get(dists[0].lower().replace("_", "-")) if dists else None
        if version is None:
            with warnings.catch_warnings():  # some packages deprecate __version__ itself
                warnings.simplefilter("ignore")
                version = getattr(sys.modules.get(name), "__version__", None)
        if isinstance(version, str):
            found[name] = version
    return found


def git_state(folder: str | None) -> dict[str, Any] | None:
    """Commit, branch and dirty flag of the repository holding ``folder``, or None."""
    if not folder or not shutil.which("git"):
        return None
    start = Path(folder).resolve()
    if not any((p / ".git").exists() for p in (start, *start.parents)):
        return None

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(["git", *args], cwd=start, capture_output=True, text=True, timeout=5, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status),
        "root": git("rev-parse", "--show-toplevel"),
    }


def gpus() -> list[str]:
    """GPU names from nvidia-smi, or from torch when it is already imported; [] otherwise."""
    if shutil.which("nvidia-smi"):
        try:
            result = subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True, text=True, timeout=5, check=False,
            )  # fmt: skip
            if result.returncode == 0:
                return [line.strip() for line in result.stdout.splitlines() if line.strip()]
        except (OSError, subprocess.TimeoutExpired):
            pass
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            cuda = torch.cuda
            return [cuda.get_device_name(i) for i in range(cuda.device_count())] if cuda.is_available() else []
        except Exception:
            return []
    return []


_static: dict[str, Any] | None = None


def capture_environment(notebook_dir: str | None = None) -> dict[str, Any]:
    """The environment as a JSON-able dict (see the module docstring for what is, and is not, in it)."""
    global _static
    if _static is None:
        _static = {
            "python": {
                "version": platform.python_version(),
                "implementation": platform.python_implementation(),
                "executable": sys.executable,
            },
            "platform": {
                "system": platform.system(),
                "release": platform.release(),
                "machine": platform.machine(),
                "platform": platform.platform(),
            },
            "cpu_count": os.cpu_count(),
            "gpus": gpus(),
        }
    return {
        **_static,
        "packages": installed_packages(),
        "imported": imported_modules(),
        "git": git_state(notebook_dir),
        "env_names": sorted(os.environ),
    }
