"""Pytest fixtures of the cluster tier (registered by tests/conftest.py through ``pytest_plugins``).

- ``cluster`` (session): one loopback control plane per test run, started on first use, as a ``Cluster``.
- ``namespace`` (function): a fresh namespace for one test (with its ``default`` ServiceAccount), deleted after.
- ``cluster_bao`` (function): a production-like OpenBao on TLS (raft storage, audit devices in its
  configuration) for one test.
- ``cluster_cli`` (function): the real CLI; what a test deployed with it is destroyed afterwards (the
  cluster is shared by every test of the run).

A missing toolchain binary fails the cluster tests naming it (tests/prerequisites.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from sandbox import stacks
from sandbox.engine import PulumiCli
from sandbox.servers import OpenBaoServer
from tests.cluster.control_plane import BINARIES, ControlPlane
from tests.cluster.kube import ApiException, Cluster
from tests.engine.toolchain import require_toolchain
from tests.live.openbao import require_bao


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    require_toolchain(BINARIES)
    with ControlPlane() as control_plane:
        yield Cluster(control_plane)


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"t-{request.node.name[:40].lower().replace('_', '-').strip('-')}-{secrets.token_hex(3)}"
    name = "".join(c for c in name if c.isalnum() or c == "-")
    cluster.namespace(name)
    yield name
    try:
        cluster.core.delete_namespace(name)
    except ApiException as exc:  # pragma: no cover - cleanup only
        if exc.status != 404:
            raise


@pytest.fixture
def cluster_bao(audit_devices: list[dict[str, str]]) -> Iterator[OpenBaoServer]:
    config = stacks.server_audit_config(audit_devices)
    with OpenBaoServer(require_bao(), audit_config=config, tls=True) as server:
        server.declared_audit_devices = audit_devices
        yield server


@pytest.fixture
def cluster_cli(cli: PulumiCli, cluster: Cluster, cluster_bao: OpenBaoServer) -> Iterator[PulumiCli]:
    """The engine's credentials for both servers; the stacks are destroyed while both still run."""
    cli.extra_env.update(
        KUBECONFIG=str(cluster.kubeconfig), VAULT_TOKEN=cluster_bao.root_token, VAULT_CACERT=str(cluster_bao.ca_file)
    )
    yield cli
    cli.destroy_all()
