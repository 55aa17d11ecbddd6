"""Vault auth methods that trust one Kubernetes cluster: kubernetes (TokenReview) and jwt (issuer keys)."""

import base64
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict, cast

import pulumi
import pulumi_kubernetes as k8s
import pulumi_vault as vault

from . import validation as v
from .args import ReviewerMode
from .model import Workload

AUTH_DELEGATOR = "system:auth-delegator"
REVIEWER_NAME = "vault-token-reviewer"


# --- pure builders -------------------------------------------------------------


def kubernetes_auth_config(host: str, reviewer: ReviewerMode) -> dict[str, Any]:
    """Inputs of ``vault.kubernetes.AuthBackendConfig`` for a reviewer mode (CA and reviewer JWT are wired apart)."""
    return {
        "kubernetes_host": host,
        # Vault reads its own pod's token and CA only in vault-pod-token mode.
        "disable_local_ca_jwt": reviewer is not ReviewerMode.VAULT_POD_TOKEN,
    }


def kubernetes_role_inputs(workload: Workload, audience: str, policies: list[str]) -> dict[str, Any]:
    """Inputs of ``vault.kubernetes.AuthBackendRole`` binding exactly one namespace and service account."""
    return {
        "role_name": workload.role,
        "bound_service_account_names": [workload.service_account],
        "bound_service_account_namespaces": [workload.namespace],
        "audience": audience,
        # The UID, not the name: a deleted and recreated service account is a new identity.
        "alias_name_source": "serviceaccount_uid",
        "token_policies": policies,
        "token_ttl": workload.token_ttl,
        "token_max_ttl": workload.token_max_ttl,
        "token_type": "service",
    }


def jwt_auth_inputs(issuer: str, ca_cert: str | None, pubkeys: tuple[str, ...]) -> dict[str, Any]:
    """Inputs of ``vault.jwt.AuthBackend``: explicit issuer keys, else OIDC discovery at the issuer."""
    inputs: dict[str, Any] = {"type": "jwt", "bound_issuer": issuer}
    if pubkeys:
        # Vault stores each key without its trailing newline; sending them so keeps a second preview empty.
        inputs["jwt_validation_pubkeys"] = [key.strip() for key in pubkeys]
    else:
        inputs["oidc_discovery_url"] = issuer
        inputs["oidc_discovery_ca_pem"] = ca_cert
    return inputs


def jwt_role_inputs(workload: Workload, audience: str, policies: list[str]) -> dict[str, Any]:
    """Inputs of ``vault.jwt.AuthBackendRole`` bound to exactly one service account's subject."""
    return {
        "role_name": workload.role,
        "role_type": "jwt",
        "bound_subject": workload.subject,
        "bound_audiences": [audience],
        # Alias on the service account's UID, as alias_name_source=serviceaccount_uid does for kubernetes auth.
        "user_claim": "/kubernetes.io/serviceaccount/uid",
        "user_claim_json_pointer": True,
        "token_policies": policies,
        "token_ttl": workload.token_ttl,
        "token_max_ttl": workload.token_max_ttl,
        "token_type": "service",
    }


def reviewer_token(data: Mapping[str, str] | None) -> str | None:
    """The reviewer JWT from a service-account-token Secret's ``data`` (base64), once the controller filled it."""
    if not data or "token" not in data:
        return None
    return base64.b64decode(data["token"]).decode()


# --- components ------------------------------------------------------------------


class KubernetesAuthArgs(TypedDict):
    """A Vault kubernetes auth mount trusting one cluster's API server."""

    path: NotRequired[str]
    """The auth mount path (default `kubernetes`)."""
    kubernetes_host: str
    """The cluster API server URL Vault calls for TokenReview."""
    kubernetes_ca_cert: NotRequired[pulumi.Input[str]]
    """PEM CA of the API server; required unless the reviewer is `vault-pod-token`."""
    reviewer: NotRequired[ReviewerMode]
    """Whose token reviews client tokens (default `client-jwt`)."""
    reviewer_namespace: NotRequired[str]
    """Namespace of the reviewer ServiceAccount in `reviewer-service-account` mode (default `kube-system`)."""


