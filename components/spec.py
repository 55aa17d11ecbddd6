"""The stack spec: typed component arguments, their validation, and the model.

Stack config (``Pulumi.<stack>.yaml``) uses the camelCase names of the
component schema (``serviceAccount``); Python args use snake_case
(``service_account``). ``from_config`` maps the first onto the second,
refusing unknown keys; ``validate_platform`` turns args into the frozen model
that every builder consumes. Error messages always use the schema (camelCase)
name, the one a user sees in YAML and in every non-Python SDK.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, NotRequired, TypedDict

import pulumi

from . import validation as v
from .validation import SpecError

DEFAULT_TOKEN_TTL = "15m"
DEFAULT_TOKEN_MAX_TTL = "1h"
MAX_TOKEN_TTL_SECONDS = 24 * 3600
DEFAULT_AUDIENCE = "vault"


class AuthMethod(str, Enum):
    """How workloads prove their identity to Vault."""

    KUBERNETES = "kubernetes"
    """Vault's kubernetes auth: Vault asks the cluster's TokenReview API about each token."""
    JWT = "jwt"
    """Vault's jwt auth: Vault verifies the service-account token against the cluster's issuer keys."""


class ReviewerMode(str, Enum):
    """Whose token Vault presents to the TokenReview API (kubernetes auth only)."""

    VAULT_POD_TOKEN = "vault-pod-token"
    """Vault runs in the cluster and uses its own pod's service-account token."""
    CLIENT_JWT = "client-jwt"
    """Vault presents each client's own token; every workload service account needs system:auth-delegator."""
    REVIEWER_SERVICE_ACCOUNT = "reviewer-service-account"
    """A dedicated reviewer ServiceAccount with system:auth-delegator and a token Secret, created by the stack."""


class Delivery(str, Enum):
    """How a secret reaches the workload's pods."""

    EXTERNAL_SECRETS = "external-secrets"
    """External Secrets Operator syncs it into a Kubernetes Secret (SecretStore + ExternalSecret)."""
    CSI = "csi"
    """The Secrets Store CSI driver mounts it as a file (SecretProviderClass, Vault's CSI provider)."""
    AGENT_INJECTOR = "agent-injector"
    """The Vault Agent injector renders it to /vault/secrets (pod annotations)."""
    NONE = "none"
    """Nothing is delivered: the application reads Vault itself with its role."""


class InstallMethod(str, Enum):
    """How a chart is installed."""

    HELM_CHART = "helm-chart"
    """`kubernetes.helm.v4.Chart` (default): rendered client-side, every object shows in a preview."""
    HELM_RELEASE = "helm-release"
    """`kubernetes.helm.v3.Release`: a Helm release managed by Helm inside the provider."""


class SecretRefArgs(TypedDict):
    """One value a workload reads from a KV v2 secret."""

    path: str
    """The KV v2 API path of the secret, `<mount>/data/<path>`, e.g. `secret/data/myapp`."""
    key: str
    """The key (property) inside the secret, e.g. `apikey`."""
    name: NotRequired[str]
    """The name the value has in the pod (file or Secret key); defaults to `key`."""
    delivery: NotRequired[Delivery]
    """How the value reaches the pod (default `none`: the application reads Vault itself)."""


class DatabaseCredentialArgs(TypedDict):
    """Database credentials a workload reads from Vault's database engine."""

    mount: str
    """The database secrets engine mount (a `databases[].mount`)."""
    role: str
    """The dynamic role (read `creds/<role>`) or, with `static`, the static role (read `static-creds/<role>`)."""
    static: NotRequired[bool]
    """A static role whose password Vault rotates, instead of a dynamic role (default false)."""
    name: NotRequired[str]
    """The name the credentials have in the pod (Secret, file prefix); defaults to the role."""
    delivery: NotRequired[Delivery]
    """How the credentials reach the pod (default `none`)."""


class WorkloadArgs(TypedDict):
    """A workload identity: one Kubernetes service account in one namespace and the secrets it reads."""

    name: str
    """The workload's name (a DNS label); names its policy and Kubernetes objects."""
    namespace: str
    """The Kubernetes namespace the workload runs in (a DNS label)."""
    service_account: str
    """The Kubernetes service account the workload's pods run as."""
    role: NotRequired[str]
    """The Vault role name on the auth mount; defaults to the workload name."""
    secrets: list[SecretRefArgs]
    """The KV v2 values the workload reads; its policy grants read on exactly these paths."""
    token_ttl: NotRequired[str]
    """The Vault token TTL, e.g. `15m` (default)."""
    token_max_ttl: NotRequired[str]
    """The Vault token's maximum TTL, e.g. `1h` (default); at most 24h."""
    create_service_account: NotRequired[bool]
    """Create the workload's Kubernetes ServiceAccount (default false: the team's own manifests own it)."""
    database_credentials: NotRequired[list[DatabaseCredentialArgs]]
    """Database roles the workload reads credentials from; its policy grants read on exactly those."""
    refresh_interval: NotRequired[str]
    """External Secrets: how often the operator re-reads Vault, a Go duration (default `5m`)."""
    secret_name: NotRequired[str]
    """External Secrets: the ExternalSecret and the Secret it owns (default: the workload name)."""
    secret_provider_class: NotRequired[str]
    """CSI: the SecretProviderClass name pods mount (default `<name>-vault`)."""


