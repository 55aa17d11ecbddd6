"""OpenBao's kubernetes auth trusting the real API server: TokenRequest tokens in, least privilege out.

The dev stack is deployed with `pulumi up` (tests.cluster.stack.deploy): the kubernetes provider creates its
objects in the API server, the vault provider its auth mount (with this API server's host and CA), policies
and roles in OpenBao. Every login below is a real TokenReview by kube-apiserver. OpenBao runs outside the
cluster, so its reviewer is the stack's reviewer ServiceAccount (or, in client-jwt mode, each pod's own token,
which the API server accepts only for its own audience).
"""

from __future__ import annotations

import time
from typing import Any

import hvac.exceptions
import pytest

from components.spec import validate_cluster
from components.validation import SpecError
from components.vault_auth import REVIEWER_NAME
from planner.engine import is_secret
from sandbox.engine import PulumiCli
from sandbox.servers import OpenBaoServer
from tests.cluster.kube import ApiException, Cluster, wait_until
from tests.cluster.stack import (
    ALLOW_REVIEWER_TOKEN,
    DEV_STACK,
    Deployment,
    cluster_stack,
    deploy,
    dev_with_reviewer,
    stack_config,
)
from tests.cluster.vault_login import login, refusal, refused

SECRETS = {
    "secret/myapp": {"apikey": "myapp-api-key-from-openbao", "unrelated": "x"},
    "secret/db": {"username": "db-user-from-openbao", "password": "db-password"},
}
MOUNT = "kubernetes"


def write_secrets(bao: OpenBaoServer) -> None:
    root = bao.client()
    for path, data in SECRETS.items():
        mount, _, rest = path.partition("/")
        root.secrets.kv.v2.create_or_update_secret(rest, secret=data, mount_point=mount)


def workload(deployment: Deployment, name: str) -> dict[str, Any]:
    return next(w for w in deployment.config["workloads"] if w["name"] == name)


@pytest.fixture
def dev(cluster_cli: PulumiCli, cluster: Cluster, cluster_bao: OpenBaoServer, namespace: str) -> Deployment:
    """The dev stack with the reviewer ServiceAccount (OpenBao runs outside the cluster)."""
    config = dev_with_reviewer(cluster, cluster_bao, namespace)
    deployment = deploy(cluster_cli, cluster, cluster_bao, config, ALLOW_REVIEWER_TOKEN)
    write_secrets(cluster_bao)
    return deployment


@pytest.fixture
def client_jwt(cluster_cli: PulumiCli, cluster: Cluster, cluster_bao: OpenBaoServer, namespace: str) -> Deployment:
    """client-jwt: each pod's token is the TokenReview's credential, so the roles bind the API server's own
    audience, the only one it accepts."""
    config = cluster_stack(
        stack_config(DEV_STACK),
        cluster,
        cluster_bao.address,
        namespace,
        vault_ca=cluster_bao.ca_pem,
        reviewer="client-jwt",
        audience=cluster.api_audience,
    )
    deployment = deploy(cluster_cli, cluster, cluster_bao, config)
    write_secrets(cluster_bao)
    return deployment


def read(client: hvac.Client, path: str) -> dict[str, Any]:
    mount, _, rest = path.partition("/")
    answer = client.secrets.kv.v2.read_secret_version(rest, mount_point=mount, raise_on_deleted_version=True)
    return dict(answer["data"]["data"])


def test_each_workload_logs_in_with_its_token_and_reads_only_its_own_secret(
    cluster: Cluster, cluster_bao: OpenBaoServer, dev: Deployment
) -> None:
    root = cluster_bao.client()
    for name, own, other in (("myapp", "secret/myapp", "secret/db"), ("db-client", "secret/db", "secret/myapp")):
        w = workload(dev, name)
        uid = cluster.core.read_namespaced_service_account(w["serviceAccount"], w["namespace"]).metadata.uid
        client = login(cluster_bao, MOUNT, w["role"], cluster.token(w["namespace"], w["serviceAccount"]))
        assert read(client, own) == SECRETS[own]
        with pytest.raises(hvac.exceptions.Forbidden):
            read(client, other)
        me = client.auth.token.lookup_self()["data"]
        assert me["policies"] == ["default", f"workload-{w['namespace']}-{w['serviceAccount']}"]
        assert me["meta"]["service_account_uid"] == uid
        # alias_name_source=serviceaccount_uid: the identity is the account's UID, not its name.
        entity = root.secrets.identity.read_entity(me["entity_id"])["data"]
        assert [a["name"] for a in entity["aliases"]] == [uid]


