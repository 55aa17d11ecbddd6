"""OpenBao's kubernetes auth trusting the real API server: TokenRequest tokens in, least privilege out.

The stack (dev, client-jwt reviewer) is deployed by ``tests.cluster.stack.deploy``: its Kubernetes objects
applied to the API server, its auth mount, policies and roles written to OpenBao. Every login below is a
real TokenReview by kube-apiserver.
"""

from __future__ import annotations

import time
from typing import Any

import hvac.exceptions
import pytest

from components.vault_auth import REVIEWER_NAME
from tests.cluster.kube import ApiException, Cluster, wait_until
from tests.cluster.openbao_tls import TlsOpenBaoDevServer
from tests.cluster.stack import (
    ALLOW_REVIEWER_TOKEN,
    DEV_STACK,
    Deployment,
    cluster_stack,
    deploy,
    hvac_client,
    stack_config,
)
from tests.cluster.vault_login import login, refusal, refused

SECRETS = {
    "secret/myapp": {"apikey": "myapp-api-key-from-openbao", "unrelated": "x"},
    "secret/db": {"username": "db-user-from-openbao", "password": "db-password"},
}
MOUNT = "kubernetes"


def write_secrets(bao: TlsOpenBaoDevServer) -> None:
    root = hvac_client(bao)
    for path, data in SECRETS.items():
        mount, _, rest = path.partition("/")
        root.secrets.kv.v2.create_or_update_secret(rest, secret=data, mount_point=mount)


def workload(deployment: Deployment, name: str) -> dict[str, Any]:
    return next(w for w in deployment.config["workloads"] if w["name"] == name)


@pytest.fixture
def dev(cluster: Cluster, cluster_bao: TlsOpenBaoDevServer, namespace: str) -> Deployment:
    config = cluster_stack(
        stack_config(DEV_STACK), cluster, cluster_bao.address, namespace, vault_ca=cluster_bao.ca_pem
    )
    deployment = deploy(cluster, cluster_bao, config)
    write_secrets(cluster_bao)
    return deployment


def read(client: hvac.Client, path: str) -> dict[str, Any]:
    mount, _, rest = path.partition("/")
    answer = client.secrets.kv.v2.read_secret_version(rest, mount_point=mount, raise_on_deleted_version=True)
    return dict(answer["data"]["data"])


def test_each_workload_logs_in_with_its_token_and_reads_only_its_own_secret(
    cluster: Cluster, cluster_bao: TlsOpenBaoDevServer, dev: Deployment
) -> None:
    root = hvac_client(cluster_bao)
    for name, own, other in (("myapp", "secret/myapp", "secret/db"), ("db-client", "secret/db", "secret/myapp")):
        w = workload(dev, name)
        uid = cluster.core.read_namespaced_service_account(w["serviceAccount"], w["namespace"]).metadata.uid
        client = login(cluster_bao, MOUNT, w["role"], cluster.client_jwt_token(w["namespace"], w["serviceAccount"]))
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
    cluster: Cluster, cluster_bao: TlsOpenBaoDevServer, dev: Deployment, namespace: str
) -> None:
    w = workload(dev, "myapp")
    ns, sa, role = w["namespace"], w["serviceAccount"], w["role"]
    good = cluster.client_jwt_token(ns, sa)
    login(cluster_bao, MOUNT, role, good)

    cluster.service_account(ns, "intruder")
    assert "not authorized" in refusal(cluster_bao, MOUNT, role, cluster.client_jwt_token(ns, "intruder"))

    elsewhere = f"{namespace}-elsewhere"
    cluster.namespace(elsewhere)
    cluster.service_account(elsewhere, sa)  # the same name, another namespace
    assert "namespace not authorized" in refusal(cluster_bao, MOUNT, role, cluster.client_jwt_token(elsewhere, sa))

    # The API server's own audience instead of the role's `vault`.
    assert "invalid audience" in refusal(cluster_bao, MOUNT, role, cluster.token(ns, sa, audiences=[cluster.issuer]))

    now = int(time.time())
    login(cluster_bao, MOUNT, role, cluster.resign(good))  # the re-signing alone changes nothing
    refusal(cluster_bao, MOUNT, role, cluster.resign(good, iat=now - 1800, nbf=now - 1800, exp=now - 600))

    # Deleted after the token was issued: the review fails, so the login does.
    cluster.delete_service_account(ns, sa)
    wait_until(lambda: refused(cluster_bao, MOUNT, role, good), 20, "the login of a deleted account to fail")
    cluster.core.delete_namespace(elsewhere)


