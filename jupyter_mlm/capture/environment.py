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
from importlib import metadata
from pathlib import Path
from typing import Any

_packages_cache: tuple[tuple[tuple[str, int], ...], dict[str, str]] | None = None


def _path_signature() -> tuple[tuple[str, int], ...]:
    signature = []
    for entry in sys.path:
        try:
            signature.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            continue
    return tuple(signature)


def installed_packages() -> dict[str, str]:
    """Distribution name (normalised) → version, for every installed distribution."""
    global _packages_cache
    signature = _path_signature()
    if _packages_cache is not None and _packages_cache[0] == signature:
        return _packages_cache[1]
    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            packages[name.lower().replace("_", "-")] = dist.version
    packages = dict(sorted(packages.items()))
    _packages_cache = (signature, packages)
    return packages


def imported_modules() -> dict[str, str]:
    """Top-level modules imported so far that report a version (``__version__`` or their distribution)."""
    found: dict[str, str] = {}
    top_level = {name.partition(".")[0] for name in list(sys.modules)}
    mapping = _module_distributions()
    for name in sorted(top_level):
        if name.startswith("_") or name in sys.stdlib_module_names:
            continue
        dists = mapping.get(name)
        version = installed_packages().get(dists[0].lower().replace("_", "-")) if dists else None
        if version is None:
            with warnings.catch_warnings():  # some packages deprecate __version__ itself
                warnings.simplefilter("ignore")
                version = getattr(sys.modules.get(name), "__version__", None)
        if isinstance(version, str):
            found[name] = version
    return found


_module_map: dict[str, list[str]] | None = None


def _module_distributions() -> dict[str, list[str]]:
    global _module_map
    if _module_map is None:
        _module_map = dict(metadata.packages_distributions())
    return _module_map


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
