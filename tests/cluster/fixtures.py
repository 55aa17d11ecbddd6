"""Pytest fixtures of the cluster tier (registered by tests/conftest.py through ``pytest_plugins``).

- ``cluster`` (session): one loopback control plane per test run, started on first use, as a ``Cluster``.
- ``namespace`` (function): a fresh namespace for one test (with its ``default`` ServiceAccount), deleted after.
- ``reviewer_cleanup`` (function): removes reviewer-service-account mode's kube-system objects after a test.
- ``cluster_bao`` (function): ``bao server -dev -dev-tls`` on loopback for a test that logs in against the cluster.

A missing toolchain binary fails the cluster tests naming it (tests/prerequisites.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from components.vault_auth import REVIEWER_NAME
from tests.cluster.control_plane import BINARIES, ControlPlane
from tests.cluster.kube import ApiException, Cluster
from tests.cluster.openbao_tls import TlsOpenBaoDevServer
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
def reviewer_cleanup(cluster: Cluster) -> Iterator[None]:
    """Removes what reviewer-service-account mode creates in kube-system (one fixed name per cluster)."""
    yield
    for delete in (
        lambda: cluster.core.delete_namespaced_secret(f"{REVIEWER_NAME}-token", "kube-system"),
        lambda: cluster.core.delete_namespaced_service_account(REVIEWER_NAME, "kube-system"),
        lambda: cluster.rbac.delete_cluster_role_binding(f"{REVIEWER_NAME}-kube-system-auth-delegator"),
    ):
        try:
            delete()
        except ApiException as exc:
            if exc.status != 404:
                raise


@pytest.fixture
def cluster_bao() -> Iterator[TlsOpenBaoDevServer]:
    server = TlsOpenBaoDevServer(require_bao())
    server.start()
    try:
        yield server
    finally:
        server.stop()
