"""The delivery agents run out of cluster against the test cluster: started as processes, stopped, logs kept."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

__all__ = ["AgentProcess", "external_secrets_argv", "module_dir"]

TOOLS = Path(__file__).resolve().parents[2] / "tools"


class AgentProcess:
    """``with AgentProcess(name, argv, env) as agent:``; ``agent.log_tail()`` for a failing test's message."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.env = env or {}
        self._tmp = tempfile.TemporaryDirectory(prefix=f"vaultk8s-{name}-")
        self.log = Path(self._tmp.name) / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> AgentProcess:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self._tmp.name, **self.env}
        with open(self.log, "wb") as out:
            self._proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self._tmp.name
            )
        return self

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None

    def __enter__(self) -> AgentProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self._tmp.cleanup()


def pinned_version(tool: str, module: str) -> str:
    """The version ``tools/<tool>/go.mod`` requires of ``module``."""
    for line in (TOOLS / tool / "go.mod").read_text().splitlines():
        parts = line.split()
        if parts[:1] == [module] or parts[:2] == ["require", module]:
            return parts[-1]
    raise LookupError(f"tools/{tool}/go.mod does not require {module}")


def module_dir(tool: str, module: str) -> Path:
    """The pinned module's directory in the Go module cache (the toolchain build downloaded it)."""
    gomodcache = os.environ.get("GOMODCACHE", "")
    if not gomodcache and shutil.which("go"):
        gomodcache = subprocess.run(
            ["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=False
        ).stdout.strip()
    gomodcache = gomodcache or str(Path.home() / "go" / "pkg" / "mod")
    escaped = "".join(f"!{c.lower()}" if c.isupper() else c for c in module)
    return Path(gomodcache) / f"{escaped}@{pinned_version(tool, module)}"


def external_secrets_argv(binary: str) -> list[str]:
    """The controller only: no webhook, no cert controller, no cluster-wide kinds (the stack's chart values)."""
    return [
        binary,
        "--metrics-addr=0",
        "--enable-leader-election=false",
        "--enable-cluster-store-reconciler=false",
        "--enable-cluster-external-secret-reconciler=false",
        "--enable-cluster-push-secret-reconciler=false",
        "--enable-push-secret-reconciler=false",
        "--loglevel=debug",
    ]
