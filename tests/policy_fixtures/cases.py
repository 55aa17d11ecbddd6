"""For every rule of the pack: programs that fail it and programs that pass it.

Each program registers raw pulumi_vault / pulumi_kubernetes / pulumi_random resources (custom
resources for the CRD kinds) under the mock engine. A failing program breaks the rule in one
way; a passing one is the compliant shape the components are expected to register.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_vault as vault

from .resources import (
    ACCOUNT,
    AUDIENCE,
    CA_CERT,
    CREATE_READER,
    CSI_PROVIDER_VALUES,
    CSI_VALUES,
    ESO_VALUES,
    INJECTOR_VALUES,
    KNOWN_SECRET,
    NAMESPACE,
    POLICY_NAME,
    READ_APP,
    ROLE,
    VAULT_ADDRESS,
    VSO_API,
    VSO_VALUES,
    audit,
    audits,
    ca_secret,
    chart,
    chart_with_files,
    cluster_external_secret,
    cluster_secret_store,
    container,
    cron_job,
    csi_chart,
    custom,
    db_connection,
    db_role,
    db_static_role,
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
    values_file,
    vault_chart,
    vault_dynamic_secret,
    vault_provider,
    vso_auth,
    vso_chart,
    vso_connection,
    vso_dynamic_secret,
    vso_static_secret,
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
API_SERVER = "https://kubernetes.default.svc.cluster.local"


def hcl(path: str, *capabilities: str) -> str:
    caps = ", ".join(f'"{c}"' for c in capabilities)
    return f'path "{path}" {{\n  capabilities = [{caps}]\n}}\n'


READ_CREDS = hcl("database/creds/app", "read")


def revoke_leases(parameters: str, *capabilities: str) -> str:
    """A ``sys/leases/revoke`` stanza with ``allowed_parameters`` (``update``, or ``capabilities``)."""
    caps = ", ".join(f'"{c}"' for c in capabilities or ("update",))
    return (
        f'path "sys/leases/revoke" {{\n  capabilities = [{caps}]\n'
        f"  allowed_parameters = {{\n    {parameters}\n  }}\n}}\n"
    )


def widget(kind: str, api_version: str, spec: dict[str, Any]) -> Program:
    """A workload of another kind: a patch kind or a custom kind with a pod template."""
    return lambda: custom(f"{kind.lower()}-app", api_version, kind, spec)


def with_template(pod: dict[str, Any]) -> dict[str, Any]:
    return {
        "selector": {"matchLabels": {"app": "app"}},
        "template": {"metadata": {"labels": {"app": "app"}}, "spec": pod},
    }


def projected(expiration: int | None) -> dict[str, Any]:
    token: dict[str, Any] = {"audience": "vault", "path": "token"}
    if expiration is not None:
        token["expirationSeconds"] = expiration
    return {"name": "vault-token", "projected": {"sources": [{"serviceAccountToken": token}]}}


PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEexampleexample\n-----END PRIVATE KEY-----\n"


def default_connection(**overrides: Any) -> dict[str, Any]:
    """The vault-secrets-operator chart's `defaultVaultConnection`, on, verified and pinned unless overridden."""
    values = {"enabled": True, "address": VAULT_ADDRESS, "caCertSecret": "vault-ca", "skipTLSVerify": False}
    return {k: v for k, v in {**values, **overrides}.items() if v is not None}


