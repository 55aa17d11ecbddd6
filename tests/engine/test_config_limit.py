"""The stack config the engine can hand a Python program, measured on the real CLI and language host.

The engine sets the whole config as one environment variable (PULUMI_CONFIG); Linux refuses an environment
string longer than MAX_ARG_STRLEN. The planner refuses a stack file beyond ``ENGINE_CONFIG_LIMIT`` bytes as
the engine encodes it (tests/test_planner_errors.py); here the CLI runs a config of exactly that size and
fails on one byte more, so the planner's count is the engine's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planner.stack_file import ENGINE_CONFIG_LIMIT, engine_config_bytes
from sandbox import stacks
from sandbox.engine import PulumiCli
from sandbox.servers import OpenBaoServer


def padded(config: dict[str, Any], size: int) -> dict[str, Any]:
    """``config`` with a key of another namespace making it ``size`` bytes as the engine passes it."""
    config = {**config, "padding:text": ""}
    config["padding:text"] = "x" * (size - engine_config_bytes(config))
    assert engine_config_bytes(config) == size
    return config


def test_a_config_at_the_limit_runs_and_one_byte_more_cannot_start_the_program(
    cli: PulumiCli, openbao: OpenBaoServer, audit_devices: list[dict[str, str]], tmp_path: Path
) -> None:
    config = stacks.on_openbao(stacks.against(stacks.dev_stack(), openbao, tmp_path / "rendered"), audit_devices)
    for operator in ("externalSecrets", "csi", "agentInjector"):  # no chart to fetch offline
        config.setdefault(stacks.key("delivery"), {}).setdefault(operator, {})["install"] = False
    cli.extra_env["VAULT_TOKEN"] = openbao.root_token

    at_limit = cli.stack("at-limit", padded(config, ENGINE_CONFIG_LIMIT)).preview(check=False)
    assert at_limit.returncode == 0, at_limit.stdout + at_limit.stderr

    beyond = cli.stack("beyond", padded(config, ENGINE_CONFIG_LIMIT + 1)).preview(check=False)
    assert beyond.returncode != 0
    assert "argument list too long" in beyond.stdout + beyond.stderr
