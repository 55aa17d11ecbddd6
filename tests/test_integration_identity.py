"""Integration tier: the dev stack's Vault resources applied to a live OpenBao, then real logins.

Each workload logs in with a real service-account JWT and may read exactly its
own secret: another workload's secret, a write, the mount root, the metadata
and a login from another namespace or service account are all refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from planner.access import workload_access
from planner.engine import Capture
from tests.cluster.kube import Cluster
from tests.conftest import dev_config, plan
from tests.live.jwt_issuer import ServiceAccountIssuer
from tests.live.openbao import OpenBaoDevServer, VaultClient, VaultError, require_bao
from tests.live.vault_apply import apply_vault_resources

# Values written with the root token; each workload must see only its own.
SECRETS = {
    "secret/data/myapp": {"apikey": "myapp-api-key-value", "unrelated": "x"},
    "secret/data/db": {"username": "db-user-value", "password": "db-password-value"},
    "secret/data/other-team": {"token": "not-for-these-workloads"},
}
WORKLOADS = {  # role -> (namespace, service account, its own path, its key)
    "my-role": ("myapp", "myapp", "secret/data/myapp", "apikey"),
    "k8s-role": ("db", "db-client", "secret/data/db", "username"),
}


@pytest.fixture
def bao() -> Iterator[OpenBaoDevServer]:
    # OpenBao enables audit devices through the API only when its config allows it (Vault always does).
    with OpenBaoDevServer(require_bao(), allow_api_audit=True) as server:
        yield server


def with_file_audit(config: dict[str, Any], log: Path) -> dict[str, Any]:
    """The dev stack's audit devices, pointed at a file this test can read (its socket has no listener here)."""
    config["secrets-platform:auditDevices"] = [{"type": "file", "target": str(log)}]
    return config


