"""The tests' view of `tools/toolchain`: its bin directory, or a failure naming what to build."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sandbox.engine import PROGRAMS, missing_programs, toolchain_bin
from tests.prerequisites import missing


def require_toolchain(names: Sequence[str] = PROGRAMS) -> Path:
    """The bin directory holding ``names``; a missing one fails the test (skips with --allow-missing)."""
    directory = toolchain_bin()
    absent = missing_programs(directory, names)
    if absent:
        missing(f"{', '.join(absent)} in {directory}", "run tools/toolchain (Go modules; a cold build takes long)")
    return directory
