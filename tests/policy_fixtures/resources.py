"""Compliant resources for the policy fixtures; each builder takes overrides that break (or keep) one rule.

An override of ``None`` drops the argument. The defaults describe one workload ``app`` in namespace
``app``: its policy, its kubernetes (or jwt) role, its SecretStore / ExternalSecret and
SecretProviderClass, and a Deployment that reads its secrets as files.
"""

from __future__ import annotations

import base64
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_vault as vault
import yaml

NAMESPACE = "app"
ACCOUNT = "app"
ROLE = "app-role"
POLICY_NAME = "workload-app-app"
VAULT_ADDRESS = "https://vault.example.com"
AUDIENCE = "vault"
UID_CLAIM = "/kubernetes.io/serviceaccount/uid"
# Example PEM blocks (not real keys): the rules only check presence.
CA_CERT = "-----BEGIN CERTIFICATE-----\nMIIBexampleexampleexample\n-----END CERTIFICATE-----\n"
PUBKEY = "-----BEGIN PUBLIC KEY-----\nMFkwexampleexampleexample\n-----END PUBLIC KEY-----\n"
# A value that stands for a secret: no violation message may ever contain it.
KNOWN_SECRET = "Fixture-S3cret-Value-9f8e7d"

READ_APP = 'path "secret/data/app" {\n  capabilities = ["read"]\n}\n'


