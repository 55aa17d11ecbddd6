"""Component tier: what each component registers, under the SDK's mock engine (a fresh monitor per test)."""

from __future__ import annotations

import base64
from typing import Any

import pulumi
import pytest

from components import JwtAuth, KubernetesAuth, SecretsPlatform, WorkloadAccess
from components.args import AuthMethod, ReviewerMode
from planner.engine import Capture, EchoMocks, is_secret, run_program
from tests.conftest import dev_config, grants, plan

CA = dev_config()["secrets-platform:cluster"]["caCert"]
MYAPP = {
    "name": "myapp",
    "namespace": "myapp",
    "service_account": "myapp",
    "role": "my-role",
    "secrets": [{"path": "secret/data/myapp", "key": "apikey"}, {"path": "kv/data/team/db", "key": "password"}],
}
K8S_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
JWT_ROLE = "vault:jwt/authBackendRole:AuthBackendRole"


def only(capture: Capture, type_token: str) -> dict[str, Any]:
    found = capture.of_type(type_token)
    assert len(found) == 1, [r.name for r in found]
    return found[0].inputs


def test_workload_access_grants_read_on_exactly_its_paths_with_a_bound_role() -> None:
    capture = run_program(
        lambda: WorkloadAccess(
            "w", {"workload": MYAPP, "auth_mount": "kubernetes", "auth_method": AuthMethod.KUBERNETES}
        )
    )
    policy = only(capture, "vault:index/policy:Policy")
    assert policy["name"] == "workload-myapp-myapp"
    assert grants(policy["policy"]) == {"kv/data/team/db": ("read",), "secret/data/myapp": ("read",)}
    role = only(capture, K8S_ROLE)
    assert role == {
        "backend": "kubernetes",
        "roleName": "my-role",
        "boundServiceAccountNames": ["myapp"],
        "boundServiceAccountNamespaces": ["myapp"],
        "audience": "vault",
        "aliasNameSource": "serviceaccount_uid",
        "tokenPolicies": ["workload-myapp-myapp"],
        "tokenTtl": 900,
        "tokenMaxTtl": 3600,
        "tokenType": "service",
    }
    role_resource = capture.of_type(K8S_ROLE)[0]
    policy_resource = capture.of_type("vault:index/policy:Policy")[0]
    assert policy_resource.urn in role_resource.dependencies
    assert not [r for r in capture.resources if r.type.startswith("kubernetes:")]


def test_workload_access_jwt_role_binds_the_subject_and_audience() -> None:
    capture = run_program(
        lambda: WorkloadAccess(
            "w",
            {
                "workload": {**MYAPP, "token_ttl": "5m", "token_max_ttl": "10m"},
                "auth_mount": "jwt",
                "auth_method": AuthMethod.JWT,
                "audience": "https://vault.example.com",
            },
        )
    )
    role = only(capture, JWT_ROLE)
    assert role["boundSubject"] == "system:serviceaccount:myapp:myapp"
    assert role["boundAudiences"] == ["https://vault.example.com"]
    assert role["roleType"] == "jwt"
    assert role["userClaim"] == "/kubernetes.io/serviceaccount/uid"
    assert role["userClaimJsonPointer"] is True
    assert (role["tokenTtl"], role["tokenMaxTtl"]) == (300, 600)
    assert not capture.of_type(K8S_ROLE)


def test_workload_access_creates_the_service_account_and_delegator_binding_when_asked() -> None:
    capture = run_program(
        lambda: WorkloadAccess(
            "w",
            {
                "workload": {**MYAPP, "create_service_account": True},
                "auth_mount": "kubernetes",
                "auth_method": AuthMethod.KUBERNETES,
                "grant_auth_delegator": True,
            },
        )
    )
    account = only(capture, "kubernetes:core/v1:ServiceAccount")
    assert account["metadata"] == {"name": "myapp", "namespace": "myapp"}
    binding = only(capture, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
    assert binding["roleRef"]["name"] == "system:auth-delegator"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "myapp", "namespace": "myapp"}]


