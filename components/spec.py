"""The stack spec's validation: component args (or stack config) to the frozen model.

Stack config (``Pulumi.<stack>.yaml``) uses the camelCase names of the
component schema (``serviceAccount``); Python args use snake_case
(``service_account``). ``from_config`` maps the first onto the second;
``validate_platform`` turns args into the model, refusing unknown keys and bad
values. Error messages always use the schema (camelCase) name, the one a user
sees in YAML and in every non-Python SDK.
"""

import re
from collections.abc import Mapping
from enum import Enum
from typing import Any

from . import validation as v
from .args import (
    DEFAULT_AUDIENCE,
    DEFAULT_TOKEN_MAX_TTL,
    DEFAULT_TOKEN_TTL,
    MAX_TOKEN_TTL_SECONDS,
    AgentInjectorArgs,
    AuditDeviceArgs,
    AuthMethod,
    ClusterArgs,
    CsiArgs,
    DatabaseArgs,
    DatabaseCredentialArgs,
    DatabasePlugin,
    DatabaseRoleArgs,
    DatabaseStaticRoleArgs,
    Delivery,
    DeliveryArgs,
    ExternalSecretsArgs,
    GeneratedSecretArgs,
    InstallMethod,
    KvMountArgs,
    LegacyOperator,
    ReviewerMode,
    SecretRefArgs,
    SecretsPlatformArgs,
    VaultArgs,
    WorkloadArgs,
)
from .model import (
    AuditDevice,
    Cluster,
    Database,
    DatabaseCredential,
    DatabaseRole,
    DatabaseStaticRole,
    DeliverySettings,
    GeneratedSecret,
    KvMount,
    PlatformSpec,
    SecretRef,
    VaultServer,
    Workload,
)
from .validation import SpecError

_KV_DATA_PATH = re.compile(r"^(?P<mount>.+?)/data/(?P<key_path>.+)$")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _keys(cls: type) -> tuple[str, ...]:
    return tuple(cls.__annotations__)


def _known(field: str, value: object, cls: type) -> Mapping[str, Any]:
    """Refuse keys the args type does not declare, naming them in schema (camel) form."""
    names = _keys(cls)
    if not isinstance(value, Mapping):
        raise SpecError(field, value, "a mapping")
    v.mapping(field, {camel(k): x for k, x in value.items()}, tuple(camel(n) for n in names))
    return value


def _enum(field: str, value: object, enum: type[Enum], default: Enum | None) -> Any:
    if value is None:
        return default
    raw = value.value if isinstance(value, Enum) else value
    return enum(v.choice(field, raw, tuple(str(m.value) for m in enum)))  # type: ignore[call-overload]


def validate_secret_ref(field: str, raw: object) -> SecretRef:
    args = _known(field, raw, SecretRefArgs)
    path = v.require_str(f"{field}.path", args.get("path"))
    match = _KV_DATA_PATH.match(path)
    if not match:
        raise SpecError(f"{field}.path", path, "a KV v2 data path '<mount>/data/<path>', e.g. 'secret/data/myapp'")
    try:
        mount = v.mount_path(f"{field}.path", match["mount"])
        key_path = v.kv_key_path(f"{field}.path", match["key_path"])
    except SpecError as error:
        raise SpecError(error.field, path, error.allowed) from None
    key = v.secret_key(f"{field}.key", args.get("key"))
    name = v.secret_key(f"{field}.name", args.get("name", key))
    delivery = _enum(f"{field}.delivery", args.get("delivery"), Delivery, Delivery.NONE)
    return SecretRef(mount=mount, key_path=key_path, key=key, name=name, delivery=delivery)


def validate_database_credential(field: str, raw: object) -> DatabaseCredential:
    args = _known(field, raw, DatabaseCredentialArgs)
    role = v.vault_name(f"{field}.role", args.get("role"))
    return DatabaseCredential(
        mount=v.mount_path(f"{field}.mount", args.get("mount")),
        role=role,
        static=v.boolean(f"{field}.static", args.get("static", False)),
        name=v.secret_key(f"{field}.name", args.get("name", role)),
        delivery=_enum(f"{field}.delivery", args.get("delivery"), Delivery, Delivery.NONE),
    )


