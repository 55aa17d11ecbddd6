"""Where the engine tier finds the programs `tools/toolchain` built, and the plugin versions it needs."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import pytest

# The resource plugins the stack's Python SDKs need; each must report its SDK's version.
RESOURCE_PLUGINS = ("vault", "kubernetes", "random")
PROGRAMS = (
    "pulumi",
    "pulumi-language-python",
    "pulumi-language-python-exec",
    *(f"pulumi-resource-{name}" for name in RESOURCE_PLUGINS),
)


def bin_dir() -> Path:
    """The toolchain's binary directory: $VAULTK8S_TOOLCHAIN_BIN, else the default cache's."""
    override = os.environ.get("VAULTK8S_TOOLCHAIN_BIN")
    if override:
        return Path(override)
    cache = os.environ.get("VAULTK8S_TOOLCHAIN_CACHE", str(Path.home() / ".cache" / "vaultk8s-toolchain"))
    return Path(cache) / "bin"


def missing_programs(directory: Path, names: tuple[str, ...] = PROGRAMS) -> list[str]:
    return [name for name in names if not os.access(directory / name, os.X_OK)]


def require_toolchain(names: tuple[str, ...] = PROGRAMS) -> Path:
    """The bin directory for a test; under CI=true a missing program fails the test instead of skipping it."""
    directory = bin_dir()
    missing = missing_programs(directory, names)
    if missing:
        message = f"{', '.join(missing)} not built in {directory}: run tools/toolchain"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true, so this is an error, not a skip)")
        pytest.skip(message)
    return directory


def sdk_plugin_version(name: str) -> str:
    """The plugin version the installed pulumi-<name> SDK asks the engine for (its pulumi-plugin.json)."""
    manifest = resources.files(f"pulumi_{name}") / "pulumi-plugin.json"
    return str(json.loads(manifest.read_text())["version"])
