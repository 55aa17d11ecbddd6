"""The real Pulumi CLI with a private home, a local file backend and the passphrase secrets provider.

No network: automatic plugin acquisition is off and ambient plugins are ignored, so the engine uses
exactly the plugins installed here from the toolchain, at the versions the Python SDKs ask for.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.engine.toolchain import RESOURCE_PLUGINS, sdk_plugin_version

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class PulumiError(RuntimeError):
    """A CLI command failed; the message carries the command and its output."""

    def __init__(self, argv: Sequence[str], result: subprocess.CompletedProcess[str]) -> None:
        self.stdout, self.stderr, self.returncode = result.stdout, result.stderr, result.returncode
        super().__init__(
            f"`pulumi {' '.join(argv)}` exited {result.returncode}\n--- stdout ---\n{result.stdout[-6000:]}"
            f"\n--- stderr ---\n{result.stderr[-4000:]}"
        )


@dataclass
class PulumiCli:
    """``PulumiCli(bin_dir, home)``: every command runs with this home, backend and passphrase."""

    bin_dir: Path
    home: Path
    project_dir: Path = PROJECT_ROOT
    passphrase: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        (self.home / "backend").mkdir(parents=True, exist_ok=True)
        self.log_dir = self.home / "logs"
        self.log_dir.mkdir(exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "VAULT_", "BAO_", "KUBECONFIG"))}
        base.update(
            PATH=f"{self.bin_dir}{os.pathsep}{base.get('PATH', '')}",
            PULUMI_HOME=str(self.home / "pulumi-home"),
            PULUMI_BACKEND_URL=f"file://{self.home / 'backend'}",
            PULUMI_CONFIG_PASSPHRASE=self.passphrase,
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            PULUMI_IGNORE_AMBIENT_PLUGINS="true",
            PULUMI_SKIP_CONFIRMATIONS="true",
            PULUMI_DIY_BACKEND_NO_LEGACY_WARNING="true",
            NO_COLOR="1",
        )
        base.update(self.extra_env)
        return base

    def run(
        self,
        *argv: str,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        timeout: float = 900,
    ) -> subprocess.CompletedProcess[str]:
        full = [*argv, "--non-interactive"]
        result = subprocess.run(
            [str(self.bin_dir / "pulumi"), *full],
            input=stdin,
            cwd=self.project_dir,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        with open(self.log_dir / "commands.log", "a") as log:
            log.write(f"$ pulumi {' '.join(full)}\n{result.stdout}\n{result.stderr}\n")
        if check and result.returncode != 0:
            raise PulumiError(full, result)
        return result

    def install_plugins(self) -> None:
        """Install each resource plugin from the toolchain at the version its Python SDK asks for."""
        for name in RESOURCE_PLUGINS:
            version = sdk_plugin_version(name)
            self.run("plugin", "install", "resource", name, version, "--file", str(self.bin_dir / f"pulumi-resource-{name}"))

    def stack(self, name: str, config_file: Path) -> Stack:
        stack = Stack(self, name, config_file)
        self.run("stack", "init", name)
        return stack


@dataclass
class Stack:
    """One stack of the project, whose config lives in ``config_file`` (not in the repository)."""

    cli: PulumiCli
    name: str
    config_file: Path

    def _args(self) -> list[str]:
        return ["--stack", self.name, "--config-file", str(self.config_file)]

    def run(self, *argv: str, check: bool = True, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.cli.run(*argv, *self._args(), check=check, env=env)

    def set_secret(self, key: str, value: str) -> None:
        """`pulumi config set --secret`, the value on stdin (never on a command line)."""
        self.cli.run("config", "set", "--secret", key, *self._args(), stdin=value)

    def up(self, *extra: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.run("up", "--yes", "--skip-preview", *extra, env=env)

    def preview(self, *extra: str, check: bool = True, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.run("preview", *extra, check=check, env=env)

    def destroy(self, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.run("destroy", "--yes", "--skip-preview", env=env)

    def outputs(self, show_secrets: bool = False) -> dict[str, Any]:
        argv = ["stack", "output", "--json", *(["--show-secrets"] if show_secrets else [])]
        return json.loads(self.cli.run(*argv, "--stack", self.name).stdout)

    def state(self) -> dict[str, Any]:
        """The stack's checkpoint as the backend stores it (`pulumi stack export`)."""
        return json.loads(self.cli.run("stack", "export", "--stack", self.name).stdout)

    def resources(self) -> list[dict[str, Any]]:
        return list(self.state()["deployment"].get("resources", []))