@pytest.fixture
def cluster_identities(cluster: Cluster) -> Iterator[Cluster]:
    """The dev stack's namespaces and service accounts, and the impostors', in the test cluster.

    Every service account here may create TokenReviews (client-jwt mode reviews each token with itself), so a
    refused impostor is refused by the role's bindings, not by a forbidden review.
    """
    accounts = {(ns, sa) for ns, sa, _, _ in WORKLOADS.values()} | {
        ("elsewhere", sa) for _, sa, _, _ in WORKLOADS.values()
    }
    for ns in sorted({ns for ns, _ in accounts}):
        cluster.namespace(ns)
    for ns, sa in sorted(accounts):
        cluster.service_account(ns, sa)
    cluster.bind_cluster_role(
        "identity-test-auth-delegator",
        "system:auth-delegator",
        [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:serviceaccounts"}],
    )
    yield cluster
    cluster.unbind_cluster_role("identity-test-auth-delegator")
    for ns in sorted({ns for ns, _ in accounts}):
        cluster.core.delete_namespace(ns)


def deploy(root: VaultClient, capture: Capture) -> list[str]:
    root.request("DELETE", "sys/mounts/secret")  # the dev server's own KV mount: the stack declares it
    written = apply_vault_resources(root, capture.resources)
    for path, data in SECRETS.items():
        root.write(path, {"data": data})
    return written


def assert_least_privilege(root: VaultClient, mount: str, mint: Any) -> None:
    """``mint(namespace, service_account)`` returns a token the cluster would give that pod."""
    for role, (namespace, account, own_path, key) in WORKLOADS.items():
        token = root.login(mount, role, mint(namespace, account))
        assert root.read(own_path, token=token)["data"]["data"][key] == SECRETS[own_path][key]

        other_paths = [p for p in SECRETS if p != own_path]
        forbidden = [("GET", p, None) for p in other_paths] + [
            ("POST", own_path, {"data": {key: "overwritten"}}),  # no write
            ("LIST", "secret/metadata/", None),  # not the mount root
            ("GET", own_path.replace("/data/", "/metadata/"), None),  # no metadata
            ("GET", "sys/policies/acl", None),
            ("POST", "sys/policies/acl/escalate", {"policy": 'path "*" { capabilities = ["sudo"] }'}),
        ]
        for method, path, body in forbidden:
            with pytest.raises(VaultError) as denied:
                root.request(method, path, body, token=token)
            assert denied.value.status == 403, (role, method, path)
        assert root.read(own_path)["data"]["data"][key] == SECRETS[own_path][key]  # the write did not land

    # A pod of another namespace, or another service account, cannot assume a role.
    for role, (namespace, account, _, _) in WORKLOADS.items():
        impostors = [
            ("elsewhere", account),
            (namespace, "default"),
            *[(n, a) for r, (n, a, _, _) in WORKLOADS.items() if r != role],
        ]
        for impostor in impostors:
            with pytest.raises(VaultError) as refused:
                root.login(mount, role, mint(*impostor))
            assert refused.value.status in (400, 403), (role, impostor)


def test_kubernetes_auth_least_privilege_on_a_live_server(
    bao: OpenBaoDevServer, cluster_identities: Cluster, tmp_path: Path
) -> None:
    cluster = cluster_identities
    audit_log = tmp_path / "audit.log"
    config = with_file_audit(dev_config(), audit_log)
    # The real API server on loopback: OpenBao sends each login's TokenReview to it.
    config["secrets-platform:cluster"].update(apiHost=cluster.server, caCert=cluster.ca_pem)
    capture = plan(config)
    root = bao.client()

    written = deploy(root, capture)
    assert set(written[:3]) == {"sys/audit/file", "sys/auth/kubernetes", "sys/mounts/secret"}
    assert set(written) == {
        "sys/audit/file",
        "sys/auth/kubernetes",
        "sys/mounts/secret",
        "auth/kubernetes/config",
        "secret/config",
        "secret/data/myapp",  # the generated apikey
        *(f"sys/policies/acl/{n}" for n in ("workload-myapp-myapp", "workload-db-db-client")),
        *(f"auth/kubernetes/role/{r}" for r in WORKLOADS),
    }
    # What the plan says each workload may do is what the server now enforces.
    for view in workload_access(capture):
        assert root.read(f"auth/kubernetes/role/{view.role}")["data"]["token_policies"] == view.policies

    # client-jwt: each token also authenticates its own review, so it carries the API server's audience too.
    assert_least_privilege(root, "kubernetes", cluster.client_jwt_token)

    # The audience is bound: a token requested for the API server's own audience is refused.
    with pytest.raises(VaultError):
        root.login("kubernetes", "my-role", cluster.token("myapp", "myapp", audiences=[cluster.issuer]))

    # The audit device saw every request, and HMAC'd every secret it carried.
    audit = audit_log.read_text()
    assert '"path":"auth/kubernetes/login"' in audit.replace(" ", "")
    assert "secret/data/myapp" in audit
    for data in SECRETS.values():
        for value in data.values():
            assert len(value) < 8 or value not in audit


def test_jwt_auth_least_privilege_on_a_live_server(bao: OpenBaoDevServer, tmp_path: Path) -> None:
    issuer = ServiceAccountIssuer()
    config = with_file_audit(dev_config(), tmp_path / "audit.log")
    config["secrets-platform:cluster"] = {
        "name": "dev",
        "apiHost": "https://kubernetes.example.com:6443",
        "authMethod": "jwt",
        "issuer": issuer.issuer,
        "jwtValidationPubkeys": [issuer.public_key_pem],
    }
    capture = plan(config)
    assert not capture.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
    root = bao.client()
    deploy(root, capture)

    assert_least_privilege(root, "jwt", lambda ns, sa: issuer.issue(ns, sa, ["vault"]))

    # Signed by another key, issued by another issuer, for another audience, or expired: refused.
    stranger = ServiceAccountIssuer(issuer=issuer.issuer)
    for bad in (
        stranger.issue("myapp", "myapp", ["vault"]),
        issuer.issue("myapp", "myapp", ["vault"], iss="https://attacker.example.com"),
        issuer.issue("myapp", "myapp", ["other-audience"]),
        issuer.issue("myapp", "myapp", ["vault"], ttl=-120),
    ):
        with pytest.raises(VaultError):
            root.login("jwt", "my-role", bad)
