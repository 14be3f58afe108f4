"""Which server root a path belongs to, and stable notebook ids.

Assumptions: a notebook path means something only under one server's root (two servers rooted
elsewhere each have their own ``a.ipynb``), so anything keyed by path is keyed by the server's
key too: the host name and the real path of the root, hashed. A notebook's id lives in its own
metadata (``metadata.mlm.notebook_id``): it is written once, by the save that first lacks one,
follows the file through renames (the file keeps it) and is replaced on a copy (the same id
already belongs to another existing file of this server).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ..capture.snapshot import notebook_id_of
from ..identity import root_key
from ..store import Store


def server_key(root_dir: str) -> str:
    return root_key(root_dir)


def _id_on_disk(contents_manager: Any, path: str) -> str | None:
    try:
        os_path = contents_manager._get_os_path(path)
        with open(os_path, encoding="utf-8") as handle:
            return notebook_id_of(json.load(handle))
    except (AttributeError, OSError, ValueError):
        return None


def _exists_with_id(contents_manager: Any, path: str, notebook_id: str) -> bool:
    return _id_on_disk(contents_manager, path) == notebook_id


def ensure_notebook_id(store: Store, server: str, contents_manager: Any, path: str, content: dict[str, Any]) -> str:
    """The id ``content`` (a notebook about to be saved at ``path``) must carry, written into it."""
    path = path.strip("/")
    given = notebook_id_of(content) or store.notebook_at(server, path) or _id_on_disk(contents_manager, path)
    if given is not None:
        where = store.notebook_location(given)
        if where is not None and where != (server, path) and where[0] == server:
            other = where[1]
            if other != path and _exists_with_id(contents_manager, other, given):
                given = None  # a copy of a notebook that still exists: a notebook of its own
    notebook_id = given or uuid.uuid4().hex
    meta = content.setdefault("metadata", {})
    mlm = meta.get("mlm") if isinstance(meta.get("mlm"), dict) else {}
    meta["mlm"] = {**mlm, "notebook_id": notebook_id}
    store.place_notebook(notebook_id, server, path)
    return notebook_id


def pre_save_hook(store: Store, server: str) -> Any:
    def hook(model: dict[str, Any], path: str, contents_manager: Any, **_: Any) -> None:
        if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
            return
        try:
            ensure_notebook_id(store, server, contents_manager, path, model["content"])
        except Exception as exc:  # an id must never stop a save
            contents_manager.log.warning("jupyter_mlm: no notebook id for %s: %s", path, exc)

    return hook