def validate_workload(field: str, raw: object) -> Workload:
    args = _known(field, raw, WorkloadArgs)
    name = v.dns_label(f"{field}.name", args.get("name"))
    secrets = tuple(
        validate_secret_ref(f"{field}.secrets[{i}]", s)
        for i, s in enumerate(v.sequence(f"{field}.secrets", args.get("secrets", [])))
    )
    names = [s.name for s in secrets]
    for i, secret in enumerate(secrets):
        if names.index(secret.name) != i:
            raise SpecError(
                f"{field}.secrets[{i}].name", secret.name, "a name not used by another secret of the workload"
            )
    ttl = v.duration_seconds(
        f"{field}.tokenTtl", args.get("token_ttl", DEFAULT_TOKEN_TTL), minimum=60, maximum=MAX_TOKEN_TTL_SECONDS
    )
    max_ttl = v.duration_seconds(
        f"{field}.tokenMaxTtl",
        args.get("token_max_ttl", DEFAULT_TOKEN_MAX_TTL),
        minimum=60,
        maximum=MAX_TOKEN_TTL_SECONDS,
    )
    if max_ttl < ttl:
        raise SpecError(
            f"{field}.tokenMaxTtl", args.get("token_max_ttl", DEFAULT_TOKEN_MAX_TTL), f"at least tokenTtl ({ttl}s)"
        )
    workload = Workload(
        name=name,
        namespace=v.dns_label(f"{field}.namespace", args.get("namespace")),
        service_account=v.dns_subdomain(f"{field}.serviceAccount", args.get("service_account")),
        role=v.vault_name(f"{field}.role", args.get("role", name)),
        secrets=secrets,
        token_ttl=ttl,
        token_max_ttl=max_ttl,
        create_service_account=v.boolean(f"{field}.createServiceAccount", args.get("create_service_account", False)),
        secret_name=v.dns_subdomain(f"{field}.secretName", args.get("secret_name", name)),
        cluster_store_namespaces=tuple(
            v.dns_label(f"{field}.clusterStoreNamespaces[{i}]", n)
            for i, n in enumerate(
                v.sequence(f"{field}.clusterStoreNamespaces", args.get("cluster_store_namespaces", []))
            )
        ),
        secret_provider_class=v.dns_subdomain(
            f"{field}.secretProviderClass", args.get("secret_provider_class", f"{name}-vault")
        ),
        refresh_interval=v.duration_seconds(
            f"{field}.refreshInterval", args.get("refresh_interval", "5m"), minimum=10, maximum=86400
        ),
        database_credentials=tuple(
            validate_database_credential(f"{field}.databaseCredentials[{i}]", c)
            for i, c in enumerate(v.sequence(f"{field}.databaseCredentials", args.get("database_credentials", [])))
        ),
    )
    if not workload.secrets and not workload.database_credentials:
        raise SpecError(f"{field}.secrets", [], "at least one secret or databaseCredentials entry")
    return workload


def validate_cluster(field: str, raw: object) -> Cluster:
    args = _known(field, raw, ClusterArgs)
    method = _enum(f"{field}.authMethod", args.get("auth_method"), AuthMethod, AuthMethod.KUBERNETES)
    reviewer = _enum(f"{field}.reviewer", args.get("reviewer"), ReviewerMode, ReviewerMode.CLIENT_JWT)
    ca_cert = v.pem(f"{field}.caCert", args["ca_cert"]) if args.get("ca_cert") is not None else None
    issuer = v.url(f"{field}.issuer", args["issuer"]) if args.get("issuer") is not None else None
    pubkeys = tuple(
        v.pem(f"{field}.jwtValidationPubkeys[{i}]", k)
        for i, k in enumerate(v.sequence(f"{field}.jwtValidationPubkeys", args.get("jwt_validation_pubkeys", [])))
    )
    if method is AuthMethod.KUBERNETES and reviewer is not ReviewerMode.VAULT_POD_TOKEN and ca_cert is None:
        raise SpecError(
            f"{field}.caCert",
            None,
            "a PEM CA certificate of the API server (required unless reviewer is vault-pod-token)",
        )
    if method is AuthMethod.JWT and issuer is None:
        raise SpecError(f"{field}.issuer", None, "the service-account issuer URL (required for jwt auth)")
    if method is AuthMethod.JWT and not pubkeys and ca_cert is None:
        raise SpecError(
            f"{field}.caCert",
            None,
            "the CA of the issuer's OIDC discovery endpoint, or jwtValidationPubkeys (jwt auth)",
        )
    if method is AuthMethod.JWT and args.get("reviewer") is not None:
        raise SpecError(f"{field}.reviewer", args.get("reviewer"), "no reviewer with jwt auth (it does no TokenReview)")
    if method is AuthMethod.KUBERNETES and pubkeys:
        raise SpecError(f"{field}.jwtValidationPubkeys", "[...]", "no validation keys with kubernetes auth")
    return Cluster(
        name=v.dns_label(f"{field}.name", args.get("name")),
        api_host=v.url(f"{field}.apiHost", args.get("api_host")),
        ca_cert=ca_cert,
        issuer=issuer,
        auth_method=method,
        auth_mount=v.mount_path(f"{field}.authMount", args.get("auth_mount", method.value)),
        reviewer=reviewer,
        audience=v.audience(f"{field}.audience", args.get("audience", DEFAULT_AUDIENCE)),
        jwt_validation_pubkeys=pubkeys,
    )


