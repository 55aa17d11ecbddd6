"""The real API server's service-account tokens: TokenRequest, TokenReview, the token controller, OIDC discovery.

These are the facts Vault's kubernetes and jwt auth rely on, checked against kube-apiserver itself.
"""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tests.cluster.kube import ApiException, Cluster, wait_until


def claims(token: str) -> dict[str, object]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_cluster_starts_within_seconds(cluster: Cluster) -> None:
    # One control plane per run; its start is the fixed cost of the tier.
    assert cluster.control_plane.started_in < 30, cluster.control_plane.started_in
    version = json.loads(cluster.control_plane.get("/version")[1])
    assert version["gitVersion"].startswith("v1.")


def test_token_request_for_vault_is_reviewed_only_for_its_audience(cluster: Cluster, namespace: str) -> None:
    uid = cluster.service_account(namespace, "app")
    token = cluster.token(namespace, "app", audiences=["vault"], seconds=600)

    c = claims(token)
    assert c["aud"] == ["vault"]
    assert c["iss"] == cluster.issuer
    assert c["sub"] == f"system:serviceaccount:{namespace}:app"
    assert isinstance(c["exp"], int) and isinstance(c["iat"], int) and c["exp"] - c["iat"] == 600
    assert c["kubernetes.io"] == {  # type: ignore[comparison-overlap]
        "namespace": namespace,
        "serviceaccount": {"name": "app", "uid": uid},
    }
    # Signed with the key jwt auth is given as jwt_validation_pubkeys.
    jwt.decode(
        token, cluster.service_account_public_key_pem, algorithms=["RS256"], audience="vault", issuer=cluster.issuer
    )

    review = cluster.review(token, audiences=["vault"])
    assert review.authenticated is True
    assert review.audiences == ["vault"]
    assert review.user.username == f"system:serviceaccount:{namespace}:app"
    assert review.user.uid == uid
    assert f"system:serviceaccounts:{namespace}" in review.user.groups

    # Another audience, or the API server's own (no audiences given): not authenticated.
    assert cluster.review(token, audiences=["other"]).authenticated is not True
    assert cluster.review(token).authenticated is not True
    # A token of the API server's own audience is not one for Vault.
    api_token = cluster.token(namespace, "app", audiences=[cluster.issuer])
    assert cluster.review(api_token).authenticated is True
    assert cluster.review(api_token, audiences=["vault"]).authenticated is not True


def test_the_api_server_refuses_tokens_it_would_not_issue(cluster: Cluster, namespace: str) -> None:
    cluster.service_account(namespace, "app")
    token = cluster.token(namespace, "app")
    now = int(time.time())

    # Re-signed with the cluster's own key and unchanged claims: accepted (so only the change below matters).
    assert cluster.review(cluster.resign(token), audiences=["vault"]).authenticated is True
    # Expired ten minutes ago (TokenRequest will not issue anything shorter than ten minutes).
    expired = cluster.resign(token, iat=now - 1800, nbf=now - 1800, exp=now - 600)
    review = cluster.review(expired, audiences=["vault"])
    assert review.authenticated is not True
    assert "expired" in (review.error or "")
    # Tampered signature.
    head, body, sig = token.split(".")
    assert cluster.review(f"{head}.{body}.{sig[::-1]}", audiences=["vault"]).authenticated is not True


def test_a_token_stops_working_with_its_account_or_its_bound_object(cluster: Cluster, namespace: str) -> None:
    cluster.service_account(namespace, "app")
    cluster.service_account(namespace, "pod-like")
    anchor = cluster.core.create_namespaced_secret(namespace, {"metadata": {"name": "anchor"}})
    account_token = cluster.token(namespace, "app")
    bound_token = cluster.token(
        namespace,
        "pod-like",
        bound_to={"apiVersion": "v1", "kind": "Secret", "name": "anchor", "uid": anchor.metadata.uid},
    )
    for token in (account_token, bound_token):
        assert cluster.review(token, audiences=["vault"]).authenticated is True

    cluster.delete_service_account(namespace, "app")
    cluster.core.delete_namespaced_secret("anchor", namespace)
    for token, what in ((account_token, "a deleted account"), (bound_token, "a deleted bound object")):
        wait_until(
            lambda t=token: cluster.review(t, audiences=["vault"]).authenticated is not True,  # type: ignore[misc]
            # kube-apiserver caches a successful token authentication for 10 s.
            20,
            f"the API server to refuse the token of {what}",
        )
    # A new account of the same name is another identity: the old token stays refused.
    cluster.service_account(namespace, "app")
    assert cluster.review(account_token, audiences=["vault"]).authenticated is not True


def test_the_controller_manager_fills_service_account_token_secrets(cluster: Cluster, namespace: str) -> None:
    cluster.service_account(namespace, "reviewer")
    cluster.core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "reviewer-token", "annotations": {"kubernetes.io/service-account.name": "reviewer"}},
            "type": "kubernetes.io/service-account-token",
        },
    )
    data = wait_until(
        lambda: (lambda d: d if "token" in d else None)(cluster.secret_data(namespace, "reviewer-token")),
        30,
        "the token controller to fill the Secret",
    )
    assert data["ca.crt"] == cluster.ca_pem
    assert data["namespace"] == namespace
    # A legacy token: no expiry, the API server's audience, valid for TokenReview.
    assert "exp" not in claims(data["token"])
    review = cluster.review(data["token"])
    assert review.authenticated is True
    assert review.user.username == f"system:serviceaccount:{namespace}:reviewer"


def test_the_controller_manager_collects_garbage_and_publishes_the_root_ca(cluster: Cluster, namespace: str) -> None:
    owner = cluster.core.create_namespaced_config_map(namespace, {"metadata": {"name": "owner"}})
    cluster.core.create_namespaced_config_map(
        namespace,
        {
            "metadata": {
                "name": "dependent",
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
                ],
            }
        },
    )
    cluster.core.delete_namespaced_config_map("owner", namespace)

    def collected() -> bool:
        try:
            cluster.core.read_namespaced_config_map("dependent", namespace)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_until(collected, 30, "the garbage collector to delete the dependent ConfigMap")
    root_ca = wait_until(
        lambda: cluster.core.read_namespaced_config_map("kube-root-ca.crt", namespace), 30, "kube-root-ca.crt"
    )
    assert root_ca.data["ca.crt"] == cluster.ca_pem


def test_oidc_discovery_names_the_issuer_and_its_keys(cluster: Cluster) -> None:
    status, body = cluster.control_plane.get("/.well-known/openid-configuration")
    assert status == 200
    discovery = json.loads(body)
    assert discovery["issuer"] == cluster.issuer
    assert discovery["jwks_uri"] == cluster.jwks_uri
    status, body = cluster.control_plane.get("/openid/v1/jwks")
    assert status == 200
    (key,) = json.loads(body)["keys"]
    public = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(key))
    assert isinstance(public, jwt.algorithms.RSAPublicKey)
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert pem == cluster.service_account_public_key_pem


def test_token_request_refuses_less_than_ten_minutes(cluster: Cluster, namespace: str) -> None:
    cluster.service_account(namespace, "app")
    with pytest.raises(ApiException) as refused:
        cluster.token(namespace, "app", audiences=["vault"], seconds=60)
    assert refused.value.status in (400, 422)
