"""`jupyter mlm` as a user runs it: through the jupyter command, in a subprocess."""

from __future__ import annotations

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
