"""Shared fixtures: the dev stack's config and a fresh mock-engine capture per test."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from planner.engine import PROJECT_ROOT, Capture, run_program
from planner.stack_file import load_stack_config

DEV_STACK = PROJECT_ROOT / "Pulumi.dev.yaml"
PROGRAM = PROJECT_ROOT / "__main__.py"


def dev_config() -> dict[str, Any]:
    config, _ = load_stack_config(DEV_STACK)
    return copy.deepcopy(config)


def plan(config: dict[str, Any], stack: str = "test") -> Capture:
    """The stack program run under a fresh mock monitor with ``config``."""
    return run_program(PROGRAM, config, stack=stack)


@pytest.fixture
def dev_capture() -> Capture:
    return plan(dev_config(), stack="dev")


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


# The cluster tier's fixtures (a loopback control plane per run): usable from every test module.
from tests.cluster.fixtures import cluster, cluster_bao, namespace, reviewer_cleanup  # noqa: E402, F401