class ClusterArgs(TypedDict):
    """The Kubernetes cluster whose workloads log in to Vault."""

    name: str
    """The cluster's name (a DNS label)."""
    api_host: str
    """The cluster API server URL that Vault calls for TokenReview (kubernetes auth)."""
    ca_cert: NotRequired[str]
    """PEM CA certificate of the API server (kubernetes auth) or of the issuer's discovery endpoint (jwt)."""
    issuer: NotRequired[str]
    """The service-account token issuer URL (required for jwt auth)."""
    auth_method: NotRequired[AuthMethod]
    """`kubernetes` (default) or `jwt`."""
    auth_mount: NotRequired[str]
    """The Vault auth mount path; defaults to the auth method's name."""
    reviewer: NotRequired[ReviewerMode]
    """Kubernetes auth only: whose token reviews client tokens (default `client-jwt`)."""
    audience: NotRequired[str]
    """The token audience every role binds (default `vault`)."""
    jwt_validation_pubkeys: NotRequired[list[str]]
    """JWT auth only: PEM public keys of the issuer; when empty Vault uses OIDC discovery at `issuer`."""


class VaultArgs(TypedDict):
    """The Vault server that pods reach."""

    address: str
    """The Vault address as seen from inside the cluster, e.g. `https://vault.example.com`."""
    ca_cert: NotRequired[str]
    """PEM CA bundle of Vault's TLS certificate, for clients in the cluster."""


class GeneratedSecretArgs(TypedDict):
    """A KV v2 secret whose values the stack generates (pulumi-random) and rotates on a schedule."""

    path: str
    """The secret's path inside the mount, e.g. `myapp`."""
    keys: list[str]
    """The keys to generate, e.g. `[apikey]`."""
    length: NotRequired[int]
    """Length of each generated value (default 32, 16 to 128)."""
    special: NotRequired[bool]
    """Include punctuation (default false: values safe in URLs and shells)."""
    rotate_every: NotRequired[str]
    """Rotate on the first `pulumi up` after this period, e.g. `30d`; unset: never."""


class KvMountArgs(TypedDict):
    """A KV version 2 mount and the secrets generated into it."""

    mount: str
    """The mount path, e.g. `secret`."""
    max_versions: NotRequired[int]
    """Versions kept per secret (default 10): a rotation keeps the previous ones readable."""
    cas_required: NotRequired[bool]
    """Require check-and-set on every write (default false)."""
    delete_version_after: NotRequired[str]
    """Delete versions older than this, e.g. `90d` (default: never)."""
    generated: NotRequired[list[GeneratedSecretArgs]]
    """Secrets whose values the stack generates."""


class DatabasePlugin(str, Enum):
    """The database engine's plugin."""

    POSTGRESQL = "postgresql"
    """postgresql-database-plugin."""
    MYSQL = "mysql"
    """mysql-database-plugin (MySQL and MariaDB)."""


class DatabaseRoleArgs(TypedDict):
    """A dynamic role: Vault creates a user per lease and drops it on revocation or expiry."""

    name: str
    """The role name; workloads read `<mount>/creds/<name>`."""
    creation_statements: list[str]
    """SQL creating the user, templated with `{{name}}`, `{{password}}`, `{{expiration}}`."""
    revocation_statements: NotRequired[list[str]]
    """SQL dropping the user (default: the plugin's own)."""
    default_ttl: NotRequired[str]
    """Lease TTL (default 1h)."""
    max_ttl: NotRequired[str]
    """Longest a lease may be renewed to (default 24h)."""


class DatabaseStaticRoleArgs(TypedDict):
    """A static role: an existing database user whose password Vault rotates."""

    name: str
    """The role name; workloads read `<mount>/static-creds/<name>`."""
    username: str
    """The existing database user."""
    rotation_period: NotRequired[str]
    """How often Vault rotates the password (default 24h)."""