def validate_vault(field: str, raw: object) -> VaultServer:
    args = _known(field, raw, VaultArgs)
    ca_cert = v.pem(f"{field}.caCert", args["ca_cert"]) if args.get("ca_cert") is not None else None
    return VaultServer(address=v.url(f"{field}.address", args.get("address")), ca_cert=ca_cert)


MAX_LEASE_SECONDS = 32 * 86400


def validate_generated(field: str, raw: object) -> GeneratedSecret:
    args = _known(field, raw, GeneratedSecretArgs)
    keys = tuple(
        v.secret_key(f"{field}.keys[{i}]", k) for i, k in enumerate(v.sequence(f"{field}.keys", args.get("keys")))
    )
    if not keys or len(set(keys)) != len(keys):
        raise SpecError(f"{field}.keys", list(keys), "a non-empty list of distinct keys")
    rotate = args.get("rotate_every")
    return GeneratedSecret(
        path=v.kv_key_path(f"{field}.path", args.get("path")),
        keys=keys,
        length=v.integer(f"{field}.length", args.get("length", 32), minimum=16, maximum=128),
        special=v.boolean(f"{field}.special", args.get("special", False)),
        rotate_every=None
        if rotate is None
        else v.duration_seconds(f"{field}.rotateEvery", rotate, minimum=3600, maximum=366 * 86400),
    )


def validate_kv_mount(field: str, raw: object) -> KvMount:
    args = _known(field, raw, KvMountArgs)
    generated = tuple(
        validate_generated(f"{field}.generated[{i}]", g)
        for i, g in enumerate(v.sequence(f"{field}.generated", args.get("generated", [])))
    )
    _unique_by(generated, f"{field}.generated", "path", lambda g: g.path)
    after = args.get("delete_version_after")
    return KvMount(
        mount=v.mount_path(f"{field}.mount", args.get("mount")),
        max_versions=v.integer(f"{field}.maxVersions", args.get("max_versions", 10), minimum=2, maximum=100),
        cas_required=v.boolean(f"{field}.casRequired", args.get("cas_required", False)),
        delete_version_after=0 if after is None else v.duration_seconds(f"{field}.deleteVersionAfter", after),
        generated=generated,
    )


def validate_connection_url(field: str, value: object) -> str:
    text = v.require_str(field, value)
    if (
        "{{username}}" not in text
        or "{{password}}" not in text
        or any(c.isspace() or ord(c) < 32 for c in text)
        or len(text) > 2048
    ):
        raise SpecError(
            field,
            "<connection URL>",
            "a URL with {{username}} and {{password}} placeholders and no literal credentials or spaces",
        )
    return text


def validate_database_role(field: str, raw: object) -> DatabaseRole:
    args = _known(field, raw, DatabaseRoleArgs)
    revocation = args.get("revocation_statements")
    role = DatabaseRole(
        name=v.vault_name(f"{field}.name", args.get("name")),
        creation_statements=v.statements(f"{field}.creationStatements", args.get("creation_statements")),
        revocation_statements=() if revocation is None else v.statements(f"{field}.revocationStatements", revocation),
        default_ttl=v.duration_seconds(f"{field}.defaultTtl", args.get("default_ttl", "1h"), maximum=MAX_LEASE_SECONDS),
        max_ttl=v.duration_seconds(f"{field}.maxTtl", args.get("max_ttl", "24h"), maximum=MAX_LEASE_SECONDS),
    )
    if role.max_ttl < role.default_ttl:
        raise SpecError(f"{field}.maxTtl", args.get("max_ttl", "24h"), f"at least defaultTtl ({role.default_ttl}s)")
    return role


