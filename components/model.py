"""The validated model: frozen plain data that every builder consumes.

Only ``spec.validate_*`` constructs these, so a builder can trust every field.
"""

from dataclasses import dataclass

from .args import AuthMethod, DatabasePlugin, Delivery, InstallMethod, LegacyOperator, ReviewerMode


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
    cluster_store_namespaces: tuple[str, ...] = ()

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
