"""Files whose bytes a snapshot never stores: credentials a kernel happens to read.

A run records every file it read (path and BLAKE3 digest), and stores the bytes of small ones so
the exact data can be restored. For credentials that would copy secrets into a store other
people read, so a file matching the deny-list below, or ``c.MLM.capture_exclude`` /
``$MLM_CAPTURE_EXCLUDE`` (comma-separated patterns), is recorded by path and digest only: a
reproduction can still tell that it changed, never what it said.

Patterns are ``fnmatch`` globs matched against the file's absolute path and against its name;
``~`` stands for the home folder.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from functools import lru_cache

DEFAULT_DENY = (
    # cloud and cluster credentials
    "~/.aws/credentials", "~/.aws/config", "~/.config/gcloud/*", "~/.azure/*", "~/.kube/config",
    "~/.docker/config.json", "*/.kube/config",
    # login and token files
    "~/.netrc", "_netrc", ".netrc", "~/.git-credentials", "~/.pgpass", ".pgpass", "~/.pypirc", ".pypirc",
    "~/.npmrc", ".npmrc", "~/.config/gh/hosts.yml", "~/.huggingface/token", "~/.cache/huggingface/token",
    "~/.jupyter/*token*",
    # environment files with secrets
    ".env", ".env.*", "*.env",
    # keys and certificates
    "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519",
    "id_*", "*.ppk", "~/.ssh/*", "~/.gnupg/*",
    # service-account and secret files by convention
    "credentials.json", "*credentials*.json", "client_secret*.json", "service-account*.json", "secrets.*",
    "*.secret", "*.secrets",
)  # fmt: skip


@lru_cache(maxsize=8)
def _patterns(extra: str, home: str) -> tuple[str, ...]:
    patterns = [*DEFAULT_DENY, *(p.strip() for p in extra.split(",") if p.strip())]
    return tuple(os.path.join(home, p[2:]) if p.startswith("~/") else p for p in patterns)


def never_store(path: str) -> bool:
    """Whether ``path`` (absolute) is a credential file whose bytes must not be stored."""
    patterns = _patterns(os.environ.get("MLM_CAPTURE_EXCLUDE", ""), os.path.expanduser("~"))
    name = os.path.basename(path)
    return any(fnmatch.fnmatchcase(path, p) or ("/" not in p and fnmatch.fnmatchcase(name, p)) for p in patterns)


_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|API_?KEY|ACCESS_?KEY|PRIVATE|CREDENTIAL|AUTH|SESSION_?KEY", re.I)
_MIN_SECRET_CHARS = 6


def redact_secrets(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with the value of every secret-looking environment variable (a name with TOKEN,
    SECRET, PASSWORD, API_KEY, ACCESS_KEY, PRIVATE, CREDENTIAL, AUTH…; values of 6 characters
    or more) replaced by ``[redacted $NAME]``: what a run printed is stored for others to read."""
    env = os.environ if environ is None else environ
    secrets = sorted(
        ((value, name) for name, value in env.items() if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET_CHARS),
        key=lambda pair: -len(pair[0]),
    )  # fmt: skip
    for value, name in secrets:
        if value in text:
            text = text.replace(value, f"[redacted ${name}]")
    return text
