"""A loopback Kubernetes control plane: etcd, kube-apiserver and kube-controller-manager, started and stopped.

The binaries come from the project's toolchain (``tools/toolchain etcd kubernetes``, built from their Go
modules). Everything listens on 127.0.0.1 on free ports, keeps its state in one private directory and
logs to a file there; ``ControlPlane.start()`` returns once the API server is ready and the
controller-manager has created the ``default`` ServiceAccount.
"""

from __future__ import annotations

import base64
import os
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from sandbox.engine import toolchain_bin
from sandbox.pki import CertificateAuthority, KeyPair, write_rsa_key
from sandbox.servers import free_port

__all__ = ["BINARIES", "ControlPlane", "ControlPlaneError", "find_binary", "toolchain_bin"]

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")
ADMIN_USER = "vaultk8s-test-admin"

# The controllers the tests rely on: token Secrets, default ServiceAccounts, garbage collection, namespace
# deletion, and the kube-root-ca.crt ConfigMap pods mount. Fewer controllers start faster.
CONTROLLERS = (
    "serviceaccount-token-controller",
    "serviceaccount-controller",
    "garbage-collector-controller",
    "namespace-controller",
    "root-ca-certificate-publisher-controller",
)


def find_binary(name: str) -> Path | None:
    path = toolchain_bin() / name
    return path if path.is_file() and os.access(path, os.X_OK) else None


class ControlPlaneError(RuntimeError):
    """A component did not start; the message carries its log tail."""


@dataclass(frozen=True)
class _Process:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def kubeconfig_document(server: str, ca_pem: str, user: str, client: KeyPair) -> dict[str, Any]:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)}}],
        "users": [
            {
                "name": user,
                "user": {"client-certificate-data": b64(client.cert_pem), "client-key-data": b64(client.key_pem)},
            }
        ],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": user}}],
        "current-context": "test",
    }


