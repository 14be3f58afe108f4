"""Who is acting, as far as this machine can prove it.

Assumptions: a name in an environment variable such as ``MLM_USER`` is a claim, not an
identity, so none is read. Locally the proof is the OS account the process runs as (``pwd``,
not ``getpass``, which believes ``$USER``). Behind JupyterHub the hub sets ``JUPYTERHUB_USER``
for the user's server and its kernels; inside that user's own container it is as good as the
container, which is all a hub vouches for. Stronger proof comes from the database role on
PostgreSQL (``Store.db_identity``) and from the Jupyter server's authenticated user.
"""

from __future__ import annotations

import os
import socket


def login_name() -> str:
    """The hub user behind JupyterHub, else the OS account of this process."""
    hub_user = os.environ.get("JUPYTERHUB_USER", "").strip()
    if hub_user:
        return hub_user
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, AttributeError):
        # Windows, or a container user with no passwd entry: the numeric id is still this account.
        return str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "unknown")


def root_key(root_dir: str) -> str:
    """Which server root a notebook path is relative to: the host and the real path of the root,
    hashed (another server's ``a.ipynb`` is another file)."""
    from blake3 import blake3

    real = os.path.realpath(os.path.expanduser(root_dir or "."))
    return str(blake3(f"{socket.gethostname()}\0{real}".encode()).hexdigest()[:32])