def _args(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = {**defaults, **overrides}
    return {k: v for k, v in merged.items() if v is not None}


# --- Vault -----------------------------------------------------------------------------------------------


def k8s_role(name: str = "app-role", **overrides: Any) -> vault.kubernetes.AuthBackendRole:
    return vault.kubernetes.AuthBackendRole(
        name,
        **_args(
            {
                "backend": "kubernetes",
                "role_name": ROLE,
                "bound_service_account_names": [ACCOUNT],
                "bound_service_account_namespaces": [NAMESPACE],
                "audience": AUDIENCE,
                "alias_name_source": "serviceaccount_uid",
                "token_policies": [POLICY_NAME],
                "token_ttl": 900,
                "token_max_ttl": 3600,
                "token_type": "service",
            },
            overrides,
        ),
    )


def jwt_role(name: str = "app-jwt-role", **overrides: Any) -> vault.jwt.AuthBackendRole:
    return vault.jwt.AuthBackendRole(
        name,
        **_args(
            {
                "backend": "jwt",
                "role_name": ROLE,
                "role_type": "jwt",
                "bound_subject": f"system:serviceaccount:{NAMESPACE}:{ACCOUNT}",
                "bound_audiences": [AUDIENCE],
                "user_claim": UID_CLAIM,
                "user_claim_json_pointer": True,
                "token_policies": [POLICY_NAME],
                "token_ttl": 900,
                "token_max_ttl": 3600,
                "token_type": "service",
            },
            overrides,
        ),
    )


def policy(name: str = POLICY_NAME, document: str = READ_APP, resource_name: str | None = None) -> vault.Policy:
    return vault.Policy(resource_name or name, name=name, policy=document)


def workload(**role_overrides: Any) -> None:
    """One workload's Vault identity: its policy and its kubernetes role."""
    policy()
    k8s_role(**role_overrides)


def k8s_auth_config(name: str = "auth-config", **overrides: Any) -> vault.kubernetes.AuthBackendConfig:
    return vault.kubernetes.AuthBackendConfig(
        name,
        **_args(
            {
                "backend": "kubernetes",
                "kubernetes_host": "https://kubernetes.example.com:6443",
                "kubernetes_ca_cert": CA_CERT,
                "disable_local_ca_jwt": True,
            },
            overrides,
        ),
    )


def jwt_backend(name: str = "jwt-auth", **overrides: Any) -> vault.jwt.AuthBackend:
    return vault.jwt.AuthBackend(
        name,
        **_args(
            {
                "path": "jwt",
                "type": "jwt",
                "bound_issuer": "https://kubernetes.default.svc.cluster.local",
                "jwt_validation_pubkeys": [PUBKEY],
            },
            overrides,
        ),
    )


def audit(name: str = "audit-file", **overrides: Any) -> vault.Audit:
    return vault.Audit(
        name,
        **_args({"type": "file", "path": name, "options": {"file_path": f"/vault/audit/{name}.log"}}, overrides),
    )


def audits() -> None:
    audit("audit-file")
    audit("audit-socket", type="socket", options={"address": "audit.example.com:9090", "socket_type": "tcp"})


# --- Kubernetes custom resources ----------------------------------------------------------------------------


def custom(
    name: str, api_version: str, kind: str, spec: dict[str, Any], namespace: str | None = NAMESPACE
) -> k8s.apiextensions.CustomResource:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return k8s.apiextensions.CustomResource(name, api_version=api_version, kind=kind, metadata=metadata, spec=spec)


def vault_provider(role: str = ROLE, namespace: str | None = None, **overrides: Any) -> dict[str, Any]:
    """``spec.provider.vault`` of a SecretStore logging in as the workload's service account."""
    ref: dict[str, Any] = {"name": ACCOUNT, "audiences": [AUDIENCE]}
    if namespace is not None:
        ref["namespace"] = namespace
    return _args(
        {
            "server": VAULT_ADDRESS,
            "path": "secret",
            "version": "v2",
            "caBundle": base64.b64encode(CA_CERT.encode()).decode(),
            "auth": {"kubernetes": {"mountPath": "kubernetes", "role": role, "serviceAccountRef": ref}},
        },
        overrides,
    )


def secret_store(
    name: str = "app-secret", namespace: str = NAMESPACE, provider: dict[str, Any] | None = None
) -> k8s.apiextensions.CustomResource:
    return custom(
        name,
        "external-secrets.io/v1",
        "SecretStore",
        {"provider": {"vault": provider or vault_provider()}},
        namespace=namespace,
    )


def cluster_secret_store(
    name: str = "shared", conditions: list[dict[str, Any]] | None = None, provider: dict[str, Any] | None = None
) -> k8s.apiextensions.CustomResource:
    spec: dict[str, Any] = {"provider": {"vault": provider or vault_provider(namespace=NAMESPACE)}}
    if conditions is not None:
        spec["conditions"] = conditions
    return custom(name, "external-secrets.io/v1", "ClusterSecretStore", spec, namespace=None)


def vault_dynamic_secret(name: str = "app-db", provider: dict[str, Any] | None = None) -> Any:
    """An External Secrets generator that reads dynamic database credentials as the workload."""
    spec = {"provider": provider or vault_provider(), "method": "GET", "path": "database/creds/app"}
    return custom(name, "generators.external-secrets.io/v1alpha1", "VaultDynamicSecret", spec)


def external_secret(name: str = "app", **spec_overrides: Any) -> k8s.apiextensions.CustomResource:
    spec = _args(
        {
            "refreshInterval": "1h",
            "secretStoreRef": {"name": "app-secret", "kind": "SecretStore"},
            "target": {"name": "app", "creationPolicy": "Owner"},
            "data": [{"secretKey": "api-key", "remoteRef": {"key": "app", "property": "apikey"}}],
        },
        spec_overrides,
    )
    return custom(name, "external-secrets.io/v1", "ExternalSecret", spec)


def cluster_external_secret(name: str = "app-everywhere", **spec: Any) -> k8s.apiextensions.CustomResource:
    body = {
        "externalSecretName": "app",
        "externalSecretSpec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"name": "shared", "kind": "ClusterSecretStore"},
            "target": {"name": "app", "creationPolicy": "Owner"},
            "data": [{"secretKey": "api-key", "remoteRef": {"key": "app", "property": "apikey"}}],
        },
        **spec,
    }
    return custom(name, "external-secrets.io/v1", "ClusterExternalSecret", body, namespace=None)


def provider_objects(*names: str) -> str:
    return yaml.safe_dump(
        [{"objectName": n, "secretPath": "secret/data/app", "secretKey": "apikey"} for n in names or ("api-key",)]
    )


def secret_provider_class(
    name: str = "app", parameters: dict[str, Any] | None = None, **spec_overrides: Any
) -> k8s.apiextensions.CustomResource:
    params = _args(
        {
            "vaultAddress": VAULT_ADDRESS,
            "roleName": ROLE,
            "vaultAuthMountPath": "kubernetes",
            "audience": AUDIENCE,
            "objects": provider_objects(),
        },
        parameters or {},
    )
    spec = _args({"provider": "vault", "parameters": params}, spec_overrides)
    return custom(name, "secrets-store.csi.x-k8s.io/v1", "SecretProviderClass", spec)


# The Vault Secrets Operator's objects of workload `app`, as components/vault_secrets_operator.py builds them.
VSO_API = "secrets.hashicorp.com/v1beta1"
VSO_AUTH = "app-vault"


def vso_connection(name: str = VSO_AUTH, **spec_overrides: Any) -> k8s.apiextensions.CustomResource:
    spec = _args({"address": VAULT_ADDRESS, "skipTLSVerify": False, "caCertSecretRef": "app-vault-ca"}, spec_overrides)
    return custom(name, VSO_API, "VaultConnection", spec)