def test_client_jwt_refuses_a_token_for_vault_alone_on_a_stock_api_server(
    cluster: Cluster, cluster_bao: TlsOpenBaoDevServer, dev: Deployment
) -> None:
    """The delivery objects request `vault`-only tokens (ESO serviceAccountRef.audiences, the CSI audience, the
    injector's projected volume); in client-jwt mode OpenBao reviews such a token with itself, and an API server
    whose --api-audiences is only its issuer (the default) answers 401. See the README's reviewer modes."""
    w = workload(dev, "myapp")
    token = cluster.token(w["namespace"], w["serviceAccount"], audiences=["vault"])
    assert cluster.review(token, audiences=["vault"]).authenticated is True  # a valid token for Vault...
    assert "permission denied" in refusal(cluster_bao, MOUNT, w["role"], token)
    # Why: the review OpenBao sends is authenticated by that token, and the API server does not accept it.
    with pytest.raises(ApiException) as unauthorized:
        cluster.review_as(token, token, ["vault"])
    assert unauthorized.value.status == 401
    # The same account and role with a token also for the API server's audience: the login works.
    login(cluster_bao, MOUNT, w["role"], cluster.client_jwt_token(w["namespace"], w["serviceAccount"]))


def test_client_jwt_reviews_need_the_auth_delegator_binding_the_stack_declares(
    cluster: Cluster, cluster_bao: TlsOpenBaoDevServer, dev: Deployment
) -> None:
    w = workload(dev, "myapp")
    ns, sa = w["namespace"], w["serviceAccount"]
    (binding,) = [
        b
        for b in dev.objects_of("ClusterRoleBinding")
        if b["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]
    ]
    assert binding["roleRef"]["name"] == "system:auth-delegator"
    token = cluster.client_jwt_token(ns, sa)
    login(cluster_bao, MOUNT, w["role"], token)

    cluster.unbind_cluster_role(binding["metadata"]["name"])
    # client-jwt: OpenBao sends the TokenReview with the workload's own token, which may no longer create one.
    message = wait_until(lambda: refused(cluster_bao, MOUNT, w["role"], token), 20, "the review to be forbidden")
    assert "permission denied" in message, message
    with pytest.raises(ApiException) as forbidden:  # the review itself is what is now refused
        cluster.review_as(token, token, ["vault"])
    assert forbidden.value.status == 403

    cluster.apply(binding)
    wait_until(lambda: refused(cluster_bao, MOUNT, w["role"], token) is None, 20, "the login to work again")


def test_reviewer_service_account_mode_reviews_with_the_token_the_controller_filled(
    cluster: Cluster, cluster_bao: TlsOpenBaoDevServer, namespace: str, reviewer_cleanup: None
) -> None:
    config = cluster_stack(
        stack_config(DEV_STACK),
        cluster,
        cluster_bao.address,
        namespace,
        vault_ca=cluster_bao.ca_pem,
        reviewer="reviewer-service-account",
    )
    deployment = deploy(cluster, cluster_bao, config, ALLOW_REVIEWER_TOKEN)
    write_secrets(cluster_bao)
    # The stack declares the reviewer, its binding and its token Secret, and no per-workload binding.
    (binding,) = deployment.objects_of("ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": REVIEWER_NAME, "namespace": "kube-system"}]
    (secret,) = deployment.objects_of("Secret")
    assert secret["type"] == "kubernetes.io/service-account-token" and "data" not in secret
    filled = cluster.secret_data("kube-system", f"{REVIEWER_NAME}-token")["token"]
    assert cluster.review(filled).user.username == f"system:serviceaccount:kube-system:{REVIEWER_NAME}"

    w = workload(deployment, "myapp")
    token = cluster.token(w["namespace"], w["serviceAccount"])
    # The workload has no auth-delegator binding: the reviewer's token makes the review.
    assert read(login(cluster_bao, MOUNT, w["role"], token), "secret/myapp") == SECRETS["secret/myapp"]

    cluster.unbind_cluster_role(binding["metadata"]["name"])
    wait_until(lambda: refused(cluster_bao, MOUNT, w["role"], token), 20, "the reviewer's review to be forbidden")
