"""For every rule of the pack: programs that fail it and programs that pass it.

Each program registers raw pulumi_vault / pulumi_kubernetes / pulumi_random resources (custom
resources for the CRD kinds) under the mock engine. A failing program breaks the rule in one
way; a passing one is the compliant shape the components are expected to register.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_vault as vault

from .resources import (
    CA_CERT,
    CSI_VALUES,
    ESO_VALUES,
    KNOWN_SECRET,
    NAMESPACE,
    POLICY_NAME,
    READ_APP,
    ROLE,
    audit,
    audits,
    chart,
    cluster_secret_store,
    container,
    cron_job,
    csi_chart,
    custom,
    deployment,
    eso_chart,
    external_secret,
    jwt_backend,
    jwt_role,
    k8s_auth_config,
    k8s_role,
    pod_spec,
    policy,
    provider_objects,
    secret_provider_class,
    secret_store,
    vault_dynamic_secret,
    vault_provider,
    workload,
)

Program = Callable[[], Any]


@dataclass(frozen=True)
class Case:
    fails: tuple[Program, ...]
    passes: tuple[Program, ...]


def program(*steps: Program) -> Program:
    def run() -> None:
        for step in steps:
            step()

    return run


TEMPLATE = "identity.entity.aliases.auth_kubernetes_0a1b2c3d.metadata.service_account_namespace"
SUDO_POLICY = 'path "sys/leases/revoke-prefix/*" {\n  capabilities = ["update", "sudo"]\n}\n'


def secret_fed_by(generator: Callable[[], Any]) -> Program:
    def run() -> None:
        value = generator()
        vault.kv.SecretV2(
            "app-generated",
            mount="secret",
            name="app",
            data_json=value.result.apply(lambda v: json.dumps({"password": v})),
        )

    return run


CASES: dict[str, Case] = {
    # --- Vault roles --------------------------------------------------------------------------------------
    "vault-role-no-glob-bindings": Case(
        fails=(
            lambda: k8s_role(bound_service_account_names=["app-*"]),
            lambda: k8s_role(bound_service_account_namespaces=["team-*"]),
            lambda: k8s_role(bound_service_account_namespace_selector='{"matchLabels": {"team": "a"}}'),
        ),
        passes=(k8s_role, jwt_role),
    ),
    "vault-role-single-identity": Case(
        fails=(
            lambda: k8s_role(bound_service_account_namespaces=["app", "other"]),
            lambda: k8s_role(bound_service_account_names=["app", "worker"]),
            lambda: jwt_role(bound_subject="app"),
        ),
        passes=(k8s_role, jwt_role),
    ),
    "vault-role-audience-bound": Case(
        fails=(lambda: k8s_role(audience=None), lambda: jwt_role(bound_audiences=None)),
        passes=(k8s_role, jwt_role),
    ),
    "vault-role-alias-uid": Case(
        fails=(
            lambda: k8s_role(alias_name_source="serviceaccount_name"),
            lambda: k8s_role(alias_name_source=None),
            lambda: jwt_role(user_claim="sub", user_claim_json_pointer=None),
        ),
        passes=(k8s_role, jwt_role),
    ),
    "vault-role-token-ttl-cap": Case(
        fails=(lambda: k8s_role(token_ttl=7200), lambda: k8s_role(token_ttl=None)),
        passes=(k8s_role, lambda: jwt_role(token_ttl=3600)),
    ),
    "vault-role-token-max-ttl-cap": Case(
        fails=(
            lambda: k8s_role(token_max_ttl=None),
            lambda: k8s_role(token_max_ttl=7 * 86400),
            lambda: k8s_role(token_period=3600),
            lambda: k8s_role(token_ttl=3600, token_max_ttl=1800),
        ),
        passes=(k8s_role, lambda: k8s_role(token_max_ttl=86400)),
    ),
    "vault-role-no-root-policy": Case(
        fails=(lambda: k8s_role(token_policies=[POLICY_NAME, "root"]),),
        passes=(k8s_role,),
    ),
    # --- Vault policies -------------------------------------------------------------------------------------
    "vault-policy-valid": Case(
        fails=(
            lambda: policy(document='path "secret/data/app" {\n  capabilities = ["reed"]\n}\n'),
            lambda: policy(document='path "secret/data/app" {\n  capabilities = ["read"]\n'),
            lambda: policy(document="# nothing granted\n"),
        ),
        passes=(policy, lambda: policy(document=json.dumps({"path": {"secret/data/app": {"capabilities": ["read"]}}}))),
    ),
    "vault-policy-no-root-glob": Case(
        fails=(
            lambda: policy(document='path "*" {\n  capabilities = ["read"]\n}\n'),
            lambda: policy(document='path "secret/*" {\n  capabilities = ["read"]\n}\n'),
            lambda: policy(document='path "secret/data/*" {\n  capabilities = ["read"]\n}\n'),
            lambda: policy(document='path "+/data/app" {\n  capabilities = ["read"]\n}\n'),
        ),
        passes=(policy, lambda: policy(document='path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n')),
    ),
    "vault-policy-sudo-allow-list": Case(
        fails=(lambda: policy("platform-admin", SUDO_POLICY),),
        passes=(
            policy,
            lambda: policy("platform-admin", 'path "sys/leases/lookup" {\n  capabilities = ["update"]\n}\n'),
        ),
    ),
    "vault-policy-no-privileged-write": Case(
        fails=(
            lambda: policy(document=READ_APP + 'path "sys/policies/acl/*" {\n  capabilities = ["update"]\n}\n'),
            lambda: policy(document='path "sys/audit/file" {\n  capabilities = ["create", "update"]\n}\n'),
            lambda: policy(document='path "auth/kubernetes/role/app-role" {\n  policy = "write"\n}\n'),
            lambda: policy(document='path "identity/+/*" {\n  capabilities = ["delete"]\n}\n'),
            # A repeated stanza: Vault merges both, so the update counts even though pyhcl's top level keeps one.
            lambda: policy(
                document='path "sys/mounts/x" {\n  capabilities = ["update"]\n}\n'
                'path "sys/mounts/x" {\n  capabilities = ["read"]\n}\n'
            ),
        ),
        passes=(
            policy,
            lambda: policy(document=READ_APP + 'path "sys/policies/acl/*" {\n  capabilities = ["read"]\n}\n'),
            lambda: policy("platform-admin", 'path "sys/policies/acl/*" {\n  capabilities = ["update"]\n}\n'),
        ),
    ),
    "vault-policy-templated-paths": Case(
        fails=(
            lambda: policy(document='path "secret/data/{{identity.entity.name}}" {\n  capabilities = ["read"]\n}\n'),
            lambda: policy(
                document='path "secret/data/{{identity.entity.aliases.auth_kubernetes_0a1b.metadata.'
                'service_account_name}}" {\n  capabilities = ["read"]\n}\n'
            ),
            lambda: policy(document=f'path "secret/data/team-{{{{{TEMPLATE}}}}}" {{\n  capabilities = ["read"]\n}}\n'),
        ),
        passes=(
            policy,
            lambda: policy(
                document=f'path "secret/data/{{{{{TEMPLATE}}}}}/config" {{\n  capabilities = ["read"]\n}}\n'
            ),
        ),
    ),
    # --- Vault auth config -----------------------------------------------------------------------------------
    "vault-auth-ca-cert": Case(
        fails=(
            lambda: k8s_auth_config(kubernetes_ca_cert=None),
            lambda: jwt_backend(
                jwt_validation_pubkeys=None, oidc_discovery_url="https://kubernetes.default.svc.cluster.local"
            ),
        ),
        passes=(
            k8s_auth_config,
            lambda: k8s_auth_config(kubernetes_ca_cert=None, disable_local_ca_jwt=False),
            jwt_backend,
            lambda: jwt_backend(
                jwt_validation_pubkeys=None,
                oidc_discovery_url="https://kubernetes.default.svc.cluster.local",
                oidc_discovery_ca_pem=CA_CERT,
            ),
        ),
    ),
    "vault-auth-tls": Case(
        fails=(
            lambda: k8s_auth_config(kubernetes_host="http://kubernetes.example.com:6443"),
            lambda: vault.Provider("vault-insecure", address="https://vault.example.com", skip_tls_verify=True),
            lambda: vault.Provider("vault-http", address="http://vault.example.com:8200"),
            lambda: jwt_backend(jwt_validation_pubkeys=None, oidc_discovery_url="http://issuer.example.com"),
        ),
        passes=(
            k8s_auth_config,
            lambda: vault.Provider("vault-tls", address="https://vault.example.com"),
            lambda: vault.Provider("vault-local", address="http://127.0.0.1:8200"),
        ),
    ),
    "vault-auth-no-long-lived-reviewer-token": Case(
        fails=(
            lambda: k8s_auth_config(token_reviewer_jwt=KNOWN_SECRET),
            lambda: k8s.core.v1.Secret(
                "reviewer-token",
                metadata={"name": "vault-token-reviewer-token", "namespace": "kube-system"},
                type="kubernetes.io/service-account-token",
            ),
        ),
        passes=(k8s_auth_config, lambda: k8s_auth_config(disable_local_ca_jwt=False)),
    ),
    "vault-auth-no-annotation-alias-metadata": Case(
        fails=(lambda: k8s_auth_config(use_annotations_as_alias_metadata=True),),
        passes=(k8s_auth_config,),
    ),
    "vault-jwt-bound-issuer": Case(
        fails=(lambda: jwt_backend(bound_issuer=None),),
        passes=(jwt_backend,),
    ),
    "vault-audit-no-raw-logging": Case(
        fails=(
            lambda: audit(options={"file_path": "/vault/audit/a.log", "log_raw": "true"}),
            lambda: audit(options={"file_path": "/vault/audit/a.log", "hmac_accessor": "false"}),
        ),
        passes=(audit,),
    ),
    # --- stack --------------------------------------------------------------------------------------------------
    "vault-audit-device-present": Case(
        fails=(workload, program(workload, lambda: audit(options={}))),
        passes=(program(workload, audit), program(workload, lambda: audit(type="syslog", options={}))),
    ),
    "vault-audit-devices-redundant": Case(
        fails=(workload, program(workload, audit)),
        passes=(program(workload, audits),),
    ),
    "vault-role-policies-exist": Case(
        fails=(k8s_role, lambda: k8s_role(token_policies=["default", "shared-reader"])),
        passes=(workload, program(policy, lambda: k8s_role(token_policies=["default", POLICY_NAME]))),
    ),
    "vault-role-unique": Case(
        fails=(
            program(workload, lambda: k8s_role("app-role-again", bound_service_account_names=["worker"])),
            program(
                lambda: secret_store("app-secret", "app"),
                lambda: secret_store("other-secret", "other", vault_provider(role=ROLE)),
            ),
            program(
                lambda: secret_store("app-secret", "app"),
                lambda: custom(
                    "other-db",
                    "generators.external-secrets.io/v1alpha1",
                    "VaultDynamicSecret",
                    {"provider": vault_provider(), "path": "database/creds/other"},
                    namespace="other",
                ),
            ),
            program(
                lambda: secret_provider_class("app"),
                lambda: custom(
                    "other-spc",
                    "secrets-store.csi.x-k8s.io/v1",
                    "SecretProviderClass",
                    {"provider": "vault", "parameters": {"roleName": ROLE, "audience": "vault"}},
                    namespace="other",
                ),
            ),
        ),
        passes=(
            program(workload, lambda: k8s_role("app-role-jwt", backend="jwt")),
            program(lambda: secret_store(), lambda: secret_provider_class(), lambda: deployment()),
        ),
    ),
    "vault-role-own-policy": Case(
        fails=(
            program(policy, lambda: policy("workload-other-x"), lambda: k8s_role(token_policies=["workload-other-x"])),
            program(
                policy,
                lambda: policy("workload-app-worker"),
                lambda: k8s_role(token_policies=[POLICY_NAME, "workload-app-worker"]),
            ),
        ),
        passes=(workload, program(policy, jwt_role)),
    ),
    "vault-policy-deny-shadowed": Case(
        fails=(
            program(
                policy,
                lambda: policy("deny-secrets", 'path "secret/data/*" {\n  capabilities = ["deny"]\n}\n'),
            ),
        ),
        passes=(
            program(policy, lambda: policy("deny-app", 'path "secret/data/app" {\n  capabilities = ["deny"]\n}\n')),
            program(
                policy, lambda: policy("deny-other", 'path "secret/data/other/*" {\n  capabilities = ["deny"]\n}\n')
            ),
        ),
    ),
    "secret-fields-are-pulumi-secrets": Case(
        fails=(
            lambda: pulumi.CustomResource(
                "kubernetes:core/v1:Secret", "raw-secret", {"stringData": {"api-key": KNOWN_SECRET}}
            ),
            lambda: pulumi.CustomResource(
                "vault:kv/secretV2:SecretV2",
                "raw-kv",
                {"mount": "secret", "name": "app", "dataJson": json.dumps({"apikey": KNOWN_SECRET})},
            ),
        ),
        passes=(
            lambda: k8s.core.v1.Secret("sdk-secret", string_data={"api-key": KNOWN_SECRET}),
            lambda: vault.kv.SecretV2("sdk-kv", mount="secret", name="app", data_json=json.dumps({"apikey": "x"})),
        ),
    ),
    "generated-secrets-are-pulumi-secrets": Case(
        fails=(secret_fed_by(lambda: random.RandomString("app-password", length=32, special=False)),),
        passes=(
            secret_fed_by(lambda: random.RandomPassword("app-password", length=32)),
            program(lambda: random.RandomString("suffix", length=6), policy),
        ),
    ),
    "no-secret-in-stack-outputs": Case(
        fails=(
            lambda: pulumi.export("apiToken", pulumi.Output.secret(KNOWN_SECRET)),
            program(
                lambda: k8s.core.v1.Secret("app-secret", string_data={"api-key": KNOWN_SECRET}),
                lambda: pulumi.export("settings", {"endpoint": "https://api.example.com", "key": KNOWN_SECRET}),
            ),
        ),
        passes=(
            lambda: pulumi.export("authMount", "kubernetes"),
            program(
                lambda: k8s.core.v1.Secret("app-secret", string_data={"api-key": KNOWN_SECRET}),
                lambda: pulumi.export("roles", {"app": ROLE}),
            ),
        ),
    ),
    # --- External Secrets -------------------------------------------------------------------------------------
    "eso-store-https-ca": Case(
        fails=(
            lambda: secret_store(provider=vault_provider(server="http://vault.example.com:8200")),
            lambda: secret_store(provider=vault_provider(caBundle=None)),
            lambda: cluster_secret_store(
                conditions=[{"namespaces": [NAMESPACE]}], provider=vault_provider(namespace=NAMESPACE, caBundle=None)
            ),
            lambda: vault_dynamic_secret(provider=vault_provider(server="http://vault.example.com:8200")),
        ),
        passes=(
            secret_store,
            vault_dynamic_secret,
            lambda: secret_store(
                provider=vault_provider(caBundle=None, caProvider={"type": "ConfigMap", "name": "ca", "key": "ca.crt"})
            ),
        ),
    ),
    "eso-store-no-static-token": Case(
        fails=(
            lambda: secret_store(provider=vault_provider(auth={"tokenSecretRef": {"name": "vault-token", "key": "t"}})),
            lambda: secret_store(
                provider=vault_provider(
                    auth={"kubernetes": {"mountPath": "kubernetes", "role": ROLE, "secretRef": {"name": "sa-token"}}}
                )
            ),
            lambda: secret_store(
                provider=vault_provider(
                    auth={"appRole": {"path": "approle", "roleId": "x", "secretRef": {"name": "s", "key": "k"}}}
                )
            ),
            lambda: vault_dynamic_secret(provider=vault_provider(auth={"tokenSecretRef": {"name": "t", "key": "t"}})),
        ),
        passes=(
            secret_store,
            vault_dynamic_secret,
            lambda: secret_store(
                provider=vault_provider(
                    auth={
                        "jwt": {
                            "path": "jwt",
                            "role": ROLE,
                            "kubernetesServiceAccountToken": {"serviceAccountRef": {"name": "app"}},
                        }
                    }
                )
            ),
        ),
    ),
    "eso-cluster-store-conditions": Case(
        fails=(
            cluster_secret_store,
            lambda: cluster_secret_store(conditions=[]),
            lambda: cluster_secret_store(conditions=[{"namespaceRegexes": ["app-.*"]}]),
        ),
        passes=(
            lambda: cluster_secret_store(conditions=[{"namespaces": [NAMESPACE]}]),
            lambda: cluster_secret_store(conditions=[{"namespaceSelector": {"matchLabels": {"vault-access": "app"}}}]),
        ),
    ),
    "eso-refresh-interval-bounds": Case(
        fails=(
            lambda: external_secret(refreshInterval="10s"),
            lambda: external_secret(refreshInterval="0"),
            lambda: external_secret(refreshInterval="720h"),
            lambda: external_secret(refreshPolicy="CreatedOnce"),
        ),
        passes=(
            external_secret,
            lambda: external_secret(refreshInterval=None),
            lambda: external_secret(refreshInterval="15m"),
        ),
    ),
    "eso-no-service-account-token-target": Case(
        fails=(
            lambda: external_secret(
                target={"name": "app", "template": {"type": "kubernetes.io/service-account-token"}}
            ),
            lambda: external_secret(
                target={
                    "name": "app",
                    "template": {"metadata": {"annotations": {"kubernetes.io/service-account.name": "default"}}},
                }
            ),
        ),
        passes=(external_secret, lambda: external_secret(target={"name": "app", "template": {"type": "Opaque"}})),
    ),
    "eso-chart-cluster-wide-off": Case(
        fails=(
            lambda: eso_chart({"installCRDs": True}),
            lambda: eso_chart({**ESO_VALUES, "processClusterStore": True}, release=True),
        ),
        passes=(eso_chart, lambda: eso_chart(release=True), lambda: chart("other", "ingress-nginx", {})),
    ),
    "eso-no-legacy-external-secret": Case(
        fails=(
            lambda: custom(
                "legacy",
                "kubernetes-client.io/v1",
                "ExternalSecret",
                {
                    "backendType": "vault",
                    "vaultMountPoint": "kubernetes",
                    "vaultRole": ROLE,
                    "data": [{"key": "secret/data/app", "name": "api-key", "property": "apikey"}],
                },
            ),
        ),
        passes=(external_secret,),
    ),
    # --- CSI ----------------------------------------------------------------------------------------------------
    "csi-no-skip-tls-verify": Case(
        fails=(
            lambda: secret_provider_class(parameters={"vaultSkipTLSVerify": "true"}),
            lambda: secret_provider_class(parameters={"vaultAddress": "http://vault.example.com:8200"}),
        ),
        passes=(secret_provider_class, lambda: secret_provider_class(parameters={"vaultSkipTLSVerify": "false"})),
    ),
    "csi-audience-set": Case(
        fails=(lambda: secret_provider_class(parameters={"audience": None}),),
        passes=(secret_provider_class,),
    ),
    "csi-object-paths-safe": Case(
        fails=(
            lambda: secret_provider_class(parameters={"objects": provider_objects("../../etc/kubernetes/admin.conf")}),
            lambda: secret_provider_class(parameters={"objects": provider_objects("/etc/passwd")}),
            lambda: secret_provider_class(
                secretObjects=[
                    {"secretName": "app", "type": "Opaque", "data": [{"objectName": "a/../../b", "key": "b"}]}
                ]
            ),
        ),
        passes=(
            secret_provider_class,
            lambda: secret_provider_class(parameters={"objects": provider_objects("a", "b.txt")}),
        ),
    ),
    "csi-sync-secret-allowed": Case(
        fails=(
            lambda: secret_provider_class(
                secretObjects=[{"secretName": "app", "type": "Opaque", "data": [{"objectName": "api-key", "key": "k"}]}]
            ),
            lambda: csi_chart({**CSI_VALUES, "syncSecret": {"enabled": True}}),
        ),
        passes=(secret_provider_class, csi_chart),
    ),
    "csi-rotation-enabled": Case(
        fails=(
            lambda: csi_chart({"logVerbosity": 0}),
            lambda: csi_chart({**CSI_VALUES, "enableSecretRotation": False}),
        ),
        passes=(csi_chart, lambda: csi_chart(release=True)),
    ),
    "csi-driver-log-verbosity": Case(
        fails=(
            lambda: csi_chart({**CSI_VALUES, "logVerbosity": 2}),
            lambda: csi_chart({**CSI_VALUES, "logVerbosity": 5}, release=True),
        ),
        passes=(csi_chart, lambda: csi_chart({**CSI_VALUES, "logVerbosity": 1})),
    ),
    # --- Kubernetes workloads -------------------------------------------------------------------------------------
    "k8s-secrets-as-files": Case(
        fails=(
            lambda: deployment(
                spec=pod_spec(
                    containers=[
                        container(env=[{"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "app", "key": "k"}}}])
                    ]
                )
            ),
            lambda: cron_job(spec=pod_spec(containers=[container(envFrom=[{"secretRef": {"name": "app"}}])])),
            lambda: k8s.core.v1.Pod(
                "debug",
                metadata={"namespace": NAMESPACE},
                spec=pod_spec(initContainers=[container(envFrom=[{"secretRef": {"name": "app"}}])]),
            ),
        ),
        passes=(deployment, cron_job),
    ),
    "k8s-no-automount-sa-token": Case(
        fails=(
            lambda: deployment(spec=pod_spec(automountServiceAccountToken=None)),
            lambda: k8s.core.v1.ServiceAccount("app-sa", metadata={"name": "app", "namespace": NAMESPACE}),
        ),
        passes=(
            deployment,
            lambda: deployment(
                spec=pod_spec(automountServiceAccountToken=True),
                annotations={"vault.hashicorp.com/agent-inject": "true", "vault.hashicorp.com/role": ROLE},
            ),
            lambda: k8s.core.v1.ServiceAccount(
                "app-sa", metadata={"name": "app", "namespace": NAMESPACE}, automount_service_account_token=False
            ),
        ),
    ),
    "k8s-secret-no-literal-data": Case(
        fails=(
            lambda: k8s.core.v1.Secret(
                "app-creds", metadata={"name": "app-creds", "namespace": NAMESPACE}, string_data={"pw": KNOWN_SECRET}
            ),
        ),
        passes=(
            lambda: k8s.core.v1.Secret(
                "reviewer-token",
                metadata={"name": "reviewer-token", "namespace": "kube-system"},
                type="kubernetes.io/service-account-token",
            ),
        ),
    ),
    "k8s-no-plaintext-credentials": Case(
        fails=(
            lambda: k8s.core.v1.ConfigMap("app-config", data={"LOG_LEVEL": "info", "DB_PASSWORD": KNOWN_SECRET}),
            lambda: k8s.core.v1.ConfigMap(
                "app-url", data={"DATABASE_URL": f"postgres://app:{KNOWN_SECRET}@db:5432/app"}
            ),
            lambda: deployment(
                spec=pod_spec(containers=[container(env=[{"name": "API_TOKEN", "value": KNOWN_SECRET}])])
            ),
        ),
        passes=(
            lambda: k8s.core.v1.ConfigMap(
                "app-config",
                data={"LOG_LEVEL": "info", "DB_PASSWORD_FILE": "/vault/secrets/db", "TOKEN_TTL": "15m"},
            ),
            deployment,
        ),
    ),
    "k8s-vault-agent-tls": Case(
        fails=(
            lambda: deployment(
                spec=pod_spec(automountServiceAccountToken=True),
                annotations={"vault.hashicorp.com/agent-inject": "true", "vault.hashicorp.com/tls-skip-verify": "true"},
            ),
            lambda: deployment(
                annotations={
                    "vault.hashicorp.com/agent-inject": "true",
                    "vault.hashicorp.com/service": "http://vault:8200",
                }
            ),
        ),
        passes=(
            lambda: deployment(
                spec=pod_spec(automountServiceAccountToken=True),
                annotations={"vault.hashicorp.com/agent-inject": "true", "vault.hashicorp.com/role": ROLE},
            ),
        ),
    ),
    "k8s-chart-version-pinned": Case(
        fails=(
            lambda: chart("eso", "external-secrets", ESO_VALUES, version="^2.9.0"),
            lambda: chart("x", "x", {}, version=""),
        ),
        passes=(eso_chart, lambda: chart("x", "x", {}, version="1.2.3", release=True)),
    ),
}
