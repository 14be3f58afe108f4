"""Retraining jobs: a notebook run headlessly with parameters, in a run tagged with the alert
that asked for it.

``retrain("train.ipynb", parameters={...}, data=...)`` is a rule's action; when the rule fires,
monitoring queues a job (a store row). A runner — ``jupyter mlm worker``, or the Jupyter server
extension while it runs — leases the job, injects the parameters after the notebook's cell tagged
``parameters`` (as papermill does; at the top when there is none), executes it with nbclient in
a kernel whose runs log to the same store and are tagged ``mlm.job`` / ``mlm.alert``, keeps the
lease alive while it runs, and records the outcome, the run and the executed notebook (a blob).
The notebook fetches production rows with ``mlm.monitor.labeled_rows`` and registers its model
with the alias ``challenger``. With ``c.MLM.job_command`` set, the runner hands the job to that
command (another scheduler) and records its exit status instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..store import Store
from ..store.loop import JobRow

LEASE_MS = 60_000
TIMEOUT_S = 3600


def retrain(notebook: str, parameters: dict[str, Any] | None = None, data: Any = None) -> dict[str, Any]:
    """A rule action: run ``notebook`` with ``parameters`` (and ``data``: a path or URI the notebook
    reads, passed as the parameter ``data``) each time the rule fires."""
    if (
        not isinstance(notebook, str)
        or not notebook.endswith(".ipynb")
        or Path(notebook).is_absolute()
        or (".." in Path(notebook).parts)
    ):
        raise UsageError(f"retrain takes a notebook path relative to the runner's folder (.ipynb), not {notebook!r}")
    params = dict(parameters or {})
    if data is not None:
        params["data"] = os.fspath(data) if isinstance(data, os.PathLike) else data
    try:
        json.dumps(params)
    except (TypeError, ValueError):
        raise UsageError("retrain parameters must be JSON values (numbers, texts, lists, dicts)") from None
    return {"retrain": {"notebook": notebook, "parameters": params}}


def _inject(notebook: Any, parameters: dict[str, Any]) -> None:
    from nbformat.v4 import new_code_cell

    lines = [f"{name} = {value!r}" for name, value in parameters.items() if name.isidentifier()]
    cell = new_code_cell("# Parameters of the retraining job\n" + "\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    cells = notebook.cells
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    cells.insert(tagged[0] + 1 if tagged else 0, cell)


def _notebook_path(spec: dict[str, Any], root: Path) -> Path:
    """The job's notebook, confined to the runner's root: the name comes from the store (anyone
    who can add a rule wrote it), so no absolute path, no ``..``, no link out of the root."""
    name = spec.get("notebook")
    if not isinstance(name, str) or not name.endswith(".ipynb") or Path(name).is_absolute() or ".." in Path(name).parts:
        raise UsageError(f"the job's notebook must be a .ipynb path inside {root}, not {name!r}")
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()):
        raise UsageError(f"the job's notebook {name!r} leads out of {root}")
    if not path.is_file():
        raise UsageError(f"the job's notebook {spec['notebook']!r} is not a file (relative to {root})")
    return path


def execute(store: Store, job: JobRow, root: Path) -> tuple[bool, dict[str, Any], str | None, str | None]:
    """Run the job's notebook here; (ok, result, run id, digest of the executed notebook)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    spec = job.parameters
    path = _notebook_path(spec, root)
    notebook = nbformat.read(path, as_version=4)
    _inject(notebook, dict(spec.get("parameters") or {}))
    # What runs is the notebook with its parameters cell: written beside the original (as
    # papermill writes its output notebooks), so the job's run snapshots that file, and then its
    # outputs.
    executed = path.with_name(f"{path.stem}.job-{job.id[:8]}.ipynb")
    _write(executed, nbformat.writes(notebook))
    env = {"MLM_JOB_ID": job.id, "MLM_JOB_ALERT": job.alert_id or "", "JPY_SESSION_NAME": str(executed),
           "MLM_STORE_URI": store.location.db_url, "MLM_OBJECTS_URI": store.location.objects_uri}  # fmt: skip
    client = NotebookClient(
        notebook, timeout=TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    ok, result = True, {"notebook": spec["notebook"]}
    previous = {k: os.environ.get(k) for k in env}
    try:
        # nbclient starts the kernel with this process's environment.
        os.environ.update(env)
        client.execute()
    except CellExecutionError as error:
        ok, result["error"] = False, str(error).strip().splitlines()[-1][:500]
    except Exception as error:
        ok, result["error"] = False, f"{type(error).__name__}: {error}"[:500]
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    text = nbformat.writes(notebook)
    _write(executed, text)
    result["executed"] = executed.name
    digest = store.objects.put_bytes(text.encode("utf-8"))
    return ok, result, _run_of(store, job), digest


def _write(path: Path, text: str) -> None:
    """Atomically, replacing whatever is at ``path`` (a planted link is replaced, not followed)."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _command(template: str, store: Store, job: JobRow) -> list[str]:
    fields = {"job_id": job.id, "notebook": job.parameters.get("notebook", ""), "store": store.location.db_url,
              "objects": store.location.objects_uri, "python": sys.executable}  # fmt: skip
    try:
        return [part.format(**fields) for part in shlex.split(template)]
    except (KeyError, IndexError, ValueError) as error:
        raise UsageError(f"c.MLM.job_command {template!r} cannot be filled in: {error}") from None


def hand_off(store: Store, job: JobRow, template: str) -> tuple[bool, dict[str, Any], str | None, str | None]:
    """Run ``c.MLM.job_command`` for the job and wait for it; its exit status is the job's."""
    command = _command(template, store, job)
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    log = f"$ {shlex.join(command)}\n{done.stdout}{done.stderr}"
    digest = store.objects.put_bytes(log.encode("utf-8"))
    result: dict[str, Any] = {
        "notebook": job.parameters.get("notebook"),
        "command": command[0],
        "exit": done.returncode,
    }
    if done.returncode != 0:
        result["error"] = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1][:500]
    return done.returncode == 0, result, _run_of(store, job), digest


