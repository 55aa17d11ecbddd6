"""Audit devices through `pulumi up`, both ways the stack handles them.

- ``vault.server: vault``: the stack creates them through the API (here OpenBao with
  `unsafe_allow_api_audit_creation`, which behaves as Vault does). Changing a device's target succeeds:
  the new device, at a path derived from its target, exists before the old one is removed.
- ``vault.server: openbao``: OpenBao refuses API-created devices; the stack creates none and exports
  `auditConfig`, the stanzas of its server configuration. A server reloaded with the stanzas of a
  changed stack records to the new target.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import stacks
from sandbox.engine import PulumiCli
from sandbox.issuer import ServiceAccountIssuer
from sandbox.servers import OpenBaoServer
from tests.live.openbao import require_bao


@pytest.fixture
def vault_like(tmp_path: Path) -> Iterator[OpenBaoServer]:
    """OpenBao that creates audit devices through the API, as Vault does."""
    with OpenBaoServer(require_bao(), extra_config="unsafe_allow_api_audit_creation = true\n") as server:
        yield server


def devices(server: OpenBaoServer) -> dict[str, str]:
    """Each audit device's path and the file it writes."""
    listed = server.client().sys.list_enabled_audit_devices()["data"]
    return {path: device["options"].get("file_path", "") for path, device in listed.items()}


def jwt_stack(server: OpenBaoServer) -> dict[str, Any]:
    config = stacks.with_jwt_issuer(stacks.against(stacks.dev_stack(), server), ServiceAccountIssuer())
    for workload in stacks.workloads(config):
        for secret in workload["secrets"]:
            secret["delivery"] = "none"
    return config


def test_on_vault_a_target_change_creates_the_new_device_then_removes_the_old(
    cli: PulumiCli, vault_like: OpenBaoServer, tmp_path: Path
) -> None:
    first, second = str(tmp_path / "first.log"), str(tmp_path / "second.log")
    config = jwt_stack(vault_like)
    config[stacks.key("auditDevices")] = [{"type": "file", "target": first}]
    stack = cli.stack("audit", config)
    stack.cli.extra_env["VAULT_TOKEN"] = vault_like.root_token
    stack.up()
    assert list(devices(vault_like).values()) == [first]

    changed = copy.deepcopy(config)
    changed[stacks.key("auditDevices")] = [{"type": "file", "target": second}]
    stack.write_config(changed)
    stack.up()
    assert list(devices(vault_like).values()) == [second]
    stack.preview("--expect-no-changes")
    vault_like.client().sys.list_policies()  # a request the new device records
    assert "sys/policies" in Path(second).read_text() or "sys/policy" in Path(second).read_text()


def test_on_openbao_the_stack_renders_the_server_configuration_it_needs(cli: PulumiCli, tmp_path: Path) -> None:
    first, second = stacks.audit_files(tmp_path / "one"), stacks.audit_files(tmp_path / "two")
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    with OpenBaoServer(require_bao(), audit_config=stacks.server_audit_config(first)) as server:
        config = stacks.on_openbao(jwt_stack(server), first)
        stack = cli.stack("audit", config)
        stack.cli.extra_env["VAULT_TOKEN"] = server.root_token
        stack.up()
        assert stack.outputs()["auditConfig"] == stacks.server_audit_config(first)
        assert sorted(devices(server).values()) == sorted(d["target"] for d in first)

        # The stack's devices change: its new auditConfig, put into the server's configuration and
        # reloaded, moves the server's devices; `pulumi up` itself never touches sys/audit.
        stack.write_config(stacks.on_openbao(jwt_stack(server), second))
        stack.up()
        server.write_config(stack.outputs()["auditConfig"])
        server.reload()
        wait_for(lambda: sorted(devices(server).values()) == sorted(d["target"] for d in second))
        stack.preview("--expect-no-changes")


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met within the timeout")