class DatabaseArgs(TypedDict):
    """A database secrets engine mount with one connection."""

    name: str
    """The connection name (a DNS label)."""
    mount: NotRequired[str]
    """The engine's mount path (default `database`)."""
    plugin: DatabasePlugin
    """`postgresql` or `mysql`."""
    connection_url: str
    """The connection URL with `{{username}}` and `{{password}}` placeholders (no credentials in it)."""
    username: str
    """The admin user Vault connects as."""
    password: pulumi.Input[str]
    """The admin user's password: from stack config as a secret (`pulumi config set --secret`)."""
    verify_connection: NotRequired[bool]
    """Have Vault connect when the connection is written (default true)."""
    rotate_root: NotRequired[bool]
    """Rotate the admin password after setup so only Vault knows it (default false)."""
    roles: NotRequired[list[DatabaseRoleArgs]]
    """Dynamic roles."""
    static_roles: NotRequired[list[DatabaseStaticRoleArgs]]
    """Static roles."""


class LegacyOperator(str, Enum):
    """A retired secrets operator whose objects the stack can still emit, for a migration."""

    KUBERNETES_EXTERNAL_SECRETS = "kubernetes-external-secrets"
    """kubernetes-client.io/v1 ExternalSecret (godaddy/external-secrets, archived 2022): emitted instead of ESO."""


class ExternalSecretsArgs(TypedDict):
    """External Secrets Operator settings."""

    namespace: NotRequired[str]
    """The operator's namespace (default `external-secrets`)."""
    cluster_wide: NotRequired[bool]
    """Enable ClusterSecretStore, ClusterExternalSecret, ClusterGenerator and PushSecret (default false)."""
    install_method: NotRequired[InstallMethod]
    """`helm-chart` (default) or `helm-release`."""
    legacy: NotRequired[LegacyOperator]
    """Emit the retired kubernetes-external-secrets objects instead of installing ESO (migration only)."""


class CsiArgs(TypedDict):
    """Secrets Store CSI driver settings."""

    namespace: NotRequired[str]
    """The driver's and the Vault provider's namespace (default `kube-system`)."""
    rotation_poll_interval: NotRequired[str]
    """How often mounted secrets are re-read (default `2m`, at least `10s`)."""
    sync_secret: NotRequired[bool]
    """Also sync mounted secrets into Kubernetes Secrets (default false)."""
    install_method: NotRequired[InstallMethod]
    """`helm-chart` (default) or `helm-release`."""


class AgentInjectorArgs(TypedDict):
    """Vault Agent injector settings."""

    namespace: NotRequired[str]
    """The injector's namespace (default `vault`)."""
    pre_populate_only: NotRequired[bool]
    """Only an init container, no sidecar: no renewal or re-rendering (default false)."""
    install_method: NotRequired[InstallMethod]
    """`helm-chart` (default) or `helm-release`."""


class DeliveryArgs(TypedDict):
    """Settings of the delivery operators; each is installed only if some secret uses it."""

    external_secrets: NotRequired[ExternalSecretsArgs]
    """External Secrets Operator."""
    csi: NotRequired[CsiArgs]
    """Secrets Store CSI driver and Vault's CSI provider."""
    agent_injector: NotRequired[AgentInjectorArgs]
    """Vault Agent injector."""


class AuditDeviceArgs(TypedDict):
    """A Vault audit device."""

    type: str
    """`file`, `socket` or `syslog`."""
    target: str
    """The file path (`file`), the `host:port` address (`socket`) or the tag (`syslog`)."""
    path: NotRequired[str]
    """The device's mount path (default: the type)."""


class SecretsPlatformArgs(TypedDict):
    """The whole secrets plane of one cluster."""

    vault: VaultArgs
    """The Vault server."""
    cluster: ClusterArgs
    """The cluster and how its workloads authenticate."""
    workloads: list[WorkloadArgs]
    """Every workload identity and the secrets it reads."""
    kv: NotRequired[list[KvMountArgs]]
    """KV v2 mounts the stack manages, with generated secrets."""
    databases: NotRequired[list[DatabaseArgs]]
    """Database secrets engines: dynamic and static roles."""
    delivery: NotRequired[DeliveryArgs]
    """Settings of the operators that deliver secrets into pods."""
    audit_devices: NotRequired[list[AuditDeviceArgs]]
    """Vault audit devices the stack enables (two recommended: Vault stops when every device is blocked)."""


# --- the validated model ------------------------------------------------------


@dataclass(frozen=True)
class SecretRef:
    mount: str
    key_path: str
    key: str
    name: str
    delivery: Delivery = Delivery.NONE

    @property
    def api_path(self) -> str:
        """The KV v2 data path a policy grants, e.g. ``secret/data/myapp``."""
        return f"{self.mount}/data/{self.key_path}"


@dataclass(frozen=True)
class DatabaseCredential:
    mount: str
    role: str
    static: bool
    name: str = ""
    delivery: Delivery = Delivery.NONE

    @property
    def api_path(self) -> str:
        """``<mount>/creds/<role>`` (dynamic) or ``<mount>/static-creds/<role>`` (static)."""
        return f"{self.mount}/{'static-creds' if self.static else 'creds'}/{self.role}"


