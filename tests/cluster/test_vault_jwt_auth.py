"""OpenBao's jwt auth trusting the real API server's service-account issuer (no TokenReview at all).

Once with ``jwtValidationPubkeys`` (the server's signing key), once with OIDC discovery at the issuer
(the API server itself, with its CA). Tokens come from TokenRequest.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import hvac.exceptions
import pytest

from sandbox.engine import PulumiCli, PulumiError
from sandbox.servers import OpenBaoServer
from tests.cluster.kube import Cluster
from tests.cluster.stack import DEV_STACK, cluster_stack, deploy, stack_config
from tests.cluster.vault_login import login, refusal

MOUNT = "jwt"
VALUE = {"apikey": "jwt-delivered-value"}
DISCOVERY_BINDING = "vaultk8s-test-anonymous-issuer-discovery"


def jwt_stack(cluster: Cluster, bao: OpenBaoServer, namespace: str, **overrides: object) -> dict[str, object]:
    base = stack_config(DEV_STACK)
    base["cluster"] = {"name": "dev", "authMethod": "jwt", "audience": "vault"}
    return cluster_stack(base, cluster, bao.address, namespace, vault_ca=bao.ca_pem, **overrides)


def assert_jwt_logins(cluster: Cluster, bao: OpenBaoServer, config: dict[str, object]) -> None:
    workloads = {w["name"]: w for w in config["workloads"]}  # type: ignore[attr-defined]
    myapp, db = workloads["myapp"], workloads["db-client"]
    ns, sa, role = myapp["namespace"], myapp["serviceAccount"], myapp["role"]
    bao.client().secrets.kv.v2.create_or_update_secret("myapp", secret=VALUE, mount_point="secret")

    token = cluster.token(ns, sa)
    client = login(bao, MOUNT, role, token)
    assert (
        client.secrets.kv.v2.read_secret_version("myapp", mount_point="secret", raise_on_deleted_version=True)["data"][
            "data"
        ]
        == VALUE
    )
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v2.read_secret_version("db", mount_point="secret", raise_on_deleted_version=True)
    uid = cluster.core.read_namespaced_service_account(sa, ns).metadata.uid
    assert client.auth.token.lookup_self()["data"]["meta"]["role"] == role
    entity = bao.client().secrets.identity.read_entity(client.auth.token.lookup_self()["data"]["entity_id"])
    assert [a["name"] for a in entity["data"]["aliases"]] == [uid]  # user_claim: the account's UID

    now = int(time.time())
    assert "audience claim" in refusal(bao, MOUNT, role, cluster.token(ns, sa, audiences=[cluster.issuer]))
    # Another account's real token (the other workload's), on this workload's role: wrong subject.
    assert "sub" in refusal(bao, MOUNT, role, cluster.token(db["namespace"], db["serviceAccount"]))
    login(bao, MOUNT, role, cluster.resign(token))  # the re-signing alone changes nothing
    assert "expired" in refusal(bao, MOUNT, role, cluster.resign(token, iat=now - 1800, nbf=now - 1800, exp=now - 600))
    assert "issuer" in refusal(bao, MOUNT, role, cluster.resign(token, iss="https://elsewhere.example.com"))


def test_jwt_auth_with_the_api_servers_public_key(
    cluster_cli: PulumiCli, cluster: Cluster, cluster_bao: OpenBaoServer, namespace: str
) -> None:
    config = jwt_stack(cluster, cluster_bao, namespace, jwtValidationPubkeys=[cluster.service_account_public_key_pem])
    deployment = deploy(cluster_cli, cluster, cluster_bao, config)
    assert not deployment.objects_of("ClusterRoleBinding")  # no TokenReview, so no auth-delegator
    mount_config = cluster_bao.client().read(f"auth/{MOUNT}/config")["data"]
    assert mount_config["bound_issuer"] == cluster.issuer
    assert mount_config["oidc_discovery_url"] == ""
    assert_jwt_logins(cluster, cluster_bao, config)


@pytest.fixture
def anonymous_discovery(cluster: Cluster) -> Iterator[None]:
    """OIDC discovery as OpenBao fetches it, unauthenticated: the issuer-discovery role for anonymous callers."""
    cluster.bind_cluster_role(
        DISCOVERY_BINDING,
        "system:service-account-issuer-discovery",
        [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:unauthenticated"}],
    )
    yield
    cluster.unbind_cluster_role(DISCOVERY_BINDING)


def test_jwt_auth_with_oidc_discovery_at_the_issuer(
    cluster_cli: PulumiCli, cluster: Cluster, cluster_bao: OpenBaoServer, namespace: str
) -> None:
    config = jwt_stack(cluster, cluster_bao, namespace)
    # Without the discovery binding the API server refuses anonymous discovery: OpenBao refuses the mount's
    # configuration, and `pulumi up` fails saying why.
    with pytest.raises(PulumiError) as failed:
        deploy(cluster_cli, cluster, cluster_bao, config)
    assert re.search(r"error checking oidc discovery URL: 40[13]", failed.value.stdout), failed.value.stdout[-3000:]


def test_jwt_auth_with_oidc_discovery_when_anonymous_discovery_is_allowed(
    cluster_cli: PulumiCli, cluster: Cluster, cluster_bao: OpenBaoServer, namespace: str, anonymous_discovery: None
) -> None:
    config = jwt_stack(cluster, cluster_bao, namespace)
    deploy(cluster_cli, cluster, cluster_bao, config)
    mount_config = cluster_bao.client().read(f"auth/{MOUNT}/config")["data"]
    assert mount_config["oidc_discovery_url"] == cluster.issuer
    assert mount_config["oidc_discovery_ca_pem"] == cluster.ca_pem
    assert mount_config["jwt_validation_pubkeys"] == []
    assert_jwt_logins(cluster, cluster_bao, config)