@pytest.mark.parametrize(
    ("reviewer", "disable_local"),
    [
        (ReviewerMode.VAULT_POD_TOKEN, False),
        (ReviewerMode.CLIENT_JWT, True),
        (ReviewerMode.REVIEWER_SERVICE_ACCOUNT, True),
    ],
)
def test_kubernetes_auth_reviewer_modes(reviewer: ReviewerMode, disable_local: bool) -> None:
    capture = run_program(
        lambda: KubernetesAuth(
            "k", {"kubernetes_host": "https://k8s.example.com", "kubernetes_ca_cert": CA, "reviewer": reviewer}
        )
    )
    assert only(capture, "vault:index/authBackend:AuthBackend") == {"type": "kubernetes", "path": "kubernetes"}
    config = only(capture, "vault:kubernetes/authBackendConfig:AuthBackendConfig")
    assert config["kubernetesHost"] == "https://k8s.example.com"
    assert config["kubernetesCaCert"] == CA
    assert config["disableLocalCaJwt"] is disable_local
    created = {r.type for r in capture.resources if r.type.startswith("kubernetes:")}
    if reviewer is ReviewerMode.REVIEWER_SERVICE_ACCOUNT:
        assert created == {
            "kubernetes:core/v1:ServiceAccount",
            "kubernetes:core/v1:Secret",
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
        }
    else:
        assert created == set()
        assert "tokenReviewerJwt" not in config


class TokenControllerMocks(EchoMocks):
    """Fills a service-account-token Secret's data as Kubernetes' token controller would."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        id_, state = super().new_resource(args)
        if args.typ == "kubernetes:core/v1:Secret" and args.inputs.get("type") == "kubernetes.io/service-account-token":
            state["data"] = {"token": base64.b64encode(b"reviewer-jwt-value").decode()}
        return id_, state


def test_reviewer_service_account_token_reaches_vault_as_a_secret() -> None:
    capture = run_program(
        lambda: KubernetesAuth(
            "k",
            {
                "kubernetes_host": "https://k8s.example.com",
                "kubernetes_ca_cert": CA,
                "reviewer": ReviewerMode.REVIEWER_SERVICE_ACCOUNT,
                "reviewer_namespace": "vault-auth",
            },
        ),
        mocks=TokenControllerMocks(),
    )
    config = only(capture, "vault:kubernetes/authBackendConfig:AuthBackendConfig")
    assert is_secret(config["tokenReviewerJwt"])
    assert config["tokenReviewerJwt"]["value"] == "reviewer-jwt-value"
    secret = only(capture, "kubernetes:core/v1:Secret")
    assert secret["type"] == "kubernetes.io/service-account-token"
    assert secret["metadata"]["annotations"] == {"kubernetes.io/service-account.name": "vault-token-reviewer"}
    binding = only(capture, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "vault-token-reviewer", "namespace": "vault-auth"}
    ]


def test_kubernetes_auth_requires_a_ca_unless_it_uses_its_pod_token() -> None:
    with pytest.raises(ValueError, match="kubernetesCaCert"):
        run_program(lambda: KubernetesAuth("k", {"kubernetes_host": "https://k8s.example.com"}))


def test_jwt_auth_with_keys_or_discovery() -> None:
    keys = run_program(lambda: JwtAuth("j", {"issuer": "https://issuer.example.com", "validation_pubkeys": [CA]}))
    assert only(keys, "vault:jwt/authBackend:AuthBackend") == {
        "type": "jwt",
        "path": "jwt",
        "boundIssuer": "https://issuer.example.com",
        "jwtValidationPubkeys": [CA.strip()],  # as Vault stores them: a second preview has nothing to do
    }
    discovery = run_program(lambda: JwtAuth("j", {"issuer": "https://issuer.example.com", "discovery_ca_cert": CA}))
    backend = only(discovery, "vault:jwt/authBackend:AuthBackend")
    assert backend["oidcDiscoveryUrl"] == "https://issuer.example.com"
    assert backend["oidcDiscoveryCaPem"] == CA


def test_platform_wires_every_role_to_the_auth_mount(dev_capture: Capture) -> None:
    by_urn = dev_capture.by_urn()
    mount = dev_capture.of_type("vault:index/authBackend:AuthBackend")[0]
    roles = dev_capture.of_type(K8S_ROLE)
    assert {r.inputs["roleName"] for r in roles} == {"my-role", "k8s-role"}
    for role in roles:
        assert role.inputs["backend"] == "kubernetes"
        assert mount.urn in role.dependencies  # the role waits for the mount it lives on
        assert by_urn[role.parent or ""].type == "vaultk8s:index:SecretsPlatform"
    assert dev_capture.outputs["roles"] == {"myapp": "my-role", "db-client": "k8s-role"}
    assert dev_capture.outputs["access"] == {
        "myapp": {"secret/data/myapp": ["read"]},
        "db-client": {"secret/data/db": ["read"]},
    }


def test_platform_with_jwt_auth() -> None:
    def program() -> None:
        config = dev_config()
        SecretsPlatform(
            "p",
            {
                "vault": {"address": "https://vault.example.com"},
                "cluster": {
                    "name": "dev",
                    "api_host": "https://k.example.com",
                    "auth_method": AuthMethod.JWT,
                    "issuer": "https://issuer.example.com",
                    "jwt_validation_pubkeys": [config["secrets-platform:cluster"]["caCert"]],
                },
                "workloads": [MYAPP],
            },
        )

    capture = run_program(program)
    assert only(capture, JWT_ROLE)["backend"] == "jwt"
    assert not capture.of_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")


def test_platform_takes_addresses_and_certificates_as_other_resources_outputs() -> None:
    """Vault's address and CA may come from other resources (e.g. a Vault release); names and paths stay plain."""
    config = dev_config()
    args = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("secrets-platform:")}
    ca = args["vault"]["caCert"]

    def program() -> None:
        from components.spec import from_config

        platform = from_config(args)
        platform["vault"] = {
            "address": pulumi.Output.from_input("https://vault.internal.example.com"),
            "ca_cert": pulumi.Output.from_input(ca),
        }
        SecretsPlatform("platform", platform)  # type: ignore[arg-type]

    capture = run_program(program)
    store = only(capture, "kubernetes:external-secrets.io/v1:SecretStore")["spec"]["provider"]["vault"]
    assert store["server"] == "https://vault.internal.example.com"
    assert base64.b64decode(store["caBundle"]).decode() == ca.strip() + "\n"
    spc = only(capture, "kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass")
    assert spc["spec"]["parameters"]["vaultAddress"] == "https://vault.internal.example.com"


