"""Shared fixtures: the dev stack's config and a fresh mock-engine capture per test."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from planner.engine import PROJECT_ROOT, Capture, run_program
from planner.stack_file import load_stack_config
from policies.vault_hcl import parse_policy
from tests import prerequisites

DEV_STACK = PROJECT_ROOT / "Pulumi.dev.yaml"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        prerequisites.ALLOW_MISSING_OPTION,
        action="store_true",
        help="skip (instead of fail) tests whose server, browser or reference data is missing; ignored under CI=true",
    )


def pytest_configure(config: pytest.Config) -> None:
    prerequisites.allow_missing(bool(config.getoption(prerequisites.ALLOW_MISSING_OPTION)))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if prerequisites.skipped:
        terminalreporter.section("missing prerequisites (skipped with --allow-missing)")
        for what, how in sorted(prerequisites.skipped.items()):
            terminalreporter.write_line(f"{what}: {how}")


PROGRAM = PROJECT_ROOT / "__main__.py"


def dev_config() -> dict[str, Any]:
    config, _ = load_stack_config(DEV_STACK)
    return copy.deepcopy(config)


# The keys tests hold as secrets, as `pulumi config set --secret --path 'databases[0].password' ...` makes
# the whole key: the engine hands the program the decrypted value and lists the key as secret.
SECRET_KEYS = ("secrets-platform:databases",)


def plan(config: dict[str, Any], stack: str = "test", secret_keys: Sequence[str] = SECRET_KEYS) -> Capture:
    """The stack program run under a fresh mock monitor with ``config`` (decrypted, as the engine hands it over)."""
    return run_program(PROGRAM, config, stack=stack, secret_keys=list(secret_keys))


def grants(document: str) -> dict[str, tuple[str, ...]]:
    """Path -> capabilities of a policy document, read by the project's one policy reader (the pack's)."""
    return {r.path: tuple(sorted(r.capabilities)) for r in parse_policy(document)}


@pytest.fixture
def dev_capture() -> Capture:
    return plan(dev_config(), stack="dev")


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


# The cluster tier's fixtures (a loopback control plane per run): usable from every test module.
from tests.cluster.fixtures import cluster, cluster_bao, cluster_cli, namespace  # noqa: E402, F401
from tests.engine.fixtures import (  # noqa: E402, F401
    audit_devices,
    audit_log,
    cli,
    openbao,
    pulumi_home,
    toolchain_bin,
)
