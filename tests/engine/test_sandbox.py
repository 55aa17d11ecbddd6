"""`python -m sandbox up` / `token` / `down`, as a workstation runs them: the dev stack deployed for real, a
workload's login and read as the printed instructions say, then everything gone."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import hvac
import requests

from sandbox import stacks
from tests.engine.toolchain import require_toolchain


def sandbox(directory: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "--dir", str(directory), *argv],
        cwd=stacks.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_the_sandbox_deploys_the_dev_stack_and_takes_it_down(tmp_path: Path) -> None:
    require_toolchain()
    work = tmp_path / "sandbox"
    started = sandbox(work, "up")
    assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
    address = re.search(r"export VAULT_ADDR=(\S+)", started.stdout)
    assert address and "role=my-role" in started.stdout
    assert "bao kv get -mount=secret -field=apikey myapp" in started.stdout

    minted = sandbox(work, "token", "myapp", "myapp")
    assert minted.returncode == 0, minted.stderr
    client = hvac.Client(url=address.group(1))
    login = client.auth.jwt.jwt_login("my-role", minted.stdout.strip(), path="jwt")
    workload = hvac.Client(url=address.group(1), token=login["auth"]["client_token"])
    apikey = workload.secrets.kv.v2.read_secret_version("myapp", mount_point="secret", raise_on_deleted_version=True)
    assert len(apikey["data"]["data"]["apikey"]) >= 32  # the value the stack generated

    root_token = json.loads((work / "openbao" / "init.json").read_text())["root_token"]
    assert root_token not in started.stdout + started.stderr  # printed: where it is, never what it is

    stopped = sandbox(work, "down")
    assert stopped.returncode == 0, stopped.stdout[-3000:] + stopped.stderr[-3000:]
    assert not work.exists()
    try:
        requests.get(f"{address.group(1)}/v1/sys/health", timeout=2)
        raise AssertionError("OpenBao still answers after `sandbox down`")
    except requests.ConnectionError:
        pass