def test_workload_resources_keep_the_urns_they_had_under_a_workload_access_component() -> None:
    """The platform registers workload identities directly under itself; each carries an alias to the URN it
    had when a WorkloadAccess component named <platform>-<workload> sat in between, so `pulumi up` on an
    existing stack moves them in state instead of replacing them."""
    config = dev_config()
    # client-jwt, as the dev stack was then: each workload also had its auth-delegator binding.
    config["secrets-platform:cluster"].update(reviewer="client-jwt", audience="https://kubernetes.default.svc")
    args = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("secrets-platform:")}

    def before() -> None:
        from components.platform import PLATFORM_TYPE
        from components.spec import from_config

        platform = pulumi.ComponentResource(PLATFORM_TYPE, "platform")
        for workload in from_config(args)["workloads"]:
            WorkloadAccess(
                f"platform-{workload['name']}",
                {
                    "workload": workload,
                    "auth_mount": "kubernetes",
                    "auth_method": AuthMethod.KUBERNETES,
                    "grant_auth_delegator": True,
                },
                opts=pulumi.ResourceOptions(parent=platform),
            )

    old = {r.name: r.urn for r in run_program(before, stack="dev").resources if r.custom}
    now = plan(config, stack="dev")
    moved = {r.name: r for r in now.resources if r.name in old}
    assert set(moved) == set(old) and len(old) == 6  # policy, role, auth-delegator binding of each workload
    for name, resource in moved.items():
        assert resource.urn != old[name]
        assert {"urn": old[name]} in resource.aliases, name  # (the Kubernetes SDK adds its API-version aliases)
    assert not any("WorkloadAccess" in a.get("urn", "") for r in now.resources if r.name not in old for a in r.aliases)
