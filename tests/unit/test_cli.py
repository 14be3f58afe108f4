"""`jupyter mlm` as a user runs it: through the jupyter command, in a subprocess — and, where
the point is what a sequence of commands does rather than how one starts, in this process."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The jupyter command beside this interpreter, so the test needs no PATH set-up.
JUPYTER = str(Path(sys.executable).with_name("jupyter"))


def mlm(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([JUPYTER, "mlm", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60)


def mlm_here(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """What ``mlm`` would give (exit status, stdout, stderr), from the CLI's ``main`` in this
    process: a second each saved, for tests that run tens of commands."""
    from jupyter_mlm.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved, here = {k: os.environ.get(k) for k in env}, os.getcwd()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse's usage errors
                code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        os.chdir(here)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return subprocess.CompletedProcess(["jupyter", "mlm", *args], code, out.getvalue(), err.getvalue())


def test_init_then_status(tmp_path: Path) -> None:
    init = mlm("init", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert "store ready at sqlite:///" in init.stdout
    assert (tmp_path / ".mlm" / "mlm.db").is_file()
    status = mlm("status", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert str(tmp_path / ".mlm" / "mlm.db") in status.stdout
    assert "schema" in status.stdout and "runs" in status.stdout
    data = json.loads(mlm("status", "--json", cwd=tmp_path).stdout)
    assert data["backend"] == "sqlite"
    assert data["runs"] == 0 and data["objects"] == 0


def test_status_follows_the_environment(tmp_path: Path) -> None:
    result = mlm("status", "--json", cwd=tmp_path, env={"MLM_STORE_URI": str(tmp_path / "elsewhere")})
    assert json.loads(result.stdout)["store_uri"] == f"sqlite:///{tmp_path / 'elsewhere' / 'mlm.db'}"


@pytest.mark.parametrize("args", [("frobnicate",), ("status", "--bogus"), ()])
def test_usage_errors_exit_2_with_usage(args: tuple[str, ...], tmp_path: Path) -> None:
    result = mlm(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "usage: jupyter mlm" in result.stderr
    assert not (tmp_path / ".mlm").exists()


def test_bad_store_uri_is_one_line_exit_1(tmp_path: Path) -> None:
    result = mlm("--store", "mysql://x/y", "status", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "unsupported store URI" in result.stderr
    assert "Traceback" not in result.stderr


def test_registry_commands(tmp_path: Path) -> None:
    import sqlite3

    from jupyter_mlm.store import open_store
    from jupyter_mlm.tracking import SESSION

    store_dir = tmp_path / "store"
    env = {"MLM_STORE_URI": str(store_dir), "JUPYTERHUB_USER": "ana"}
    store = open_store(str(store_dir))
    SESSION.use_store(store)
    try:
        import jupyter_mlm as api

        with api.start_run("train", experiment="churn"):
            api.log_param("depth", 4)
            api.log_metric("auc", 0.91)
        api.register_model({"weights": [1, 2]}, "churn", description="first")
        api.register_model({"weights": [3, 4]}, "churn")
    finally:
        SESSION.use_store(None)
        store.close()

    def run(*args: str, user: str = "ana") -> subprocess.CompletedProcess[str]:
        # Each person runs the CLI as themselves (as JupyterHub gives each user their own server).
        return mlm_here(*args, cwd=tmp_path, env={**env, "JUPYTERHUB_USER": user})

    policy = run("policy", "set", "--require-approval-for", "production", "-m", "four eyes")
    assert policy.returncode == 0 and "approval needed   production" in policy.stdout, policy.stderr
    assert "you act as        ana (OS login" in policy.stdout
    result = run("transition", "churn", "1", "production", "-m", "first release")
    assert result.returncode == 0 and "requested production for churn/1" in result.stdout, result.stderr
    denied = run("approve", "churn", "1")
    assert denied.returncode == 1 and "ana requested this transition and cannot also approve" in denied.stderr
    claimed = run("approve", "churn", "1", "--as", "bo")  # the requester claiming to be someone else
    assert claimed.returncode == 1 and "needs named approvers" in claimed.stderr
    approved = run("approve", "churn", "1", "-m", "ok", user="bo")
    assert approved.returncode == 0 and "approved production for churn/1" in approved.stdout, approved.stderr
    assert run("transition", "churn", "2", "staging").stdout.strip() == "churn/2 is now in staging"
    run("transition", "churn", "2", "production")
    rejected = run("reject", "churn", "2", "-m", "not yet", user="cy")
    assert rejected.returncode == 0 and "rejected production for churn/2" in rejected.stdout
    run("transition", "churn", "2", "production")
    run("approve", "churn", user="cy")
    assert "churn/1 is back in production" in run("rollback", "churn", "-m", "regression").stdout
    assert run("alias", "churn", "champion", "1").returncode == 0

    listing = run("models")
    assert listing.returncode == 0
    row = next(line for line in listing.stdout.splitlines() if line.startswith("churn"))
    assert row.split()[:4] == ["churn", "2", "2", "1"] and "@champion=1" in row
    models = json.loads(run("models", "--json").stdout)
    assert models[0]["production"] == [1] and models[0]["aliases"] == {"champion": 1}

    card = run("model", "churn")
    assert card.returncode == 0, card.stderr
    for expected in ("VERSION", "churn version 1  [production]", "source run: train", "metrics: auc=0.91",
                     "params: depth=4", "environment: Python", "approvals: 1", "decided by bo"):  # fmt: skip
        assert expected in card.stdout, expected
    card2 = json.loads(run("model", "churn", "2", "--json").stdout)
    assert card2["stage"] == "archived" and [a["status"] for a in card2["approvals"]] == ["rejected", "approved"]

    verify = run("audit", "verify")
    assert verify.returncode == 0 and "audit trail intact" in verify.stdout
    moves = json.loads(run("model", "churn", "--json").stdout)["moves"]
    assert moves["1"] == [{"stage": s, "needs_approval": False} for s in ("none", "staging", "archived")]
    assert {"stage": "production", "needs_approval": True} not in moves["2"]  # archived: never straight back
    log = run("audit", "log", "--model", "churn", "--limit", "3")
    assert len(log.stdout.splitlines()) == 3 and "alias" in log.stdout.splitlines()[0]
    with sqlite3.connect(store_dir / "mlm.db") as db:
        db.execute("UPDATE audit_events SET comment = 'approved by the board' WHERE seq = 5")
    broken = run("audit", "verify")
    assert broken.returncode == 1 and "audit trail BROKEN at event 5: event 5 was altered" in broken.stdout

    for args, message in [
        (("model", "nope"), "no registered model 'nope'"),
        (("transition", "churn", "9", "staging"), "has no version 9"),
        (("transition", "churn", "1", "gold"), "unknown stage 'gold'"),
        (("rollback", "ghost"), "no registered model 'ghost'"),
        (("approve", "churn", "1"), "no pending request for churn/1"),
    ]:
        bad = run(*args)
        assert bad.returncode == 1 and message in bad.stderr and bad.stderr.count("\n") == 1, (args, bad.stderr)
    assert run("transition", "churn", "x", "staging").returncode == 2


def test_cli_follows_the_servers_jupyter_config(tmp_path: Path) -> None:
    """The CLI opens the store the server is configured with; the policy is the store's."""
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.json").write_text(json.dumps({
        "MLM": {"store_uri": str(tmp_path / "configured"), "require_approval_for": ["staging"]}
    }))  # fmt: skip
    env = {"JUPYTER_CONFIG_DIR": str(config_dir)}
    status = json.loads(mlm("status", "--json", cwd=tmp_path, env=env).stdout)
    assert status["store_uri"] == f"sqlite:///{tmp_path / 'configured' / 'mlm.db'}"
    from jupyter_mlm.registry import Governance
    from jupyter_mlm.store import open_store

    store = open_store(str(tmp_path / "configured"))
    Governance(store, "ana").add_version(
        "m", digest=store.objects.put_bytes(b"x"), size=1, flavor="file", serializer="file", filename="m.bin",
        run_id=None, signature=None, profile_digest=None, description="",
    )  # fmt: skip
    store.close()
    result = mlm("transition", "m", "1", "staging", cwd=tmp_path, env=env)
    assert result.returncode == 0 and "m/1 is now in staging" in result.stdout, result.stderr
    bad = mlm("policy", "set", "--require-approval-for", "gold", cwd=tmp_path, env=env)
    assert bad.returncode == 1 and "require_approval_for names unknown stages ['gold']" in bad.stderr
    shown = json.loads(mlm("policy", "--json", cwd=tmp_path, env=env).stdout)
    assert shown["require_approval_for"] == []


def test_output_cut_short_by_head_ends_quietly_and_escapes_terminal_sequences(tmp_path: Path) -> None:
    """`jupyter mlm audit log | head -1` exits 0 without a BrokenPipeError traceback, and names
    holding escape sequences print escaped."""
    import subprocess
    import sys

    from jupyter_mlm.registry import Governance, register
    from jupyter_mlm.store import open_store

    store = open_store(str(tmp_path / "store"))
    register(store, {"w": 1}, "evil", run_id=None, actor="\x1b[2Jmallory", reference_data=None)
    governance = Governance(store, "ana")
    for n in range(700):  # more than a pipe's buffer of audit lines
        governance.set_alias("evil", f"a{n}", 1)
    store.close()
    command = [sys.executable, "-m", "jupyter_mlm.cli", "--store", str(tmp_path / "store"), "audit", "log"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # what head does after its line
    assert process.wait(60) == 0 and process.stderr.read() == b""
    assert first
    full = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert "\x1b" not in full and "\\x1b[2Jmallory" in full