def vso_auth(
    name: str = VSO_AUTH, method: str = "kubernetes", login: dict[str, Any] | None = None, **spec_overrides: Any
) -> k8s.apiextensions.CustomResource:
    block = _args(
        {"role": ROLE, "serviceAccount": ACCOUNT, "audiences": [AUDIENCE], "tokenExpirationSeconds": 600},
        login or {},
    )
    spec = _args({"vaultConnectionRef": VSO_AUTH, "method": method, "mount": method, method: block}, spec_overrides)
    return custom(name, VSO_API, "VaultAuth", spec)


def vso_static_secret(name: str = "app", **spec_overrides: Any) -> k8s.apiextensions.CustomResource:
    spec = _args(
        {
            "vaultAuthRef": VSO_AUTH,
            "type": "kv-v2",
            "mount": "secret",
            "path": "app",
            "refreshAfter": "5m",
            "destination": {
                "name": name,
                "create": True,
                "transformation": {
                    "templates": {"api-key": {"text": '{{ get .Secrets "apikey" }}'}},
                    "excludes": [".*"],
                    "excludeRaw": True,
                },
            },
            "rolloutRestartTargets": [{"kind": "Deployment", "name": "app"}],
        },
        spec_overrides,
    )
    return custom(name, VSO_API, "VaultStaticSecret", spec)


def vso_dynamic_secret(name: str = "app-db", **spec_overrides: Any) -> k8s.apiextensions.CustomResource:
    spec = _args(
        {
            "vaultAuthRef": VSO_AUTH,
            "mount": "database",
            "path": "creds/app",
            "revoke": True,
            "renewalPercent": 67,
            "destination": {"name": name, "create": True},
        },
        spec_overrides,
    )
    return custom(name, VSO_API, "VaultDynamicSecret", spec)


def ca_secret(name: str = "app-vault-ca", **overrides: Any) -> k8s.core.v1.Secret:
    return k8s.core.v1.Secret(
        name,
        **_args(
            {"metadata": {"name": name, "namespace": NAMESPACE}, "type": "Opaque", "string_data": {"ca.crt": CA_CERT}},
            overrides,
        ),
    )


# --- charts -------------------------------------------------------------------------------------------------

ESO_VALUES = {
    "installCRDs": True,
    "crds": {
        "createClusterExternalSecret": False,
        "createClusterSecretStore": False,
        "createClusterGenerator": False,
        "createClusterPushSecret": False,
        "createPushSecret": False,
    },
    "processClusterExternalSecret": False,
    "processClusterStore": False,
    "processClusterGenerator": False,
    "processClusterPushSecret": False,
    "processPushSecret": False,
}
CSI_VALUES = {
    "enableSecretRotation": True,
    "rotationPollInterval": "2m",
    "syncSecret": {"enabled": False},
    "logVerbosity": 0,
}


def chart(
    name: str, chart_name: str, values: dict[str, Any], version: str = "1.0.0", release: bool = False
) -> pulumi.Resource:
    if release:
        return k8s.helm.v3.Release(name, chart=chart_name, version=version, values=values, namespace="kube-system")
    return k8s.helm.v4.Chart(name, chart=chart_name, version=version, values=values, namespace="kube-system")


# The components' own vault-secrets-operator chart values (components/vault_secrets_operator.operator_values).
VSO_VALUES = {
    "defaultVaultConnection": {"enabled": False},
    "defaultAuthMethod": {"enabled": False},
    "controller": {"manager": {"globalTransformationOptions": {"excludeRaw": True}}},
}


def vso_chart(values: dict[str, Any] | None = None, release: bool = False) -> pulumi.Resource:
    return chart("vso", "vault-secrets-operator", VSO_VALUES if values is None else values, "1.4.1", release)


def eso_chart(values: dict[str, Any] | None = None, release: bool = False) -> pulumi.Resource:
    return chart("eso", "external-secrets", ESO_VALUES if values is None else values, "2.9.0", release)


def csi_chart(values: dict[str, Any] | None = None, release: bool = False) -> pulumi.Resource:
    return chart("csi-driver", "secrets-store-csi-driver", CSI_VALUES if values is None else values, "1.6.0", release)


# --- workloads ----------------------------------------------------------------------------------------------


