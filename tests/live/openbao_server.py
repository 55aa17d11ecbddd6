"""A throwaway OpenBao server configured as production is: integrated (raft) storage, starts sealed,
audit devices declared in its configuration file, no `unsafe_allow_api_audit_creation`.

Tests talk to it with hvac. The root token from `sys/init` is for the test's own setup (the
deployer's policy and token, seeding values); the stack is deployed with a deployer token.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import hvac
import requests

from tests.live.openbao import OpenBaoStartError, find_bao, free_port

_SCRUBBED_ENV_PREFIXES = ("BAO_", "VAULT_")


@dataclass(frozen=True)
class DeclaredAuditDevice:
    """An `audit "<type>" "<path>"` stanza of the server configuration."""

    type: str
    path: str
    options: Mapping[str, str]

    def hcl(self) -> str:
        options = "".join(f'    {key} = "{value}"\n' for key, value in sorted(self.options.items()))
        return f'audit "{self.type}" "{self.path}" {{\n  options {{\n{options}  }}\n}}\n'


class OpenBaoServer:
    """``with OpenBaoServer(audit=[...]) as bao:`` — initialised and unsealed; ``restart()`` leaves it sealed."""

    def __init__(
        self,
        bao_path: str | None = None,
        audit: Sequence[DeclaredAuditDevice] = (),
        extra_config: str = "",
        startup_timeout: float = 30.0,
    ) -> None:
        found = bao_path or find_bao()
        if found is None:
            raise FileNotFoundError("the OpenBao `bao` binary was not found")
        self.bao_path = found
        self.startup_timeout = startup_timeout
        self.dir = Path(tempfile.mkdtemp(prefix="openbao-"))
        (self.dir / "data").mkdir()
        self.port = free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        self.root_token = ""
        self._unseal_key = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self.config = self.dir / "server.hcl"
        self.write_config(audit, extra_config)

    def write_config(self, audit: Sequence[DeclaredAuditDevice] = (), extra_config: str = "") -> None:
        """The server's configuration; a running server rereads its audit stanzas on ``reload()``."""
        self.config.write_text(
            f'storage "raft" {{\n  path = "{self.dir / "data"}"\n  node_id = "node1"\n}}\n'
            f'listener "tcp" {{\n  address = "127.0.0.1:{self.port}"\n  tls_disable = true\n}}\n'
            f'api_addr = "{self.address}"\ncluster_addr = "http://127.0.0.1:{free_port()}"\n'
            "disable_mlock = true\n" + "".join(device.hcl() for device in audit) + extra_config
        )

    @property
    def log_path(self) -> Path:
        return self.dir / "bao.log"

    def client(self, token: str | None = None) -> hvac.Client:
        return hvac.Client(url=self.address, token=self.root_token if token is None else token)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        if self.root_token:
            text = text.replace(self.root_token, "<root-token>")
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_ENV_PREFIXES)}
        env["HOME"] = str(self.dir)
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [self.bao_path, "server", f"-config={self.config}"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.dir,
            )
        self._wait(lambda status: status is not None, "listen")

    def _status(self) -> int | None:
        try:
            return requests.get(f"{self.address}/v1/sys/health", timeout=1.0).status_code
        except requests.RequestException:
            return None

    def _wait(self, ready: object, what: str) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise OpenBaoStartError(
                    f"`bao server` exited with code {self._proc.returncode}\n--- log tail ---\n{self.log_tail()}"
                )
            if ready(self._status()):  # type: ignore[operator]
                return
            time.sleep(0.1)
        raise OpenBaoStartError(f"`bao server` did not {what} on {self.address}\n--- log tail ---\n{self.log_tail()}")

    def initialise(self) -> None:
        answer = hvac.Client(url=self.address).sys.initialize(secret_shares=1, secret_threshold=1)
        self.root_token = answer["root_token"]
        self._unseal_key = answer["keys_base64"][0]
        self.unseal()

    def unseal(self) -> None:
        hvac.Client(url=self.address).sys.submit_unseal_key(self._unseal_key)
        self._wait(lambda status: status == 200, "become active after unsealing")

    def reload(self) -> None:
        """SIGHUP: the server rereads its configuration (declared audit devices are added or removed)."""
        assert self._proc is not None
        self._proc.send_signal(1)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        """Stop and start again: the server comes back sealed, as after a real restart."""
        self.stop()
        self.start()

    def __enter__(self) -> OpenBaoServer:
        try:
            self.start()
            self.initialise()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