def test_logins_the_role_does_not_bind_are_refused(
    cluster: Cluster, cluster_bao: OpenBaoServer, dev: Deployment, namespace: str
) -> None:
    w = workload(dev, "myapp")
    ns, sa, role = w["namespace"], w["serviceAccount"], w["role"]
    good = cluster.token(ns, sa)
    login(cluster_bao, MOUNT, role, good)

    cluster.service_account(ns, "intruder")
    assert "not authorized" in refusal(cluster_bao, MOUNT, role, cluster.token(ns, "intruder"))

    elsewhere = f"{namespace}-elsewhere"
    cluster.namespace(elsewhere)
    cluster.service_account(elsewhere, sa)  # the same name, another namespace
    assert "namespace not authorized" in refusal(cluster_bao, MOUNT, role, cluster.token(elsewhere, sa))

    # The API server's own audience instead of the role's `vault`.
    assert "invalid audience" in refusal(
        cluster_bao, MOUNT, role, cluster.token(ns, sa, audiences=[cluster.api_audience])
    )

    now = int(time.time())
    login(cluster_bao, MOUNT, role, cluster.resign(good))  # the re-signing alone changes nothing
    refusal(cluster_bao, MOUNT, role, cluster.resign(good, iat=now - 1800, nbf=now - 1800, exp=now - 600))

    # Deleted after the token was issued: the review fails, so the login does.
    cluster.delete_service_account(ns, sa)
    wait_until(lambda: refused(cluster_bao, MOUNT, role, good), 20, "the login of a deleted account to fail")
    cluster.core.delete_namespace(elsewhere)


def test_why_client_jwt_needs_the_api_servers_audience(cluster: Cluster, namespace: str) -> None:
    """The reason the stack refuses client-jwt with an audience of Vault's own (spec.validate_cluster): in
    client-jwt mode the pod's token is the TokenReview's credential, and a stock API server (--api-audiences:
    its issuer) answers 401 to a token for `vault` alone, though the token itself is valid for Vault."""
    cluster.service_account(namespace, "app")
    token = cluster.token(namespace, "app", audiences=["vault"])
    assert cluster.review(token, audiences=["vault"]).authenticated is True  # a valid token for Vault...
    with pytest.raises(ApiException) as unauthorized:  # ...that cannot make its own review
        cluster.review_as(token, token, ["vault"])
    assert unauthorized.value.status == 401
    with pytest.raises(SpecError, match="client-jwt"):
        validate_cluster(
            "cluster", {"name": "c", "api_host": cluster.server, "ca_cert": cluster.ca_pem, "reviewer": "client-jwt"}
        )


def test_client_jwt_reviews_need_the_auth_delegator_binding_the_stack_declares(
    cluster: Cluster, cluster_bao: OpenBaoServer, client_jwt: Deployment
) -> None:
    w = workload(client_jwt, "myapp")
    ns, sa = w["namespace"], w["serviceAccount"]
    (binding,) = [
        b
        for b in client_jwt.objects_of("ClusterRoleBinding")
        if b["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]
    ]
    assert binding["roleRef"]["name"] == "system:auth-delegator"
    token = cluster.token(ns, sa, audiences=[cluster.api_audience])
    assert read(login(cluster_bao, MOUNT, w["role"], token), "secret/myapp") == SECRETS["secret/myapp"]

    cluster.unbind_cluster_role(binding["metadata"]["name"])
    # client-jwt: OpenBao sends the TokenReview with the workload's own token, which may no longer create one.
    message = wait_until(lambda: refused(cluster_bao, MOUNT, w["role"], token), 20, "the review to be forbidden")
    assert "permission denied" in message, message
    with pytest.raises(ApiException) as forbidden:  # the review itself is what is now refused
        cluster.review_as(token, token, [cluster.api_audience])
    assert forbidden.value.status == 403

    cluster.apply(binding)
    wait_until(lambda: refused(cluster_bao, MOUNT, w["role"], token) is None, 20, "the login to work again")


def test_reviewer_service_account_mode_reviews_with_the_token_the_controller_filled(
    cluster_cli: PulumiCli, cluster: Cluster, cluster_bao: OpenBaoServer, namespace: str
) -> None:
    config = dev_with_reviewer(cluster, cluster_bao, namespace)
    deployment = deploy(cluster_cli, cluster, cluster_bao, config, ALLOW_REVIEWER_TOKEN)
    write_secrets(cluster_bao)
    # The stack declares the reviewer, its binding and its token Secret, and no per-workload binding.
    (binding,) = deployment.objects_of("ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": REVIEWER_NAME, "namespace": "kube-system"}]
    (secret,) = deployment.objects_of("Secret")
    assert secret["type"] == "kubernetes.io/service-account-token"
    assert is_secret(secret["data"])  # the engine waited for the controller's token, and keeps it a secret
    filled = cluster.secret_data("kube-system", f"{REVIEWER_NAME}-token")["token"]
    assert cluster.review(filled).user.username == f"system:serviceaccount:kube-system:{REVIEWER_NAME}"

    w = workload(deployment, "myapp")
    token = cluster.token(w["namespace"], w["serviceAccount"])
    # The workload has no auth-delegator binding: the reviewer's token makes the review.
    assert read(login(cluster_bao, MOUNT, w["role"], token), "secret/myapp") == SECRETS["secret/myapp"]

    cluster.unbind_cluster_role(binding["metadata"]["name"])
    wait_until(lambda: refused(cluster_bao, MOUNT, w["role"], token), 20, "the reviewer's review to be forbidden")