@dataclass(frozen=True)
class Workload:
    name: str
    namespace: str
    service_account: str
    role: str
    secrets: tuple[SecretRef, ...]
    token_ttl: int
    token_max_ttl: int
    create_service_account: bool
    database_credentials: tuple[DatabaseCredential, ...] = ()
    refresh_interval: int = 300
    secret_name: str = ""
    secret_provider_class: str = ""

    def secrets_for(self, delivery: "Delivery") -> tuple[SecretRef, ...]:
        return tuple(s for s in self.secrets if s.delivery is delivery)

    def credentials_for(self, delivery: "Delivery") -> tuple[DatabaseCredential, ...]:
        return tuple(c for c in self.database_credentials if c.delivery is delivery)

    @property
    def policy_name(self) -> str:
        return f"workload-{self.namespace}-{self.name}"

    @property
    def subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


@dataclass(frozen=True)
class Cluster:
    name: str
    api_host: str
    ca_cert: str | None
    issuer: str | None
    auth_method: AuthMethod
    auth_mount: str
    reviewer: ReviewerMode
    audience: str
    jwt_validation_pubkeys: tuple[str, ...]


@dataclass(frozen=True)
class VaultServer:
    address: str
    ca_cert: str | None


@dataclass(frozen=True)
class GeneratedSecret:
    path: str
    keys: tuple[str, ...]
    length: int
    special: bool
    rotate_every: int | None


@dataclass(frozen=True)
class KvMount:
    mount: str
    max_versions: int
    cas_required: bool
    delete_version_after: int
    generated: tuple[GeneratedSecret, ...]


@dataclass(frozen=True)
class DatabaseRole:
    name: str
    creation_statements: tuple[str, ...]
    revocation_statements: tuple[str, ...]
    default_ttl: int
    max_ttl: int


@dataclass(frozen=True)
class DatabaseStaticRole:
    name: str
    username: str
    rotation_period: int


@dataclass(frozen=True)
class Database:
    """A database engine connection; the admin password is not part of the model (it stays a Pulumi secret)."""

    name: str
    mount: str
    plugin: DatabasePlugin
    connection_url: str
    username: str
    verify_connection: bool
    rotate_root: bool
    roles: tuple[DatabaseRole, ...]
    static_roles: tuple[DatabaseStaticRole, ...]

    def paths(self) -> set[str]:
        return {f"{self.mount}/creds/{r.name}" for r in self.roles} | {
            f"{self.mount}/static-creds/{r.name}" for r in self.static_roles
        }


@dataclass(frozen=True)
class DeliverySettings:
    eso_namespace: str = "external-secrets"
    eso_cluster_wide: bool = False
    eso_install: InstallMethod = InstallMethod.HELM_CHART
    legacy: LegacyOperator | None = None
    csi_namespace: str = "kube-system"
    csi_rotation_poll_interval: int = 120
    csi_sync_secret: bool = False
    csi_install: InstallMethod = InstallMethod.HELM_CHART
    injector_namespace: str = "vault"
    injector_pre_populate_only: bool = False
    injector_install: InstallMethod = InstallMethod.HELM_CHART


@dataclass(frozen=True)
class AuditDevice:
    type: str
    target: str
    path: str


@dataclass(frozen=True)
class PlatformSpec:
    vault: VaultServer
    cluster: Cluster
    workloads: tuple[Workload, ...]
    kv: tuple[KvMount, ...] = ()
    databases: tuple[Database, ...] = ()
    delivery: DeliverySettings = DeliverySettings()
    audit_devices: tuple[AuditDevice, ...] = ()

    def database_role(self, credential: DatabaseCredential) -> DatabaseRole | DatabaseStaticRole:
        """The declared role a workload's credential names (validation guarantees it exists)."""
        db = next(d for d in self.databases if d.mount == credential.mount)
        roles = db.static_roles if credential.static else db.roles
        return next(r for r in roles if r.name == credential.role)


# --- validation ---------------------------------------------------------------

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
    _unique(workloads, "name", lambda w: w.name)
    _unique(workloads, "role", lambda w: w.role)
    _unique(workloads, "serviceAccount", lambda w: (w.namespace, w.service_account))
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
    return PlatformSpec(
        vault=validate_vault("vault", args["vault"]),
        cluster=validate_cluster("cluster", args["cluster"]),
        workloads=workloads,
        kv=kv,
        databases=databases,
        delivery=validate_delivery("delivery", args.get("delivery", {})),
        audit_devices=audit_devices,
    )


def _unique(workloads: tuple[Workload, ...], field: str, key: Any) -> None:
    seen: dict[Any, int] = {}
    for i, workload in enumerate(workloads):
        k = key(workload)
        if k in seen:
            raise SpecError(f"workloads[{i}].{field}", k, f"a value not already used by workloads[{seen[k]}]")
        seen[k] = i


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