class KubernetesAuth(pulumi.ComponentResource):
    """A kubernetes auth mount configured to trust one cluster's API server."""

    path: pulumi.Output[str]
    """The auth mount path."""
    accessor: pulumi.Output[str]
    """The mount accessor (for identity templates in policies)."""

    def __init__(self, name: str, args: KubernetesAuthArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        path = v.mount_path("path", args.get("path", "kubernetes"))
        host = v.url("kubernetesHost", args.get("kubernetes_host"))
        reviewer = ReviewerMode(
            v.choice("reviewer", _value(args.get("reviewer", ReviewerMode.CLIENT_JWT)), _values(ReviewerMode))
        )
        reviewer_ns = v.dns_label("reviewerNamespace", args.get("reviewer_namespace", "kube-system"))
        ca_cert = args.get("kubernetes_ca_cert")
        if isinstance(ca_cert, str):
            ca_cert = v.pem("kubernetesCaCert", ca_cert)
        elif ca_cert is None and reviewer is not ReviewerMode.VAULT_POD_TOKEN:
            raise v.SpecError(
                "kubernetesCaCert", None, "a PEM CA certificate (required unless reviewer is vault-pod-token)"
            )
        super().__init__("vaultk8s:index:KubernetesAuth", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        backend = vault.AuthBackend(f"{name}-mount", type="kubernetes", path=path, opts=child)
        config = kubernetes_auth_config(host, reviewer)
        if reviewer is ReviewerMode.REVIEWER_SERVICE_ACCOUNT:
            config["token_reviewer_jwt"] = self._reviewer(name, reviewer_ns)
        vault.kubernetes.AuthBackendConfig(
            f"{name}-config",
            backend=backend.path,
            kubernetes_ca_cert=ca_cert,
            **config,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["tokenReviewerJwt"]),
        )
        self.path = cast(pulumi.Output[str], backend.path)
        self.accessor = cast(pulumi.Output[str], backend.accessor)
        self.register_outputs({"path": self.path, "accessor": self.accessor})

    def _reviewer(self, name: str, namespace: str) -> pulumi.Output[str | None]:
        child = pulumi.ResourceOptions(parent=self)
        account = k8s.core.v1.ServiceAccount(
            f"{name}-reviewer", metadata={"name": REVIEWER_NAME, "namespace": namespace}, opts=child
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-reviewer-auth-delegator",
            metadata={"name": f"{REVIEWER_NAME}-{namespace}-auth-delegator"},
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": AUTH_DELEGATOR},
            subjects=[{"kind": "ServiceAccount", "name": REVIEWER_NAME, "namespace": namespace}],
            opts=child,
        )
        token = k8s.core.v1.Secret(
            f"{name}-reviewer-token",
            metadata={
                "name": f"{REVIEWER_NAME}-token",
                "namespace": namespace,
                "annotations": {"kubernetes.io/service-account.name": REVIEWER_NAME},
            },
            type="kubernetes.io/service-account-token",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account], additional_secret_outputs=["data"]),
        )
        return pulumi.Output.secret(token.data.apply(reviewer_token))


class JwtAuthArgs(TypedDict):
    """A Vault jwt auth mount trusting one cluster's service-account issuer."""

    path: NotRequired[str]
    """The auth mount path (default `jwt`)."""
    issuer: str
    """The service-account issuer URL; tokens must carry it as `iss`."""
    discovery_ca_cert: NotRequired[str]
    """PEM CA of the issuer's OIDC discovery endpoint (used when no validation keys are given)."""
    validation_pubkeys: NotRequired[list[str]]
    """PEM public keys that sign service-account tokens; when set, no discovery is used."""


class JwtAuth(pulumi.ComponentResource):
    """A jwt auth mount that verifies service-account tokens without TokenReview."""

    path: pulumi.Output[str]
    """The auth mount path."""
    accessor: pulumi.Output[str]
    """The mount accessor."""

    def __init__(self, name: str, args: JwtAuthArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        path = v.mount_path("path", args.get("path", "jwt"))
        issuer = v.url("issuer", args.get("issuer"))
        keys = tuple(
            v.pem(f"validationPubkeys[{i}]", k)
            for i, k in enumerate(v.sequence("validationPubkeys", args.get("validation_pubkeys", [])))
        )
        ca = args.get("discovery_ca_cert")
        ca_cert = v.pem("discoveryCaCert", ca) if ca is not None else None
        if not keys and ca_cert is None:
            raise v.SpecError("discoveryCaCert", None, "the discovery endpoint's CA, or validationPubkeys")
        super().__init__("vaultk8s:index:JwtAuth", name, {}, opts)

        backend = vault.jwt.AuthBackend(
            f"{name}-mount",
            path=path,
            **jwt_auth_inputs(issuer, ca_cert, keys),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.path = cast(pulumi.Output[str], backend.path)
        self.accessor = cast(pulumi.Output[str], backend.accessor)
        self.register_outputs({"path": self.path, "accessor": self.accessor})


def _value(x: object) -> object:
    return getattr(x, "value", x)


def _values(enum: Any) -> tuple[str, ...]:
    return tuple(m.value for m in enum)
