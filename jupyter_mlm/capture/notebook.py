"""Notebooks stored per cell: one blob per distinct cell, a small manifest per snapshot.

Assumptions: between two snapshots most cells are unchanged, so a cell is stored once however
many snapshots include it, and a manifest usually records only what changed since the previous
manifest of the same notebook (a *delta*: ``base`` + replaced positions), falling back to a full
list when cells were inserted or deleted, or every ``FULL_EVERY`` snapshots to bound the chain a
reader follows. Large output payloads (images, big HTML) are split out of the cell into blobs of
their own, so editing a cell's source does not store its plot again.
"""

from __future__ import annotations

import json
from typing import Any

from ..store.objects import ObjectStore

FULL_EVERY = 50
LARGE_OUTPUT = 4096
_BLOB_REF = "mlm_blob"


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _split_outputs(cell: dict[str, Any], objects: ObjectStore) -> dict[str, Any]:
    outputs = cell.get("outputs")
    if not outputs:
        return cell
    split = []
    for output in outputs:
        data = output.get("data")
        if isinstance(data, dict):
            new_data = {}
            for mime, payload in data.items():
                text = payload if isinstance(payload, str) else None
                if text is not None and len(text) > LARGE_OUTPUT:
                    new_data[mime] = {_BLOB_REF: objects.put_bytes(text.encode("utf-8"))}
                else:
                    new_data[mime] = payload
            output = {**output, "data": new_data}
        split.append(output)
    return {**cell, "outputs": split}


def join_outputs(cell: dict[str, Any], objects: ObjectStore) -> dict[str, Any]:
    """A stored cell with its large outputs read back from their blobs."""
    outputs = cell.get("outputs")
    if not outputs:
        return cell
    joined = []
    for output in outputs:
        data = output.get("data")
        if isinstance(data, dict):
            output = {
                **output,
                "data": {
                    mime: objects.get(payload[_BLOB_REF]).decode("utf-8")
                    if isinstance(payload, dict) and set(payload) == {_BLOB_REF}
                    else payload
                    for mime, payload in data.items()
                },
            }
        joined.append(output)
    return {**cell, "outputs": joined}


def has_unique_ids(notebook: dict[str, Any]) -> bool:
    """Every cell has an id and no two share one. Manifests say so (``unique_ids``): then a cell
    whose digest two snapshots share can be aligned by id without being read."""
    ids = [cell.get("id") for cell in notebook.get("cells", [])]
    return None not in ids and len(set(ids)) == len(ids)


class NotebookWriter:
    """Stores notebooks as cell blobs + manifests, remembering each path's last manifest for deltas."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects
        self._last: dict[str, tuple[str, list[str], int]] = {}  # key → (manifest digest, cells, depth)

    def cell_digests(self, notebook: dict[str, Any]) -> list[str]:
        return self.objects.put_many(
            [_canonical(_split_outputs(cell, self.objects)) for cell in notebook.get("cells", [])]
        )

    def store(self, notebook: dict[str, Any], key: str) -> str:
        """Store ``notebook`` (an nbformat dict); ``key`` names the notebook for delta manifests."""
        cells = self.cell_digests(notebook)
        header: dict[str, Any] = {
            "nbformat": notebook.get("nbformat", 4),
            "nbformat_minor": notebook.get("nbformat_minor", 5),
            "metadata": notebook.get("metadata", {}),
        }
        if has_unique_ids(notebook):
            header["unique_ids"] = True
        previous = self._last.get(key)
        manifest: dict[str, Any]
        if (
            previous is not None
            and len(previous[1]) == len(cells)
            and previous[2] < FULL_EVERY
            and self.objects.exists(previous[0])
        ):
            changes = [[i, d] for i, (d, old) in enumerate(zip(cells, previous[1], strict=True)) if d != old]
            manifest = {**header, "base": previous[0], "changes": changes}
            depth = previous[2] + 1
        else:
            manifest = {**header, "cells": cells}
            depth = 0
        digest = self.objects.put_bytes(_canonical(manifest))
        self._last[key] = (digest, cells, depth)
        return digest


def manifest_cells(objects: ObjectStore, digest: str) -> tuple[dict[str, Any], list[str]]:
    """The manifest's header and its full list of cell digests, following delta chains."""
    chain: list[dict[str, Any]] = []
    current = digest
    while True:
        manifest = json.loads(objects.get(current))
        chain.append(manifest)
        if "cells" in manifest:
            break
        current = manifest["base"]
    cells = list(chain[-1]["cells"])
    for manifest in reversed(chain[:-1]):
        for index, cell_digest in manifest["changes"]:
            cells[index] = cell_digest
    return chain[0], cells


def load_cell(objects: ObjectStore, digest: str) -> dict[str, Any]:
    """One stored cell, outputs included."""
    return join_outputs(json.loads(objects.get(digest)), objects)


def load_notebook(objects: ObjectStore, digest: str) -> dict[str, Any]:
    """The notebook stored under manifest ``digest``, as an nbformat dict."""
    header, cells = manifest_cells(objects, digest)
    return {
        "nbformat": header["nbformat"],
        "nbformat_minor": header["nbformat_minor"],
        "metadata": header["metadata"],
        "cells": [join_outputs(json.loads(objects.get(d)), objects) for d in cells],
    }