def default_auth(**kubernetes: Any) -> dict[str, Any]:
    """The chart's `defaultAuthMethod`, on, with its kubernetes login as the workload's (overrides: the login)."""
    login = {"role": ROLE, "serviceAccount": ACCOUNT, "tokenAudiences": [AUDIENCE], **kubernetes}
    return {"enabled": True, "kubernetes": {k: v for k, v in login.items() if v is not None}}


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
    "vault-role-not-default-service-account": Case(
        fails=(
            lambda: k8s_role(bound_service_account_names=["default"]),
            lambda: jwt_role(bound_subject=f"system:serviceaccount:{NAMESPACE}:default"),
        ),
        passes=(k8s_role, jwt_role),
    ),
    "vault-role-audience-bound": Case(
        fails=(
            lambda: k8s_role(audience=None),
            lambda: jwt_role(bound_audiences=None),
            lambda: k8s_role(audience=API_SERVER),
            lambda: jwt_role(bound_audiences=["kubernetes.default.svc"]),
        ),
        passes=(k8s_role, jwt_role, lambda: jwt_role(bound_audiences=["vault", API_SERVER])),
    ),
    "vault-role-alias-uid": Case(
        fails=(
            lambda: k8s_role(alias_name_source="serviceaccount_name"),
            lambda: jwt_role(user_claim="sub", user_claim_json_pointer=None),
        ),
        # Vault's default alias_name_source is serviceaccount_uid.
        passes=(k8s_role, jwt_role, lambda: k8s_role(alias_name_source=None)),
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
        fails=(lambda: k8s_role(token_policies=[POLICY_NAME, "root"]), lambda: k8s_role(token_policies=[" Root"])),
        passes=(k8s_role,),
    ),
    # --- Vault policies -------------------------------------------------------------------------------------
    "vault-policy-valid": Case(
        fails=(
            lambda: policy(document='path "secret/data/app" {\n  capabilities = ["reed"]\n}\n'),
            lambda: policy(document='path "secret/data/app" {\n  capabilities = ["read"]\n'),
            lambda: policy(document="# nothing granted\n"),
            lambda: policy(document=hcl("secret/data/+*", "read")),
        ),
        passes=(policy, lambda: policy(document=json.dumps({"path": {"secret/data/app": {"capabilities": ["read"]}}}))),
    ),
    "vault-policy-no-root-glob": Case(
        fails=(
            lambda: policy(document='path "*" {\n  capabilities = ["read"]\n}\n'),
            lambda: policy(document='path "secret/*" {\n  capabilities = ["read"]\n}\n'),
            lambda: policy(document='path "secret/data/*" {\n  capabilities = ["read"]\n}\n'),
            lambda: policy(document='path "+/data/app" {\n  capabilities = ["read"]\n}\n'),
            lambda: policy(document=hcl("secret/data/+/config", "read")),
            lambda: policy(document=hcl("database/creds/*", "read")),
            lambda: policy(document=hcl("secret/+/*", "read")),
            lambda: policy(document=hcl("secret/data*", "read")),
            lambda: policy(document=hcl("secret/data/app*", "read")),
            lambda: policy(document=hcl("/secret/*", "read")),
            lambda: policy(document=hcl("team/kv/data/*", "read")),
        ),
        passes=(
            policy,
            lambda: policy(document=hcl("secret/data/app/*", "read")),
            lambda: policy(document=hcl("secret/data/app/+/config", "read")),
            lambda: policy(document=hcl("database/creds/app-read", "read")),
            lambda: policy(document=READ_APP + hcl("cubbyhole/*", "create", "read", "update", "delete", "list")),
            lambda: policy(document=hcl("secret/*", "deny")),
        ),
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
            # A team's own policy name is no exemption: what it grants decides.
            lambda: policy("team-deployer", hcl("sys/policies/acl/*", "update")),
            lambda: policy("ops", hcl("identity/entity/*", "create", "update")),
            # Vault strips the leading '/'.
            lambda: policy(document=hcl("/sys/audit/file", "update")),
            lambda: policy("ci", hcl("auth/token/create", "update")),
            # Revoking leases: any lease, leases of a role the policy does not read, or with other parameters.
            lambda: policy(document=READ_CREDS + hcl("sys/leases/revoke", "update")),
            lambda: policy(document=READ_CREDS + revoke_leases('"lease_id" = ["database/creds/admin/*"]')),
            lambda: policy(document=READ_CREDS + revoke_leases('"lease_id" = ["database/*"]')),
            lambda: policy(document=READ_CREDS + revoke_leases('"lease_id" = []')),
            lambda: policy(
                document=READ_CREDS + revoke_leases('"lease_id" = ["database/creds/app/*"]\n    "sync" = []')
            ),
            lambda: policy(document=READ_CREDS + revoke_leases('"lease_id" = ["database/creds/app/*"]', "sudo")),
            lambda: policy(
                document=READ_CREDS
                + revoke_leases('"lease_id" = ["database/creds/app/*"]')
                + hcl("sys/leases/revoke", "update")  # Vault merges the stanzas: any lease
            ),
        ),
        passes=(
            policy,
            lambda: policy(document=READ_APP + 'path "sys/policies/acl/*" {\n  capabilities = ["read"]\n}\n'),
            # The Vault Secrets Operator revoking, as the workload, the leases of the role the workload reads.
            lambda: policy(document=READ_CREDS + revoke_leases('"lease_id" = ["database/creds/app/*"]')),
            # The default policy grants these to every token anyway.
            lambda: policy(
                document=READ_APP
                + hcl("auth/token/renew-self", "update")
                + hcl("sys/leases/renew", "update", "create")
                + hcl("auth/token/lookup-self", "read")
            ),
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
            lambda: vault.Provider("vault-t", address="https://vault.example.com", skip_tls_verify="t"),  # type: ignore[arg-type]
        ),
        passes=(
            k8s_auth_config,
            lambda: vault.Provider("vault-tls", address="https://vault.example.com"),
            lambda: vault.Provider("vault-local", address="http://127.0.0.1:8200"),
            # An address Go cannot parse either: nothing is sent (and nothing crashes).
            lambda: vault.Provider("vault-v6", address="https://[fd00::1:8200"),
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
            lambda: audit(options={"file_path": "/vault/audit/a.log", "log_raw": "t"}),
            lambda: audit(options={"file_path": "/vault/audit/a.log", "hmac_accessor": "F"}),
        ),
        passes=(
            audit,
            lambda: audit(options={"file_path": "/vault/audit/a.log", "log_raw": "f", "hmac_accessor": "1"}),
        ),
    ),
    "vault-audit-no-discard": Case(
        fails=(lambda: audit(options={"file_path": "discard"}), lambda: audit(options={"path": "discard"})),
        passes=(audit, lambda: audit(options={"file_path": "stdout"})),
    ),
    "vault-audit-header-hmac": Case(
        fails=(
            lambda: vault.AuditRequestHeader("authz", name="Authorization", hmac=False),
            lambda: vault.AuditRequestHeader("vault-token", name="X-Vault-Token"),
            lambda: vault.AuditRequestHeader("api-key", name="X-Api-Key", hmac=False),
        ),
        passes=(
            lambda: vault.AuditRequestHeader("authz", name="Authorization", hmac=True),
            lambda: vault.AuditRequestHeader("forwarded", name="X-Forwarded-For", hmac=False),
        ),
    ),
    "vault-endpoint-no-config-write": Case(
        fails=(
            lambda: vault.generic.Endpoint(
                "acl", path="sys/policies/acl/ops", data_json=json.dumps({"policy": hcl("*", "sudo")})
            ),
            lambda: vault.generic.Endpoint("audit", path="/sys/audit/off", data_json=json.dumps({"type": "file"})),
            lambda: vault.generic.Endpoint(
                "auth", path="sys/auth/userpass", data_json=json.dumps({"type": "userpass"})
            ),
            lambda: vault.generic.Endpoint(
                "role", path="auth/kubernetes/role/all", data_json=json.dumps({"bound_service_account_names": "*"})
            ),
        ),
        passes=(
            lambda: vault.generic.Endpoint(
                "rotate", path="database/rotate-root/app", data_json="{}", disable_read=True, disable_delete=True
            ),
        ),
    ),
    "vault-provider-credentials": Case(
        fails=(
            lambda: vault.Provider("vault-token", address="https://vault.example.com", token="hvs." + "x" * 24),
            lambda: vault.Provider(
                "vault-userpass",
                address="https://vault.example.com",
                auth_login_userpass={"username": "ci", "password": KNOWN_SECRET},
            ),
        ),
        passes=(
            lambda: vault.Provider("vault-env", address="https://vault.example.com"),
            lambda: vault.Provider(
                "vault-secret",
                address="https://vault.example.com",
                token=pulumi.Output.secret(KNOWN_SECRET),
                opts=pulumi.ResourceOptions(additional_secret_outputs=["token"]),
            ),
            lambda: vault.Provider(
                "vault-file", address="https://vault.example.com", auth_login_token_file={"filename": "/run/token"}
            ),
        ),
    ),
    # --- database secrets ---------------------------------------------------------------------------------------
    "vault-database-role-revocation": Case(
        fails=(lambda: db_role(revocation_statements=None), lambda: db_role(revocation_statements=[" "])),
        passes=(db_role,),
    ),
    "vault-database-credential-lifetime": Case(
        fails=(
            lambda: db_role(default_ttl=None),
            lambda: db_role(max_ttl=30 * 86400),
            lambda: db_role(default_ttl=0, max_ttl=0),
            lambda: db_static_role(rotation_period=90 * 86400),
        ),
        passes=(db_role, db_static_role),
    ),
    "vault-database-role-no-superuser": Case(
        fails=(
            lambda: db_role(
                creation_statements=["CREATE ROLE \"{{name}}\" WITH LOGIN SUPERUSER PASSWORD '{{password}}';"]
            ),
            lambda: db_role(creation_statements=["GRANT ALL PRIVILEGES ON *.* TO '{{name}}'@'%';"]),
            lambda: db_role(creation_statements=[*CREATE_READER, 'ALTER ROLE "{{name}}" CREATEROLE;']),
            lambda: db_role(creation_statements=[*CREATE_READER, 'GRANT rds_superuser TO "{{name}}";']),
        ),
        passes=(
            db_role,
            lambda: db_role(
                creation_statements=["CREATE ROLE \"{{name}}\" WITH LOGIN NOSUPERUSER PASSWORD '{{password}}';"]
            ),
            # A quoted word is not a privilege.
            lambda: db_role(creation_statements=["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD 'superuser';"]),
        ),
    ),
    "vault-database-connection-tls": Case(
        fails=(
            lambda: db_connection(url="postgresql://{{username}}:{{password}}@db:5432/app?sslmode=disable"),
            lambda: db_connection(url="postgresql://{{username}}:{{password}}@db:5432/app"),
            lambda: db_connection(url="host=db user={{username}} password={{password}} sslmode=prefer"),
            lambda: db_connection(plugin="mysql", url="{{username}}:{{password}}@tcp(db:3306)/"),
        ),
        passes=(
            db_connection,
            lambda: db_connection(url="postgresql://{{username}}:{{password}}@db:5432/app?sslmode=require"),
            lambda: db_connection(plugin="mysql", url="{{username}}:{{password}}@tcp(db:3306)/?tls=true"),
            lambda: db_connection(plugin="mysql", url="{{username}}:{{password}}@tcp(db:3306)/", tls_ca=CA_CERT),
        ),
    ),
    "vault-database-connection-no-literal-password": Case(
        fails=(
            lambda: db_connection(url=f"postgresql://admin:{KNOWN_SECRET}@db:5432/app?sslmode=verify-full"),
            lambda: db_connection(plugin="mysql", url=f"admin:{KNOWN_SECRET}@tcp(db:3306)/?tls=true"),
        ),
        passes=(db_connection,),
    ),
    # --- stack --------------------------------------------------------------------------------------------------
    "vault-audit-device-present": Case(
        fails=(
            workload,
            program(workload, lambda: audit(options={})),
            program(workload, lambda: audit(options={"file_path": "discard"})),
        ),
        passes=(program(workload, audit), program(workload, lambda: audit(type="syslog", options={}))),
    ),
    "vault-audit-devices-redundant": Case(
        fails=(workload, program(workload, audit)),
        passes=(program(workload, audits),),
    ),
    "vault-role-policies-exist": Case(
        fails=(k8s_role, lambda: k8s_role(token_policies=["default", "shared-reader"])),
        passes=(
            workload,
            program(policy, lambda: k8s_role(token_policies=["default", POLICY_NAME])),
            # Vault compares policy names in lower case.
            program(policy, lambda: k8s_role(token_policies=["Workload-App-App"])),
        ),
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
            lambda: pulumi.export("database", {"host": "db.app.svc", "password": KNOWN_SECRET}),
            # AnalyzeStack gets the outputs: RandomPassword's result, exported under an innocent name.
            lambda: pulumi.export("buildInfo", random.RandomPassword("build-password", length=24).result),
        ),
        passes=(
            lambda: pulumi.export("authMount", "kubernetes"),
            program(
                lambda: k8s.core.v1.Secret("app-secret", string_data={"api-key": KNOWN_SECRET}),
                lambda: pulumi.export("roles", {"app": ROLE}),
            ),
            # Names of objects are not credentials.
            lambda: pulumi.export("secretStore", "app-secret"),
            lambda: pulumi.export("delivery", {"app": {"secretProviderClass": "app-vault", "tokenTtl": "15m"}}),
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
            lambda: cluster_secret_store(conditions=[{"namespaceSelector": {}}]),
            lambda: cluster_secret_store(
                conditions=[
                    {
                        "namespaceSelector": {
                            "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "Exists"}]
                        }
                    }
                ]
            ),
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
            lambda: external_secret(refreshPolicy=["Periodic"]),
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
    "eso-find-scoped": Case(
        fails=(
            lambda: external_secret(data=None, dataFrom=[{"find": {"name": {"regexp": ".*"}}}]),
            lambda: external_secret(data=None, dataFrom=[{"find": {"path": "/", "name": {"regexp": "^"}}}]),
            lambda: external_secret(data=None, dataFrom=[{"find": {"conversionStrategy": "Default"}}]),
        ),
        passes=(
            external_secret,
            lambda: external_secret(data=None, dataFrom=[{"find": {"path": "app", "name": {"regexp": ".*"}}}]),
            lambda: external_secret(data=None, dataFrom=[{"find": {"name": {"regexp": "^app-"}}}]),
            lambda: external_secret(data=None, dataFrom=[{"extract": {"key": "app"}}]),
        ),
    ),
    "eso-cluster-external-secret-scoped": Case(
        fails=(
            lambda: cluster_external_secret(namespaceSelectors=[{}]),
            lambda: cluster_external_secret(
                namespaceSelector={
                    "matchExpressions": [
                        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}
                    ]
                }
            ),
        ),
        passes=(
            lambda: cluster_external_secret(namespaces=[NAMESPACE]),
            lambda: cluster_external_secret(namespaceSelectors=[{"matchLabels": {"team": "app"}}]),
        ),
    ),
    "eso-no-push-secret": Case(
        fails=(
            lambda: custom(
                "push",
                "external-secrets.io/v1alpha1",
                "PushSecret",
                {
                    "secretStoreRefs": [{"name": "app-secret", "kind": "SecretStore"}],
                    "selector": {"secret": {"name": "app"}},
                    "data": [{"match": {"secretKey": "k", "remoteRef": {"remoteKey": "app"}}}],
                },
            ),
        ),
        passes=(external_secret,),
    ),
    "eso-chart-cluster-wide-off": Case(
        fails=(
            lambda: eso_chart({"installCRDs": True}),
            lambda: eso_chart({**ESO_VALUES, "processClusterStore": True}, release=True),
            # Go template truth: the string "false" is true.
            lambda: eso_chart({**ESO_VALUES, "processPushSecret": "false"}),
            # The chart under its OCI, repository and archive names.
            lambda: chart("eso-oci", "oci://ghcr.io/external-secrets/charts/external-secrets", {}),
            lambda: chart("eso-repo", "external-secrets/external-secrets", {}),
            lambda: chart("eso-local", "./charts/external-secrets-2.9.0.tgz", {}),
            # Values given in a file.
            lambda: chart_with_files("eso-files", "external-secrets", [values_file({"installCRDs": True})]),
            # A later file wins over an earlier one.
            lambda: chart_with_files(
                "eso-layers", "external-secrets", [values_file(ESO_VALUES), values_file({"processClusterStore": True})]
            ),
        ),
        passes=(
            eso_chart,
            lambda: eso_chart(release=True),
            lambda: chart("other", "ingress-nginx", {}),
            lambda: chart_with_files("eso-files", "external-secrets", [values_file(ESO_VALUES)]),
            # Inline values win over the files.
            lambda: chart_with_files(
                "eso-layers", "external-secrets", [values_file({"processClusterStore": True})], values=ESO_VALUES
            ),
        ),
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
            lambda: secret_provider_class(parameters={"vaultSkipTLSVerify": "t"}),
            lambda: secret_provider_class(parameters={"vaultSkipTLSVerify": "1"}),
            lambda: secret_provider_class(parameters={"vaultSkipTLSVerify": "TRUE"}),
        ),
        passes=(
            secret_provider_class,
            lambda: secret_provider_class(parameters={"vaultSkipTLSVerify": "false"}),
            lambda: secret_provider_class(parameters={"vaultSkipTLSVerify": "F"}),
            lambda: secret_provider_class(parameters={"vaultAddress": "https://[fd00::1:8200"}),
        ),
    ),
    "csi-audience-set": Case(
        fails=(
            lambda: secret_provider_class(parameters={"audience": None}),
            lambda: secret_provider_class(parameters={"audience": API_SERVER}),
        ),
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
            lambda: chart_with_files(
                "csi-files", "secrets-store-csi-driver", [values_file({**CSI_VALUES, "syncSecret": {"enabled": "no"}})]
            ),
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
    # --- Vault Secrets Operator -----------------------------------------------------------------------------------
    "vso-connection-tls": Case(
        fails=(
            lambda: vso_connection(skipTLSVerify=True),
            lambda: vso_connection(address="http://vault.example.com:8200"),
            # Go's ParseBool.
            lambda: vso_connection(skipTLSVerify="t"),
            # The chart prints skipTLSVerify into the default connection's manifest: YAML 1.1 reads `yes` as true.
            lambda: vso_chart({**VSO_VALUES, "defaultVaultConnection": default_connection(skipTLSVerify="yes")}),
            lambda: vso_chart({"defaultVaultConnection": default_connection(address="http://vault:8200")}, True),
        ),
        passes=(
            vso_connection,
            vso_chart,
            lambda: vso_connection(skipTLSVerify="false", address="https://[fd00::1:8200"),
            lambda: vso_chart({"defaultVaultConnection": default_connection()}),
            # Not rendered: the default connection is off.
            lambda: vso_chart({"defaultVaultConnection": {"enabled": False, "skipTLSVerify": True}}),
            lambda: chart("other", "ingress-nginx", {"defaultVaultConnection": default_connection(skipTLSVerify=True)}),
        ),
    ),
    "vso-connection-ca": Case(
        fails=(
            lambda: vso_connection(caCertSecretRef=None),
            lambda: vso_chart({"defaultVaultConnection": default_connection(caCertSecret="")}),
        ),
        passes=(
            vso_connection,
            vso_chart,
            lambda: vso_connection(caCertSecretRef=None, caCertPath="/vault/tls/ca.crt"),
            lambda: vso_chart({"defaultVaultConnection": default_connection()}),
        ),
    ),
    "vso-auth-audience": Case(
        fails=(
            lambda: vso_auth(login={"audiences": None}),
            lambda: vso_auth(login={"audiences": [API_SERVER]}),
            lambda: vso_auth(method="jwt", login={"audiences": []}),
            lambda: vso_auth(method="jwt", login={"secretRef": "app-jwt", "serviceAccount": None, "audiences": None}),
            # The chart's default VaultAuth renders no audiences unless tokenAudiences is set.
            lambda: vso_chart({"defaultAuthMethod": default_auth(tokenAudiences=[])}),
        ),
        passes=(
            vso_auth,
            lambda: vso_auth(method="jwt"),
            vso_chart,
            lambda: vso_chart({"defaultAuthMethod": default_auth()}),
            lambda: vso_chart({"defaultAuthMethod": {**default_auth(), "method": "appRole"}}),
        ),
    ),
    "vso-auth-not-default-service-account": Case(
        fails=(
            lambda: vso_auth(login={"serviceAccount": "default"}),
            lambda: vso_auth(method="jwt", login={"serviceAccount": "default"}),
            # The chart's default service account is `default`.
            lambda: vso_chart({"defaultAuthMethod": default_auth(serviceAccount=None)}),
        ),
        passes=(
            vso_auth,
            lambda: vso_auth(method="jwt"),
            vso_chart,
            lambda: vso_chart({"defaultAuthMethod": default_auth()}),
        ),
    ),
    "vso-no-default-vault-auth": Case(
        fails=(
            lambda: vso_static_secret(vaultAuthRef=None),
            lambda: vso_dynamic_secret(vaultAuthRef=""),
            lambda: vso_static_secret(vaultAuthRef="vault-secrets-operator-system/default"),
            lambda: custom(
                "app-cert",
                VSO_API,
                "VaultPKISecret",
                {"mount": "pki", "role": "app", "commonName": "app.example.com", "destination": {"name": "app-tls"}},
            ),
            lambda: vso_auth("default"),
            lambda: vso_chart({"defaultAuthMethod": default_auth()}),
            # Go template truth: the string "false" is true.
            lambda: vso_chart({"defaultAuthMethod": {"enabled": "false"}}, release=True),
        ),
        passes=(
            vso_static_secret,
            vso_dynamic_secret,
            vso_auth,
            vso_chart,
            lambda: vso_static_secret(vaultAuthRef="team-b/app-vault"),
        ),
    ),
    "vso-dynamic-secret-revoke": Case(
        fails=(
            lambda: vso_dynamic_secret(revoke=None),
            lambda: vso_dynamic_secret(revoke=False),
        ),
        passes=(
            vso_dynamic_secret,
            lambda: vso_dynamic_secret(path="static-creds/app", allowStaticCreds=True, revoke=None),
        ),
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
            # Patch kinds and custom workload kinds keep the pod under spec.template too.
            lambda: k8s.apps.v1.DeploymentPatch(
                "app-patch",
                metadata={"name": "app", "namespace": NAMESPACE},
                spec={"template": {"spec": pod_spec(containers=[container(envFrom=[{"secretRef": {"name": "app"}}])])}},
            ),
            widget(
                "Rollout",
                "argoproj.io/v1alpha1",
                with_template(pod_spec(containers=[container(envFrom=[{"secretRef": {"name": "app"}}])])),
            ),
        ),
        passes=(deployment, cron_job, widget("Rollout", "argoproj.io/v1alpha1", with_template(pod_spec()))),
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
            # `ca.crt` holds public certificates only: not a key, not anything else, not beside other keys.
            lambda: ca_secret(string_data={"ca.crt": CA_CERT + PRIVATE_KEY}),
            lambda: ca_secret(string_data={"ca.crt": KNOWN_SECRET}),
            lambda: ca_secret(string_data={"ca.crt": CA_CERT, "tls.key": KNOWN_SECRET}),
        ),
        passes=(
            ca_secret,
            lambda: ca_secret(string_data=None, data={"ca.crt": base64.b64encode((CA_CERT * 2).encode()).decode()}),
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
            lambda: deployment(spec=pod_spec(containers=[container(env=[{"name": "DB_PASS", "value": KNOWN_SECRET}])])),
            lambda: k8s.core.v1.ConfigMap(
                "app-properties",
                data={"application.properties": f"db.url=jdbc:postgresql://db/app\ndb.password={KNOWN_SECRET}\n"},
            ),
            lambda: deployment(spec=pod_spec(containers=[container(args=[f"--db-password={KNOWN_SECRET}"])])),
            lambda: deployment(spec=pod_spec(containers=[container(args=["serve", "--api-token", KNOWN_SECRET])])),
            lambda: deployment(
                spec=pod_spec(containers=[container(command=["sh", "-c", f"exec app --password {KNOWN_SECRET}"])])
            ),
        ),
        passes=(
            lambda: k8s.core.v1.ConfigMap(
                "app-config",
                data={"LOG_LEVEL": "info", "DB_PASSWORD_FILE": "/vault/secrets/db", "TOKEN_TTL": "15m"},
            ),
            deployment,
            # Names that say what they refer to, and values that cannot be credentials.
            lambda: k8s.core.v1.ConfigMap(
                "app-refs",
                data={
                    "TOKEN_HEADER": "X-Vault-Token",
                    "SECRET_BACKEND": "vault",
                    "oauth_token": "https://auth.example.com/oauth/token",
                    "application.properties": "db.password=${DB_PASSWORD}\nlog.level=info\n",
                },
            ),
            lambda: deployment(
                spec=pod_spec(containers=[container(args=["--password-file=/vault/secrets/db", "--token=$(TOKEN)"])])
            ),
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
            lambda: deployment(
                spec=pod_spec(automountServiceAccountToken=True),
                annotations={"vault.hashicorp.com/agent-inject": "t", "vault.hashicorp.com/tls-skip-verify": "T"},
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
        passes=(
            eso_chart,
            lambda: chart("x", "x", {}, version="1.2.3", release=True),
            lambda: chart("local", "./charts/x-1.2.3.tgz", {}, version=""),
        ),
    ),
    "k8s-projected-token-expiry": Case(
        fails=(
            lambda: deployment(spec=pod_spec(volumes=[projected(86400)])),
            lambda: widget(
                "Rollout", "argoproj.io/v1alpha1", with_template(pod_spec(volumes=[projected(7 * 86400)]))
            )(),
        ),
        passes=(
            lambda: deployment(spec=pod_spec(volumes=[projected(3600)])),
            lambda: deployment(spec=pod_spec(volumes=[projected(None)])),
        ),
    ),
    "vault-chart-tls": Case(
        fails=(
            # The chart's defaults: a server listening without TLS.
            lambda: vault_chart({}),
            lambda: vault_chart({"server": {"dev": {"enabled": True}}, "global": {"tlsDisable": False}}),
            lambda: vault_chart(
                {"global": {"externalVaultAddr": "http://vault.example.com:8200"}, "server": {"enabled": False}}
            ),
            lambda: vault_chart(
                {**CSI_PROVIDER_VALUES, "csi": {"enabled": True, "extraArgs": ["-vault-tls-skip-verify"]}}
            ),
            lambda: vault_chart({}, chart_ref="oci://registry.example.com/hashicorp/vault"),
        ),
        passes=(
            lambda: vault_chart(INJECTOR_VALUES),
            lambda: vault_chart(CSI_PROVIDER_VALUES, name="vault-csi"),
            lambda: vault_chart({"global": {"tlsDisable": False}}),
            lambda: vault_chart(
                {**CSI_PROVIDER_VALUES, "csi": {"enabled": True, "extraArgs": ["-vault-tls-skip-verify=false"]}}
            ),
        ),
    ),
}
