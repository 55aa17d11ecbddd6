"""Two clusters, two trust domains, one OpenBao: `pulumi up` through the real engine, then real logins.

Each cluster has an issuer of its own (its own signing key and issuer URL) and trusts it through its own jwt
mount. The same namespace, service account and role name in both clusters are two identities: each logs in
only on its own cluster's mount, with its own policy, and reads only its own secret.
"""

from __future__ import annotations

from typing import Any

import hvac
import pytest

from sandbox import stacks
from sandbox.engine import PulumiCli
from sandbox.issuer import ServiceAccountIssuer
from sandbox.servers import OpenBaoServer
from tests.engine import access

NAMESPACE, ACCOUNT, ROLE = "shop", "orders", "orders"


def cluster(name: str, issuer: ServiceAccountIssuer) -> dict[str, Any]:
    return {
        "name": name,
        "apiHost": f"https://{name}.kubernetes.example.com:6443",
        "authMethod": "jwt",
        "issuer": issuer.issuer,
        "jwtValidationPubkeys": [issuer.public_key_pem],
    }


def workload(name: str, in_cluster: str) -> dict[str, Any]:
    return {
        "name": name,
        "cluster": in_cluster,
        "namespace": NAMESPACE,
        "serviceAccount": ACCOUNT,
        "role": ROLE,
        "secrets": [{"path": f"secret/data/{in_cluster}", "key": "apikey", "delivery": "none"}],
    }


def two_clusters(
    openbao: OpenBaoServer, issuers: dict[str, ServiceAccountIssuer], audit_devices: list[dict[str, str]]
) -> dict[str, Any]:
    config = stacks.on_openbao(stacks.against(stacks.dev_stack(), openbao), audit_devices)
    del config[stacks.key("cluster")]
    config[stacks.key("clusters")] = [cluster(name, issuer) for name, issuer in issuers.items()]
    config[stacks.key("workloads")] = [workload("orders", "east"), workload("orders-west", "west")]
    return config


def login(openbao: OpenBaoServer, issuer: ServiceAccountIssuer, mount: str) -> hvac.Client:
    token = issuer.issue(NAMESPACE, ACCOUNT, ["vault"])
    answer = hvac.Client(url=openbao.address).auth.jwt.jwt_login(ROLE, token, path=mount)
    return hvac.Client(url=openbao.address, token=answer["auth"]["client_token"])


def test_two_clusters_are_two_trust_domains(
    cli: PulumiCli, openbao: OpenBaoServer, audit_devices: list[dict[str, str]]
) -> None:
    issuers = {
        "east": ServiceAccountIssuer("https://east.kubernetes.example.com"),
        "west": ServiceAccountIssuer("https://west.kubernetes.example.com"),
    }
    config = two_clusters(openbao, issuers, audit_devices)
    root = openbao.client()
    # The deployer's documented policy covers both clusters' mounts and roles.
    deployer = access.deployer_token(root, config)
    stack = cli.stack("clusters", config)
    stack.cli.extra_env["VAULT_TOKEN"] = deployer
    stack.up()
    stack.preview("--expect-no-changes")
    assert stack.outputs()["authMounts"] == {"east": "jwt-east", "west": "jwt-west"}

    for name in issuers:
        root.secrets.kv.v2.create_or_update_secret(name, secret={"apikey": f"{name}-key"}, mount_point="secret")
    for name, other in (("east", "west"), ("west", "east")):
        client = login(openbao, issuers[name], f"jwt-{name}")
        read = client.secrets.kv.v2.read_secret_version(name, mount_point="secret", raise_on_deleted_version=True)
        assert read["data"]["data"] == {"apikey": f"{name}-key"}
        with pytest.raises(hvac.exceptions.Forbidden):
            client.secrets.kv.v2.read_secret_version(other, mount_point="secret", raise_on_deleted_version=True)
        policies = client.auth.token.lookup_self()["data"]["policies"]
        assert [p for p in policies if p.startswith("workload-")] == [
            "workload-shop-orders" if name == "east" else "workload-shop-orders-west"
        ]
        # The same service account's token from this cluster does not log in on the other's mount.
        with pytest.raises((hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden)):
            login(openbao, issuers[name], f"jwt-{other}")
