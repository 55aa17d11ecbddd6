"""The engine tier's view of `tools/toolchain`: its programs, or a skip (a failure under CI=true)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from sandbox.engine import PROGRAMS, missing_programs, toolchain_bin


def require_toolchain(names: Sequence[str] = PROGRAMS) -> Path:
    """The bin directory for a test; under CI=true a missing program fails the test instead of skipping it."""
    directory = toolchain_bin()
    missing = missing_programs(directory, names)
    if missing:
        message = f"{', '.join(missing)} not built in {directory}: run tools/toolchain"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true, so this is an error, not a skip)")
        pytest.skip(message)
    return directory
