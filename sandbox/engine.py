"""The real Pulumi CLI (from `tools/toolchain`) with a private home, a local file backend and the
passphrase secrets provider.

No network: automatic plugin acquisition is off and ambient plugins are ignored, so the engine uses
exactly the plugins installed from the toolchain, at the versions the Python SDKs ask for.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# The resource plugins the stack's Python SDKs need; each must report its SDK's version.
RESOURCE_PLUGINS = ("vault", "kubernetes", "random")
PROGRAMS = (
    "pulumi",
    "pulumi-language-python",
    "pulumi-language-python-exec",
    *(f"pulumi-resource-{name}" for name in RESOURCE_PLUGINS),
)


def toolchain_bin() -> Path:
    """Where `tools/toolchain` puts its binaries: $VAULTK8S_TOOLCHAIN_BIN, else the default cache's."""
    override = os.environ.get("VAULTK8S_TOOLCHAIN_BIN")
    if override:
        return Path(override)
    cache = os.environ.get("VAULTK8S_TOOLCHAIN_CACHE", str(Path.home() / ".cache" / "vaultk8s-toolchain"))
    return Path(cache) / "bin"


def missing_programs(directory: Path, names: Sequence[str] = PROGRAMS) -> list[str]:
    return [name for name in names if not os.access(directory / name, os.X_OK)]


def sdk_plugin_version(name: str) -> str:
    """The plugin version the installed pulumi-<name> SDK asks the engine for (its pulumi-plugin.json)."""
    manifest = resources.files(f"pulumi_{name}") / "pulumi-plugin.json"
    return str(json.loads(manifest.read_text())["version"])


def project_file(program: Path) -> dict[str, Any]:
    """The program's Pulumi.yaml as the engine sees it from a scratch project directory: the same
    project, runtime and options, with ``main`` and ``virtualenv`` pointing back at the program, so
    stack files and the backend live outside the repository."""
    project = yaml.safe_load((program / "Pulumi.yaml").read_text())
    project["main"] = str(program)
    runtime = project.get("runtime")
    options = runtime.get("options", {}) if isinstance(runtime, dict) else {}
    if "virtualenv" in options:
        options["virtualenv"] = str(program / options["virtualenv"])
    return dict(project)


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
    """Every command runs with ``pulumi_home`` (plugins), the file backend in ``workdir`` and a passphrase."""

    bin_dir: Path
    pulumi_home: Path
    workdir: Path
    program: Path = PROJECT_ROOT
    passphrase: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.backend = self.workdir / "backend"
        self.backend.mkdir(parents=True, exist_ok=True)
        self.log = self.workdir / "pulumi-commands.log"
        self.stacks: list[Stack] = []
        self.project_dir = self.workdir / "project"
        self.project_dir.mkdir(exist_ok=True)
        (self.project_dir / "Pulumi.yaml").write_text(yaml.safe_dump(project_file(self.program)))

    @property
    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "VAULT_", "BAO_", "KUBECONFIG"))}
        base.update(
            PATH=f"{self.bin_dir}{os.pathsep}{base.get('PATH', '')}",
            PULUMI_HOME=str(self.pulumi_home),
            PULUMI_BACKEND_URL=f"file://{self.backend}",
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
        with open(self.log, "a") as log:
            log.write(f"$ pulumi {' '.join(full)}\n{result.stdout}\n{result.stderr}\n")
        if check and result.returncode != 0:
            raise PulumiError(full, result)
        return result

    def install_plugins(self) -> None:
        """Install each resource plugin from the toolchain at the version its Python SDK asks for."""
        for name in RESOURCE_PLUGINS:
            version = sdk_plugin_version(name)
            self.run(
                "plugin", "install", "resource", name, version, "--file", str(self.bin_dir / f"pulumi-resource-{name}")
            )

    def stack(self, name: str, config: Mapping[str, Any]) -> Stack:
        """A new stack whose Pulumi.<name>.yaml holds ``config`` (the keys as in a stack file)."""
        self.run("stack", "init", name, "--secrets-provider", "passphrase")
        stack = Stack(self, name)
        stack.write_config(config)
        self.stacks.append(stack)
        return stack

    def destroy_all(self) -> None:
        """Destroy what every stack this CLI created still holds (best effort: a test may have left a
        server down on purpose)."""
        for stack in self.stacks:
            if any(not r["type"].startswith("pulumi:") for r in stack.resources()):
                stack.run("destroy", "--yes", "--skip-preview", check=False)


@dataclass
class Stack:
    """One stack of the scratch project; its stack file is Pulumi.<name>.yaml there."""

    cli: PulumiCli
    name: str

    @property
    def config_file(self) -> Path:
        return self.cli.project_dir / f"Pulumi.{self.name}.yaml"

    def config(self) -> dict[str, Any]:
        """The stack's config as its stack file holds it (`secure:` values stay encrypted)."""
        return dict(yaml.safe_load(self.config_file.read_text())["config"])

    def write_config(self, config: Mapping[str, Any]) -> None:
        """Replace the stack's config, keeping the passphrase provider's salt that `stack init` wrote."""
        current = yaml.safe_load(self.config_file.read_text()) if self.config_file.exists() else {}
        current = current or {}
        current["config"] = dict(config)
        self.config_file.write_text(yaml.safe_dump(current, sort_keys=False))

    def _args(self) -> list[str]:
        return ["--stack", self.name]

    def run(
        self, *argv: str, check: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.cli.run(*argv, *self._args(), check=check, env=env)

    def set_secret(self, key: str, value: str, path: bool = False) -> None:
        """`pulumi config set --secret [--path]`, the value on stdin (never on a command line)."""
        self.cli.run("config", "set", "--secret", *(["--path"] if path else []), key, *self._args(), stdin=value)

    def up(self, *extra: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.run("up", "--yes", "--skip-preview", *extra, env=env)

    def preview(
        self, *extra: str, check: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run("preview", *extra, check=check, env=env)

    def destroy(self, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.run("destroy", "--yes", "--skip-preview", env=env)

    def outputs(self, show_secrets: bool = False) -> dict[str, Any]:
        argv = ["stack", "output", "--json", *(["--show-secrets"] if show_secrets else [])]
        return json.loads(self.cli.run(*argv, *self._args()).stdout)

    def state(self) -> dict[str, Any]:
        """The stack's checkpoint as the backend stores it (`pulumi stack export`)."""
        return json.loads(self.cli.run("stack", "export", *self._args()).stdout)

    def resources(self) -> list[dict[str, Any]]:
        return list(self.state()["deployment"].get("resources", []))