def validate_static_role(field: str, raw: object) -> DatabaseStaticRole:
    args = _known(field, raw, DatabaseStaticRoleArgs)
    return DatabaseStaticRole(
        name=v.vault_name(f"{field}.name", args.get("name")),
        username=v.vault_name(f"{field}.username", args.get("username")),
        rotation_period=v.duration_seconds(f"{field}.rotationPeriod", args.get("rotation_period", "24h"), minimum=5),
    )


def validate_database(field: str, raw: object) -> Database:
    args = _known(field, raw, DatabaseArgs)
    password = args.get("password")
    if password is None or (isinstance(password, str) and not password):
        raise SpecError(f"{field}.password", "[secret]", "the admin password, as a secret config value")
    roles = tuple(
        validate_database_role(f"{field}.roles[{i}]", r)
        for i, r in enumerate(v.sequence(f"{field}.roles", args.get("roles", [])))
    )
    static_roles = tuple(
        validate_static_role(f"{field}.staticRoles[{i}]", r)
        for i, r in enumerate(v.sequence(f"{field}.staticRoles", args.get("static_roles", [])))
    )
    _unique_by(roles + static_roles, f"{field}.roles", "name", lambda r: r.name)  # type: ignore[operator]
    plugin = _enum(f"{field}.plugin", args.get("plugin"), DatabasePlugin, None)
    if plugin is None:
        raise SpecError(f"{field}.plugin", None, "one of postgresql, mysql")
    return Database(
        name=v.dns_label(f"{field}.name", args.get("name")),
        mount=v.mount_path(f"{field}.mount", args.get("mount", "database")),
        plugin=plugin,
        connection_url=validate_connection_url(f"{field}.connectionUrl", args.get("connection_url")),
        username=v.vault_name(f"{field}.username", args.get("username")),
        verify_connection=v.boolean(f"{field}.verifyConnection", args.get("verify_connection", True)),
        rotate_root=v.boolean(f"{field}.rotateRoot", args.get("rotate_root", False)),
        roles=roles,
        static_roles=static_roles,
    )


def validate_delivery(field: str, raw: object) -> DeliverySettings:
    args = _known(field, raw, DeliveryArgs)
    eso = _known(f"{field}.externalSecrets", args.get("external_secrets", {}), ExternalSecretsArgs)
    csi = _known(f"{field}.csi", args.get("csi", {}), CsiArgs)
    agent = _known(f"{field}.agentInjector", args.get("agent_injector", {}), AgentInjectorArgs)
    install = InstallMethod.HELM_CHART
    return DeliverySettings(
        eso_namespace=v.dns_label(f"{field}.externalSecrets.namespace", eso.get("namespace", "external-secrets")),
        eso_cluster_wide=v.boolean(f"{field}.externalSecrets.clusterWide", eso.get("cluster_wide", False)),
        eso_install=_enum(f"{field}.externalSecrets.installMethod", eso.get("install_method"), InstallMethod, install),
        legacy=_enum(f"{field}.externalSecrets.legacy", eso.get("legacy"), LegacyOperator, None),
        csi_namespace=v.dns_label(f"{field}.csi.namespace", csi.get("namespace", "kube-system")),
        csi_rotation_poll_interval=v.duration_seconds(
            f"{field}.csi.rotationPollInterval", csi.get("rotation_poll_interval", "2m"), minimum=10, maximum=86400
        ),
        csi_sync_secret=v.boolean(f"{field}.csi.syncSecret", csi.get("sync_secret", False)),
        csi_install=_enum(f"{field}.csi.installMethod", csi.get("install_method"), InstallMethod, install),
        injector_namespace=v.dns_label(f"{field}.agentInjector.namespace", agent.get("namespace", "vault")),
        injector_pre_populate_only=v.boolean(
            f"{field}.agentInjector.prePopulateOnly", agent.get("pre_populate_only", False)
        ),
        injector_install=_enum(
            f"{field}.agentInjector.installMethod", agent.get("install_method"), InstallMethod, install
        ),
    )


