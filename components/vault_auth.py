"""Vault auth methods that trust one Kubernetes cluster: kubernetes (TokenReview) and jwt (issuer keys)."""

import base64
from collections.abc import Mapping
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s
import pulumi_vault as vault

from .args import JwtAuthArgs, KubernetesAuthArgs, ReviewerMode
from .component import Component
from .model import AuthBinding, JwtAuthSpec, KubernetesAuthSpec, Workload
from .spec import validate_jwt_auth, validate_kubernetes_auth

AUTH_DELEGATOR = "system:auth-delegator"
REVIEWER_NAME = "vault-token-reviewer"
# The UID, not the name: a deleted and recreated service account is a new identity.
KUBERNETES_ALIAS_SOURCE = "serviceaccount_uid"
# The jwt equivalent: alias on the token's service-account UID claim.
JWT_USER_CLAIM = "/kubernetes.io/serviceaccount/uid"


# --- pure builders -------------------------------------------------------------


def kubernetes_auth_config(auth: KubernetesAuthSpec) -> dict[str, Any]:
    """Inputs of ``vault.kubernetes.AuthBackendConfig`` for a reviewer mode (the reviewer JWT is wired apart)."""
    return {
        "kubernetes_host": auth.kubernetes_host,
        "kubernetes_ca_cert": auth.kubernetes_ca_cert,
        # Vault reads its own pod's token and CA only in vault-pod-token mode.
        "disable_local_ca_jwt": auth.reviewer is not ReviewerMode.VAULT_POD_TOKEN,
    }


def _token_inputs(workload: Workload) -> dict[str, Any]:
    return {
        "role_name": workload.role,
        "token_policies": [workload.policy_name],
        "token_ttl": workload.token_ttl,
        "token_max_ttl": workload.token_max_ttl,
        "token_type": "service",
    }


def kubernetes_role_inputs(workload: Workload, binding: AuthBinding) -> dict[str, Any]:
    """Inputs of ``vault.kubernetes.AuthBackendRole`` binding exactly one namespace and service account."""
    return {
        "bound_service_account_names": [workload.service_account],
        "bound_service_account_namespaces": [workload.namespace],
        "audience": binding.audience,
        "alias_name_source": KUBERNETES_ALIAS_SOURCE,
        **_token_inputs(workload),
    }


def jwt_auth_inputs(auth: JwtAuthSpec) -> dict[str, Any]:
    """Inputs of ``vault.jwt.AuthBackend``: explicit issuer keys, else OIDC discovery at the issuer."""
    inputs: dict[str, Any] = {"type": "jwt", "path": auth.path, "bound_issuer": auth.issuer}
    if auth.validation_pubkeys:
        # Vault stores each key without its trailing newline; sending them so keeps a second preview empty.
        inputs["jwt_validation_pubkeys"] = [key.strip() for key in auth.validation_pubkeys]
    else:
        inputs["oidc_discovery_url"] = auth.issuer
        inputs["oidc_discovery_ca_pem"] = auth.discovery_ca_cert
    return inputs


def jwt_role_inputs(workload: Workload, binding: AuthBinding) -> dict[str, Any]:
    """Inputs of ``vault.jwt.AuthBackendRole`` bound to exactly one service account's subject."""
    return {
        "role_type": "jwt",
        "bound_subject": workload.subject,
        "bound_audiences": [binding.audience],
        "user_claim": JWT_USER_CLAIM,
        "user_claim_json_pointer": True,
        **_token_inputs(workload),
    }


def reviewer_token(data: Mapping[str, str] | None) -> str | None:
    """The reviewer JWT from a service-account-token Secret's ``data`` (base64), once the controller filled it."""
    if not data or "token" not in data:
        return None
    return base64.b64decode(data["token"]).decode()


def delegator_binding(name: str, service_account: str, namespace: str) -> dict[str, Any]:
    """A ClusterRoleBinding granting a service account system:auth-delegator (it may call TokenReview)."""
    return {
        "metadata": {"name": name[:253]},
        "role_ref": {"api_group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": AUTH_DELEGATOR},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }


# --- components ------------------------------------------------------------------


class KubernetesAuth(Component):
    """A kubernetes auth mount configured to trust one cluster's API server."""

    path: pulumi.Output[str]
    """The auth mount path."""
    accessor: pulumi.Output[str]
    """The mount accessor (for identity templates in policies)."""

    def __init__(self, name: str, args: KubernetesAuthArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self._build(name, validate_kubernetes_auth(args), opts)

    def _build(self, name: str, model: KubernetesAuthSpec, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__("vaultk8s:index:KubernetesAuth", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        backend = vault.AuthBackend(f"{name}-mount", type="kubernetes", path=model.path, opts=child)
        config = kubernetes_auth_config(model)
        if model.reviewer is ReviewerMode.REVIEWER_SERVICE_ACCOUNT:
            config["token_reviewer_jwt"] = self._reviewer(name, model.reviewer_namespace)
        vault.kubernetes.AuthBackendConfig(
            f"{name}-config",
            backend=model.path,
            **config,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[backend], additional_secret_outputs=["tokenReviewerJwt"]
            ),
        )
        self.backend = backend  # what a role on the mount depends on
        self.path = cast(pulumi.Output[str], backend.path)
        self.accessor = cast(pulumi.Output[str], backend.accessor)
        self.register_outputs({"path": self.path, "accessor": self.accessor})

    def _reviewer(self, name: str, namespace: str) -> pulumi.Output[str | None]:
        child = pulumi.ResourceOptions(parent=self)
        account = k8s.core.v1.ServiceAccount(
            f"{name}-reviewer",
            metadata={"name": REVIEWER_NAME, "namespace": namespace},
            automount_service_account_token=False,  # no pod runs as it: only its token Secret is read, by Vault
            opts=child,
        )
        k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-reviewer-auth-delegator",
            **delegator_binding(f"{REVIEWER_NAME}-{namespace}-auth-delegator", REVIEWER_NAME, namespace),
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


class JwtAuth(Component):
    """A jwt auth mount that verifies service-account tokens without TokenReview."""

    path: pulumi.Output[str]
    """The auth mount path."""
    accessor: pulumi.Output[str]
    """The mount accessor."""

    def __init__(self, name: str, args: JwtAuthArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self._build(name, validate_jwt_auth(args), opts)

    def _build(self, name: str, model: JwtAuthSpec, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__("vaultk8s:index:JwtAuth", name, {}, opts)
        backend = vault.jwt.AuthBackend(
            f"{name}-mount", **jwt_auth_inputs(model), opts=pulumi.ResourceOptions(parent=self)
        )
        self.backend = backend  # what a role on the mount depends on
        self.path = cast(pulumi.Output[str], backend.path)
        self.accessor = cast(pulumi.Output[str], backend.accessor)
        self.register_outputs({"path": self.path, "accessor": self.accessor})