def _run_of(store: Store, job: JobRow) -> str | None:
    """The run the job's notebook made (the newest, if it made several)."""
    runs, _ = store.search_runs(filter=f"tags.mlm.job = '{job.id}'", order_by="start DESC", limit=1)
    return runs[0].info.id if runs else None


class Runner:
    """Claims and runs jobs until told to stop (or once)."""

    def __init__(self, store: Store, root: Path, job_command: str = "", owner: str | None = None) -> None:
        self.store = store
        self.root = root
        self.job_command = job_command
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.stopping = threading.Event()

    def run_one(self, job_id: str | None = None) -> JobRow | None:
        job = self.store.claim_job(self.owner, LEASE_MS, job_id)
        if job is None:
            return None
        renewing = threading.Event()

        def renew() -> None:
            while not renewing.wait(LEASE_MS / 3000):
                self.store.renew_lease(job.id, self.owner, LEASE_MS)

        keeper = threading.Thread(target=renew, name="mlm-job-lease", daemon=True)
        keeper.start()
        try:
            if self.job_command:
                ok, result, run_id, digest = hand_off(self.store, job, self.job_command)
            else:
                ok, result, run_id, digest = execute(self.store, job, self.root)
        except Exception as error:
            ok, result, run_id, digest = False, {"error": f"{type(error).__name__}: {error}"[:500]}, None, None
        finally:
            renewing.set()
            keeper.join()
        self.store.finish_job(job.id, self.owner, ok, result, run_id, digest)
        return self.store.get_job(job.id)

    def run(self, poll_seconds: float = 2.0, once: bool = False, evaluate: Any = None) -> int:
        """Run jobs as they come (``once``: until none is left); returns how many ran."""
        count = 0
        while not self.stopping.is_set():
            job = self.run_one()
            if evaluate is not None:
                evaluate()
            if job is not None:
                count += 1
                continue
            if once:
                return count
            self.stopping.wait(poll_seconds)
        return count


def wait_for(store: Store, job_id: str, timeout: float = 600) -> JobRow:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = store.get_job(job_id)
        if job.status in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} did not finish in {timeout:.0f} s")
