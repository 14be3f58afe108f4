"""Who and where: user, host, process and notebook of the current process."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from ..identity import login_name


def current_user() -> str:
    """Who acts: the hub user behind JupyterHub, else the OS login (see ``identity``)."""
    return login_name()


def current_host() -> str:
    return socket.gethostname()


def notebook_path() -> str | None:
    """The notebook this kernel serves (jupyter_server sets ``JPY_SESSION_NAME``), else None."""
    return os.environ.get("JPY_SESSION_NAME") or None


def default_run_name() -> str:
    """A name for runs started implicitly: the notebook's, else the script's, else 'notebook'."""
    path = notebook_path()
    if path:
        return Path(path).stem or "notebook"
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    if script and not script.endswith("ipykernel_launcher.py"):
        return Path(script).stem
    return "notebook"


def pid_namespace() -> str | None:
    """This process's PID namespace (``pid:[4026531836]`` on Linux), None where there are none:
    two containers on one host may share a hostname, never a PID namespace."""
    try:
        return os.readlink("/proc/self/ns/pid")[:64]
    except OSError:
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def notebook_file(path: str | None) -> str | None:
    """The notebook file on disk for a session path (absolute, relative to cwd, or its basename here)."""
    if not path:
        return None
    for candidate in (path, os.path.join(os.getcwd(), path), os.path.join(os.getcwd(), os.path.basename(path))):
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return None