def validate_audit_device(field: str, raw: object) -> AuditDevice:
    args = _known(field, raw, AuditDeviceArgs)
    kind = v.choice(f"{field}.type", args.get("type"), ("file", "socket", "syslog"))
    target = v.require_str(f"{field}.target", args.get("target"))
    if not target or any(c.isspace() or ord(c) < 32 for c in target) or len(target) > 512:
        raise SpecError(f"{field}.target", target, "a file path, host:port or tag without spaces")
    if kind == "file" and not (target.startswith("/") or target == "stdout"):
        raise SpecError(f"{field}.target", target, "an absolute file path, or stdout")
    return AuditDevice(type=kind, target=target, path=v.mount_path(f"{field}.path", args.get("path", kind)))


def _unique_by(items: Any, field: str, name: str, key: Any) -> None:
    seen: dict[Any, int] = {}
    for i, item in enumerate(items):
        k = key(item)
        if k in seen:
            raise SpecError(f"{field}[{i}].{name}", k, f"a value not already used by {field}[{seen[k]}]")
        seen[k] = i


def validate_platform(raw: object) -> PlatformSpec:
    """The validated model of a whole platform; raises ``SpecError`` on the first bad field."""
    args = _known("", raw, SecretsPlatformArgs)
    for required in ("vault", "cluster", "workloads"):
        if required not in args:
            raise SpecError(required, None, "a value (this key is required)")
    workloads = tuple(
        validate_workload(f"workloads[{i}]", w) for i, w in enumerate(v.sequence("workloads", args["workloads"]))
    )
    _unique_by(workloads, "workloads", "name", lambda w: w.name)
    _unique_by(workloads, "workloads", "role", lambda w: w.role)
    _unique_by(workloads, "workloads", "serviceAccount", lambda w: (w.namespace, w.service_account))
    kv = tuple(validate_kv_mount(f"kv[{i}]", m) for i, m in enumerate(v.sequence("kv", args.get("kv", []))))
    _unique_by(kv, "kv", "mount", lambda m: m.mount)
    databases = tuple(
        validate_database(f"databases[{i}]", d)
        for i, d in enumerate(v.sequence("databases", args.get("databases", [])))
    )
    _unique_by(databases, "databases", "mount", lambda d: d.mount)
    audit_devices = tuple(
        validate_audit_device(f"auditDevices[{i}]", d)
        for i, d in enumerate(v.sequence("auditDevices", args.get("audit_devices", [])))
    )
    _unique_by(audit_devices, "auditDevices", "path", lambda d: d.path)
    declared = set().union(*(d.paths() for d in databases)) if databases else set()
    for i, workload in enumerate(workloads):
        for j, credential in enumerate(workload.database_credentials):
            if credential.api_path not in declared:
                raise SpecError(
                    f"workloads[{i}].databaseCredentials[{j}]",
                    credential.api_path,
                    "a role declared under databases[] (roles for creds/, staticRoles for static-creds/)",
                )
    delivery = validate_delivery("delivery", args.get("delivery", {}))
    for i, workload in enumerate(workloads):
        if workload.cluster_store_namespaces and not delivery.eso_cluster_wide:
            raise SpecError(
                f"workloads[{i}].clusterStoreNamespaces",
                list(workload.cluster_store_namespaces),
                "only with delivery.externalSecrets.clusterWide: true (ClusterSecretStores are off otherwise)",
            )
    return PlatformSpec(
        vault=validate_vault("vault", args["vault"]),
        cluster=validate_cluster("cluster", args["cluster"]),
        workloads=workloads,
        kv=kv,
        databases=databases,
        delivery=delivery,
        audit_devices=audit_devices,
    )


# --- stack config -------------------------------------------------------------

CONFIG_KEYS = ("vault", "cluster", "workloads", "kv", "databases", "delivery", "auditDevices")


def from_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """SecretsPlatform args from the project's stack config (camelCase keys, recursively)."""
    v.mapping("", config, CONFIG_KEYS)
    return {snake(k): _snake_keys(x) for k, x in config.items()}


def _snake_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {snake(k) if isinstance(k, str) else k: _snake_keys(x) for k, x in value.items()}
    if isinstance(value, list):
        return [_snake_keys(x) for x in value]
    return value