def pod_spec(**overrides: Any) -> dict[str, Any]:
    """A pod that reads its secrets from a CSI volume, with no service-account token mounted."""
    return _args(
        {
            "serviceAccountName": ACCOUNT,
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example.com/app:1.0.0",
                    "env": [{"name": "API_KEY_FILE", "value": "/mnt/secrets/api-key"}],
                    "volumeMounts": [{"name": "secrets", "mountPath": "/mnt/secrets", "readOnly": True}],
                }
            ],
            "volumes": [
                {
                    "name": "secrets",
                    "csi": {
                        "driver": "secrets-store.csi.k8s.io",
                        "readOnly": True,
                        "volumeAttributes": {"secretProviderClass": "app"},
                    },
                }
            ],
        },
        overrides,
    )


def container(**overrides: Any) -> dict[str, Any]:
    return _args({"name": "app", "image": "registry.example.com/app:1.0.0"}, overrides)


def deployment(
    name: str = "app", spec: dict[str, Any] | None = None, annotations: dict[str, str] | None = None
) -> k8s.apps.v1.Deployment:
    template: dict[str, Any] = {"metadata": {"labels": {"app": name}}, "spec": spec or pod_spec()}
    if annotations:
        template["metadata"]["annotations"] = annotations
    return k8s.apps.v1.Deployment(
        name,
        metadata={"name": name, "namespace": NAMESPACE},
        spec={"selector": {"matchLabels": {"app": name}}, "template": template},
    )


def cron_job(name: str = "nightly", spec: dict[str, Any] | None = None) -> k8s.batch.v1.CronJob:
    return k8s.batch.v1.CronJob(
        name,
        metadata={"name": name, "namespace": NAMESPACE},
        spec={
            "schedule": "0 3 * * *",
            "jobTemplate": {"spec": {"template": {"spec": spec or pod_spec(restartPolicy="OnFailure")}}},
        },
    )


def vault_chart(values: dict[str, Any], name: str = "vault", chart_ref: str = "vault") -> pulumi.Resource:
    return chart(name, chart_ref, values, "0.34.1")


# The components' own vault chart values (an external Vault, one client each), as the stack installs them.
INJECTOR_VALUES = {
    "global": {"externalVaultAddr": VAULT_ADDRESS},
    "server": {"enabled": False},
    "csi": {"enabled": False},
    "injector": {"enabled": True, "authPath": "auth/kubernetes"},
}
CSI_PROVIDER_VALUES = {
    "global": {"externalVaultAddr": VAULT_ADDRESS},
    "server": {"enabled": False},
    "injector": {"enabled": False},
    "csi": {"enabled": True},
}


def values_file(values: dict[str, Any]) -> pulumi.StringAsset:
    return pulumi.StringAsset(yaml.safe_dump(values))


def chart_with_files(
    name: str, chart_ref: str, files: list[pulumi.Asset], values: dict[str, Any] | None = None
) -> k8s.helm.v4.Chart:
    return k8s.helm.v4.Chart(
        name, chart=chart_ref, version="1.0.0", values=values or {}, value_yaml_files=files, namespace="kube-system"
    )


# --- database secrets ---------------------------------------------------------------------------------------

CREATE_READER = [
    "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
    'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";',
]
REVOKE_READER = ['REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{{name}}";', 'DROP ROLE IF EXISTS "{{name}}";']
DB_URL = "postgresql://{{username}}:{{password}}@db.app.svc:5432/app?sslmode=verify-full"


def db_role(name: str = "app-read", **overrides: Any) -> vault.database.SecretBackendRole:
    return vault.database.SecretBackendRole(
        name,
        **_args(
            {
                "backend": "database",
                "name": name,
                "db_name": "app",
                "creation_statements": CREATE_READER,
                "revocation_statements": REVOKE_READER,
                "default_ttl": 3600,
                "max_ttl": 8 * 3600,
            },
            overrides,
        ),
    )


def db_static_role(name: str = "app-report", **overrides: Any) -> vault.database.SecretBackendStaticRole:
    return vault.database.SecretBackendStaticRole(
        name,
        **_args(
            {"backend": "database", "name": name, "db_name": "app", "username": "report", "rotation_period": 86400},
            overrides,
        ),
    )


def db_connection(
    name: str = "app", plugin: str = "postgresql", url: str = DB_URL, **block: Any
) -> vault.database.SecretBackendConnection:
    settings = {"connection_url": url, "username": "vault-admin", "password": pulumi.Output.secret(KNOWN_SECRET)}
    return vault.database.SecretBackendConnection(
        name, backend="database", name=name, allowed_roles=["app-read"], **{plugin: {**settings, **block}}
    )