class ControlPlane:
    """``with ControlPlane() as cp:``: a running control plane; ``cp.server``, ``cp.kubeconfig``, ``cp.ca_pem``."""

    def __init__(self, bin_dir: Path | None = None, startup_timeout: float = 60.0) -> None:
        self.bin_dir = bin_dir or toolchain_bin()
        self.startup_timeout = startup_timeout
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._procs: list[_Process] = []
        self.directory = Path()
        self.server = ""
        self.issuer = ""
        self.jwks_uri = ""
        self.kubeconfig = Path()
        self.ca_pem = ""
        self.service_account_key = Path()
        self.service_account_public_key_pem = ""
        self.admin = KeyPair(Path(), Path())
        self.started_in = 0.0
        self.timings: dict[str, float] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        started = time.monotonic()
        self._tmp = tempfile.TemporaryDirectory(prefix="vaultk8s-cluster-")
        self.directory = Path(self._tmp.name)
        try:
            self._make_credentials()
            self.timings["credentials"] = time.monotonic() - started
            etcd = self._start_etcd()
            self.timings["etcd"] = time.monotonic() - started
            self._start_apiserver(etcd)
            self.timings["kube-apiserver"] = time.monotonic() - started
            self._start_controller_manager()
            self.timings["kube-controller-manager"] = time.monotonic() - started
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - started
        return self

    def stop(self) -> None:
        # A throwaway cluster: no graceful drain (kube-apiserver's takes many seconds); its state dies with it.
        for process in reversed(self._procs):
            if process.proc.poll() is None:
                process.proc.kill()
        for process in self._procs:
            process.proc.wait(timeout=10)
        self._procs.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def logs(self) -> dict[str, str]:
        """The log tail of each component (for a failing test's message)."""
        return {p.name: p.tail() for p in self._procs}

    # -- the pieces ---------------------------------------------------------------------------

    def _make_credentials(self) -> None:
        pki = self.directory / "pki"
        pki.mkdir()
        self.ca = CertificateAuthority(pki)
        self.ca_pem = self.ca.cert_pem
        self.port = free_port()
        self.server = f"https://127.0.0.1:{self.port}"
        # The issuer is the API server's own URL, so OIDC discovery at the issuer reaches this server.
        self.issuer = self.server
        self.jwks_uri = f"{self.server}/openid/v1/jwks"
        self.serving = self.ca.issue(
            "apiserver",
            "kube-apiserver",
            dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
            ip_addresses=("127.0.0.1", "10.0.0.1"),
            server=True,
        )
        self.admin = self.ca.issue("admin", ADMIN_USER, organizations=("system:masters",))
        self.controller_manager = self.ca.issue("controller-manager", "system:kube-controller-manager")
        self.service_account_key, sa_pub = write_rsa_key(pki, "service-account")
        self.service_account_public_key = sa_pub
        self.service_account_public_key_pem = sa_pub.read_text()
        self.kubeconfig = self._write_kubeconfig("admin.kubeconfig", ADMIN_USER, self.admin)

    def _write_kubeconfig(self, name: str, user: str, client: KeyPair) -> Path:
        path = self.directory / name
        path.write_text(yaml.safe_dump(kubeconfig_document(self.server, self.ca_pem, user, client)))
        path.chmod(0o600)
        return path

    def _binary(self, name: str) -> str:
        path = self.bin_dir / name
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise FileNotFoundError(f"{path} is missing: build it with `tools/toolchain etcd kubernetes`")
        return str(path)

    def _spawn(self, name: str, argv: list[str]) -> _Process:
        log = self.directory / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.directory)},
            )
        process = _Process(name, proc, log)
        self._procs.append(process)
        return process

    def _wait(self, process: _Process, what: str, probe: Any) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if process.proc.poll() is not None:
                raise ControlPlaneError(
                    f"{process.name} exited with code {process.proc.returncode} before {what}.\n"
                    f"--- {process.name} log tail ---\n{process.tail()}"
                )
            try:
                if probe():
                    return
            except (OSError, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
        raise ControlPlaneError(
            f"{process.name}: not {what} within {self.startup_timeout:.0f}s (last: {last}).\n"
            f"--- {process.name} log tail ---\n{process.tail()}"
        )

    def _start_etcd(self) -> str:
        client, peer = free_port(), free_port()
        url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
        process = self._spawn(
            "etcd",
            [
                self._binary("etcd"),
                "--name=test",
                f"--data-dir={self.directory / 'etcd'}",
                f"--listen-client-urls={url}",
                f"--advertise-client-urls={url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=test={peer_url}",
                "--unsafe-no-fsync",  # a throwaway store: durability buys nothing here
                "--log-level=warn",
            ],
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def healthy() -> bool:
            with opener.open(f"{url}/health", timeout=1) as resp:
                return b'"health":"true"' in resp.read()

        self._wait(process, "healthy", healthy)
        return url

    def _admin_ssl(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca.cert))
        context.load_cert_chain(str(self.admin.cert), str(self.admin.key))
        return context

    def get(self, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
        """GET as the admin, without any client library: for readiness probes."""
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=self._admin_ssl())
        )
        try:
            with opener.open(f"{self.server}{path}", timeout=timeout) as resp:
                return int(resp.status), resp.read()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read()

    def _start_apiserver(self, etcd: str) -> None:
        process = self._spawn(
            "kube-apiserver",
            [
                self._binary("kube-apiserver"),
                f"--etcd-servers={etcd}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}",
                f"--tls-cert-file={self.serving.cert}",
                f"--tls-private-key-file={self.serving.key}",
                f"--client-ca-file={self.ca.cert}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={self.issuer}",
                f"--service-account-jwks-uri={self.jwks_uri}",
                f"--api-audiences={self.issuer}",
                f"--service-account-key-file={self.service_account_public_key}",
                f"--service-account-signing-key-file={self.service_account_key}",
                # Tokens expire when they say: no silent one-year extension of pod-bound tokens.
                "--service-account-extend-token-expiration=false",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--endpoint-reconciler-type=none",
                f"--cert-dir={self.directory / 'apiserver-certs'}",
                "--profiling=false",
                "--v=1",
            ],
        )

        def ready() -> bool:
            status, _ = self.get("/readyz")
            return status == 200

        self._wait(process, "ready (/readyz)", ready)

    def _start_controller_manager(self) -> None:
        kubeconfig = self._write_kubeconfig(
            "controller-manager.kubeconfig", "system:kube-controller-manager", self.controller_manager
        )
        process = self._spawn(
            "kube-controller-manager",
            [
                self._binary("kube-controller-manager"),
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={free_port()}",
                f"--cert-dir={self.directory / 'kcm-certs'}",
                f"--service-account-private-key-file={self.service_account_key}",
                f"--root-ca-file={self.ca.cert}",
                # As kubeadm runs it: each controller acts as its own kube-system ServiceAccount.
                "--use-service-account-credentials=true",
                f"--controllers={','.join(CONTROLLERS)}",
                "--leader-elect=false",
                "--v=1",
            ],
        )

        def default_service_account() -> bool:
            status, _ = self.get("/api/v1/namespaces/default/serviceaccounts/default")
            return status == 200

        self._wait(process, "creating the default ServiceAccount", default_service_account)
