"""binder/ as repo2docker (mybinder.org, BinderHub) uses it: a fresh virtualenv, ``pip install -r
binder/requirements.txt``, then ``bash binder/postBuild`` from the repository root — no make, no
PostgreSQL, nothing of this checkout's environment — after which both extensions are enabled and
every demo notebook runs and shows what it says, each on an empty store of its own.

repo2docker runs these steps as a non-root user. Where this test runs as root and an unprivileged
user can run the interpreter, it does the same (``nobody``); where it cannot (an interpreter under
``/root``), the steps run as the current user with a minimal environment. Pip and yarn keep their
download caches (the real ``HOME``): what is checked is what gets built, not the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from jupyter_mlm.store import open_store

from ..kernel.test_binder_demos import CHECKS

REPO = Path(__file__).resolve().parents[2]
STEP_SECONDS = 1200
NOBODY = 65534

EXECUTE = """
import os, shutil, sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient

binder, out = Path(sys.argv[1]), Path(sys.argv[2])
for demo in sorted(binder.glob('[0-9]-*.ipynb')):
    work = out / demo.stem
    work.mkdir(parents=True)
    for shipped in binder.glob('*.ipynb'):
        shutil.copy(shipped, work / shipped.name)
    os.environ['MLM_STORE_URI'] = str(work / 'store')
    os.environ['JPY_SESSION_NAME'] = str(work / demo.name)
    nb = nbformat.read(work / demo.name, as_version=4)
    try:
        NotebookClient(nb, timeout=300, kernel_name='python3', resources={'metadata': {'path': str(work)}}).execute()
    finally:
        nbformat.write(nb, work / demo.name)
    print('executed', demo.name, flush=True)
"""


def _checkout(target: Path) -> None:
    """The repository as a clone would have it: tracked files plus new ones not ignored."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True,
                            check=True).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _unprivileged(python: Path, folder: Path) -> dict[str, Any]:
    """``subprocess`` arguments that run a step as ``nobody``, when root and nobody can run there."""
    if os.geteuid() != 0:
        return {}
    try:
        probe = subprocess.run([str(python), "-c", "pass"], cwd=folder, user=NOBODY, group=NOBODY, capture_output=True,
                               check=False)  # fmt: skip
    except OSError:  # the interpreter or the folder is out of nobody's reach (e.g. under /root)
        return {}
    return {"user": NOBODY, "group": NOBODY} if probe.returncode == 0 else {}


@pytest.mark.timeout(3 * STEP_SECONDS)
def test_binder_builds_and_runs_every_demo_as_repo2docker_does(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs the git checkout")
    repo, venv, work = tmp_path / "repo", tmp_path / "venv", tmp_path / "demos"
    _checkout(repo)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    jupyter_dirs = {key: str(tmp_path / "jupyter" / key.lower()) for key in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR")}
    env = {
        "HOME": os.environ.get("HOME", str(tmp_path)), "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin",
        "LANG": "C.UTF-8", "IPYTHONDIR": str(tmp_path / "ipython"), "JUPYTER_PLATFORM_DIRS": "1", **jupyter_dirs,
    }  # fmt: skip
    as_user = _unprivileged(python, tmp_path)
    if as_user:
        for path in (tmp_path, *tmp_path.rglob("*")):
            os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
        env["HOME"] = str(tmp_path)

    def step(*command: str, cwd: Path = repo) -> str:
        done = subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_SECONDS,
                              check=False, **as_user)  # fmt: skip
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{output[-4000:]}"
        return output

    step(str(python), "-m", "pip", "install", "-q", "-r", "binder/requirements.txt")
    step("bash", "binder/postBuild")
    assert (venv / "share" / "jupyter" / "labextensions" / "jupyter-mlm" / "package.json").is_file()
    servers = step(str(venv / "bin" / "jupyter"), "server", "extension", "list")
    assert any("jupyter_mlm" in line and "enabled" in line for line in servers.splitlines()), servers
    assert "jupyter_mlm 0" in servers and "OK" in servers.split("jupyter_mlm 0", 1)[1].splitlines()[0], servers
    labs = step(str(venv / "bin" / "jupyter"), "labextension", "list")
    [line] = [line for line in labs.splitlines() if "jupyter-mlm" in line]
    assert "enabled" in line and "OK" in line, labs
    # What runs there is the installed package, not this checkout's sources.
    located = step(str(python), "-c", "import jupyter_mlm; print(jupyter_mlm.__file__)", cwd=tmp_path)
    assert str(venv) in located, located

    script = tmp_path / "execute.py"
    script.write_text(EXECUTE)
    work.mkdir()
    if as_user:
        os.chown(script, NOBODY, NOBODY)
        os.chown(work, NOBODY, NOBODY)
    executed = step(str(python), str(script), str(repo / "binder"), str(work), cwd=tmp_path)
    demos = sorted((repo / "binder").glob("[0-9]-*.ipynb"))
    assert executed.count("executed ") == len(demos) == 4, executed
    for demo in demos:
        folder = work / demo.stem
        nb = nbformat.read(folder / demo.name, as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        assert [o for o in outputs if o.output_type == "error"] == [], demo.name
        assert not [o.text for o in outputs if o.output_type == "stream" and "Traceback" in o.text], demo.name
        store = open_store(str(folder / "store"))
        try:
            CHECKS[demo.name[0]](store, folder)
        finally:
            store.close()
