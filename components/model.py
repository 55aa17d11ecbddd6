"""The validated model: frozen plain data that every component and builder consumes and trusts.

Only ``spec`` (the edge) constructs these from component args or stack config, so nothing
inside re-checks a field. Each default lives here, on its field, and nowhere else; a field
the user leaves out is simply not passed. Durations are whole seconds. The names of the
objects a workload becomes (its policy, its Vault subject, its External Secrets objects)
are derived here, once.

A few fields accept another resource's output (``Text``: the Vault address, CA
certificates, the database password); everything that shapes access (names, paths,
capabilities) is plain.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

import pulumi

from .args import (
    AuthMethod,
    DatabasePlugin,
    Delivery,
    InstallMethod,
    LegacyOperator,
    ReviewerMode,
    VaultServerKind,
)

Text = str | pulumi.Output[str]
"""A string, or an Output of one from another resource (validated when it is known)."""


def lift(value: Text, transform: Callable[[str], str]) -> Text:
    """``transform`` of a string now, or of an Output's string when it is known."""
    return value.apply(transform) if isinstance(value, pulumi.Output) else transform(value)


DEFAULT_AUTH_METHOD = AuthMethod.KUBERNETES
"""How workloads log in when the cluster names no method: the model of its auth mount is picked by it."""
DEFAULT_AUDIENCE = "vault"
"""The token audience roles bind when none is given (the platform's cluster and a standalone WorkloadAccess)."""
API_SERVER_AUDIENCE = "https://kubernetes.default.svc"
"""The audience a Kubernetes API server accepts by default (its service-account issuer)."""
DEFAULT_REVIEWER = ReviewerMode.VAULT_POD_TOKEN
"""Vault in the cluster reviews tokens with its own pod's token: no long-lived token, and pods' tokens can carry
an audience of Vault's own. (With client-jwt the API server reviews a pod's token presented as its own
credential, which it accepts only for an audience of the API server's: see spec.validate_cluster.)"""

SERVICE_ACCOUNT_SUBJECT_PREFIX = "system:serviceaccount:"


def service_account_subject(namespace: str, service_account: str) -> str:
    """The ``sub`` of a Kubernetes service-account token: ``system:serviceaccount:<namespace>:<name>``."""
    return f"{SERVICE_ACCOUNT_SUBJECT_PREFIX}{namespace}:{service_account}"


def parse_service_account_subject(subject: str) -> tuple[str, str] | None:
    """(namespace, service account) of a service-account subject, or None for any other subject."""
    if not subject.startswith(SERVICE_ACCOUNT_SUBJECT_PREFIX):
        return None
    namespace, _, account = subject[len(SERVICE_ACCOUNT_SUBJECT_PREFIX) :].partition(":")
    return (namespace, account) if namespace and account else None


def mount_slug(mount: str) -> str:
    """A mount path as a DNS-label fragment for object names: ``team_a/kv`` -> ``team-a-kv``."""
    return re.sub(r"[^a-z0-9-]", "-", mount.lower()).strip("-")


def resource_slug(path: str) -> str:
    """A Vault path as part of a Pulumi resource name: ``shop/orders`` -> ``shop--orders``."""
    return path.replace("/", "--")


@dataclass(frozen=True, kw_only=True)
class SecretRef:
    mount: str
    key_path: str
    key: str
    name: str = ""
    """Its name in the pod; empty means the key."""
    delivery: Delivery = Delivery.NONE

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.key)

    @property
    def api_path(self) -> str:
        """The KV v2 data path a policy grants, e.g. ``secret/data/myapp``."""
        return f"{self.mount}/data/{self.key_path}"


@dataclass(frozen=True, kw_only=True)
class DatabaseCredential:
    mount: str
    role: str
    static: bool = False
    name: str = ""
    """Its name in the pod; empty means the role."""
    delivery: Delivery = Delivery.NONE

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.role)

    @property
    def api_path(self) -> str:
        """``<mount>/creds/<role>`` (dynamic) or ``<mount>/static-creds/<role>`` (static)."""
        return f"{self.mount}/{'static-creds' if self.static else 'creds'}/{self.role}"


@dataclass(frozen=True, kw_only=True)
class Workload:
    name: str
    namespace: str
    service_account: str
    role: str = ""
    """The Vault role; empty means the workload's name."""
    secrets: tuple[SecretRef, ...] = ()
    database_credentials: tuple[DatabaseCredential, ...] = ()
    token_ttl: int = 15 * 60
    token_max_ttl: int = 3600
    create_service_account: bool = False
    refresh_interval: int = 5 * 60
    """External Secrets and the Vault Secrets Operator: seconds between the operator's reads of a KV secret."""
    secret_name: str = ""
    """External Secrets and the Vault Secrets Operator: the synced Secret; empty means the workload's name."""
    deployment: str = ""
    """The Deployment the Vault Secrets Operator restarts when a synced Secret changes; empty: none."""
    secret_provider_class: str = ""
    """CSI: the SecretProviderClass; empty means ``<name>-vault``."""
    cluster_store_namespaces: tuple[str, ...] = ()
    cluster: str = ""
    """The cluster it runs in (a ``Cluster.name``); the platform fills in its only cluster when empty."""

    def __post_init__(self) -> None:
        for name, derived in (
            ("role", self.name),
            ("secret_name", self.name),
            ("secret_provider_class", f"{self.name}-vault"),
        ):
            if not getattr(self, name):
                object.__setattr__(self, name, derived)

    def secrets_for(self, delivery: Delivery) -> tuple[SecretRef, ...]:
        return tuple(s for s in self.secrets if s.delivery is delivery)

    def credentials_for(self, delivery: Delivery) -> tuple[DatabaseCredential, ...]:
        return tuple(c for c in self.database_credentials if c.delivery is delivery)

    @property
    def policy_name(self) -> str:
        return f"workload-{self.namespace}-{self.name}"

    @property
    def subject(self) -> str:
        return service_account_subject(self.namespace, self.service_account)

    @property
    def paths(self) -> tuple[str, ...]:
        """Every Vault path the workload reads, in declaration order (its policy grants read on exactly these)."""
        return tuple(s.api_path for s in self.secrets) + tuple(c.api_path for c in self.database_credentials)

    # Names of the External Secrets objects (one SecretStore and one ExternalSecret per KV mount).

    def store_name(self, mount: str) -> str:
        return f"{self.name}-{mount_slug(mount)}"

    def target_name(self, mount: str, mounts: int) -> str:
        """The ExternalSecret (and its Secret) of one mount: ``secretName``, suffixed when there are several."""
        return self.secret_name if mounts == 1 else f"{self.secret_name}-{mount_slug(mount)}"

    def cluster_store_name(self, mount: str) -> str:
        return f"{self.namespace}-{self.name}-{mount_slug(mount)}"

    def generator_name(self, credential: DatabaseCredential) -> str:
        return f"{self.name}-{credential.name}"

    # Names of the Vault Secrets Operator objects.

    @property
    def vault_connection_name(self) -> str:
        """The VaultConnection, the VaultAuth using it and (with ``-ca``) the Secret holding Vault's CA."""
        return f"{self.name}-vault"

    def static_secret_name(self, secret: SecretRef, paths: int) -> str:
        """The VaultStaticSecret (and its Secret) of one KV secret: ``secretName``, suffixed when there are several."""
        return (
            self.secret_name if paths == 1 else f"{self.secret_name}-{mount_slug(f'{secret.mount}-{secret.key_path}')}"
        )


@dataclass(frozen=True, kw_only=True)
class AuthBinding:
    """Where and how a workload's role lives: the auth mount, its method and the audience the role binds."""

    mount: Text
    method: AuthMethod = AuthMethod.KUBERNETES
    audience: str = DEFAULT_AUDIENCE
    grant_auth_delegator: bool = False
    """Bind the service account to system:auth-delegator (kubernetes auth whose reviewer is the client's JWT)."""


@dataclass(frozen=True, kw_only=True)
class KubernetesAuthSpec:
    kubernetes_host: str
    path: str = AuthMethod.KUBERNETES.value
    kubernetes_ca_cert: Text | None = None
    reviewer: ReviewerMode = DEFAULT_REVIEWER
    reviewer_namespace: str = "kube-system"
    method: ClassVar[AuthMethod] = AuthMethod.KUBERNETES


@dataclass(frozen=True, kw_only=True)
class JwtAuthSpec:
    issuer: str
    path: str = AuthMethod.JWT.value
    discovery_ca_cert: Text | None = None
    validation_pubkeys: tuple[str, ...] = ()
    method: ClassVar[AuthMethod] = AuthMethod.JWT


@dataclass(frozen=True, kw_only=True)
class Cluster:
    """One cluster: a trust domain of its own, with its own auth mount, roles and Kubernetes provider."""

    name: str
    api_host: str
    auth: KubernetesAuthSpec | JwtAuthSpec
    audience: str = DEFAULT_AUDIENCE
    kubeconfig_context: str = ""
    """The kubeconfig context its Kubernetes objects go to; empty: the stack's default provider."""
    resource_suffix: str = ""
    """Appended to the names of its resources: empty for the single ``cluster`` key (the names stacks already
    have), ``-<name>`` for each entry of ``clusters``."""

    def resource_name(self, prefix: str) -> str:
        return f"{prefix}{self.resource_suffix}"

    @property
    def auth_method(self) -> AuthMethod:
        return self.auth.method

    @property
    def auth_mount(self) -> str:
        return self.auth.path

    @property
    def binding(self) -> AuthBinding:
        delegate = isinstance(self.auth, KubernetesAuthSpec) and self.auth.reviewer is ReviewerMode.CLIENT_JWT
        return AuthBinding(
            mount=self.auth.path, method=self.auth.method, audience=self.audience, grant_auth_delegator=delegate
        )


@dataclass(frozen=True, kw_only=True)
class VaultServer:
    address: Text
    ca_cert: Text | None = None
    kind: VaultServerKind = VaultServerKind.VAULT


@dataclass(frozen=True, kw_only=True)
class GeneratedSecret:
    path: str
    keys: tuple[str, ...]
    length: int = 32
    special: bool = False
    rotate_every: int | None = None
    """Seconds between rotations; None: never."""


@dataclass(frozen=True, kw_only=True)
class KvMount:
    mount: str
    max_versions: int = 10
    cas_required: bool = False
    delete_version_after: int = 0
    """Seconds; 0: never."""
    generated: tuple[GeneratedSecret, ...] = ()


def unix_now() -> int:
    return int(time.time())


@dataclass(frozen=True, kw_only=True)
class KvStoreSpec:
    kv: KvMount
    clock: int = field(default_factory=unix_now)
    """Unix seconds the rotation periods are counted from: now, unless a test or a replay sets it."""


@dataclass(frozen=True, kw_only=True)
class DatabaseRole:
    name: str
    creation_statements: tuple[str, ...]
    revocation_statements: tuple[str, ...] = ()
    default_ttl: int = 3600
    max_ttl: int = 24 * 3600


@dataclass(frozen=True, kw_only=True)
class DatabaseStaticRole:
    name: str
    username: str
    rotation_period: int = 24 * 3600


@dataclass(frozen=True, kw_only=True)
class Database:
    """A database engine connection; the admin password is a Pulumi secret Output, never a value here."""

    name: str
    plugin: DatabasePlugin
    connection_url: str
    username: str
    password: pulumi.Output[str] = field(repr=False)
    mount: str = "database"
    verify_connection: bool = True
    rotate_root: bool = False
    roles: tuple[DatabaseRole, ...] = ()
    static_roles: tuple[DatabaseStaticRole, ...] = ()

    @property
    def roles_by_path(self) -> dict[str, DatabaseRole | DatabaseStaticRole]:
        """Each role by the path a workload reads: ``<mount>/creds/<role>``, ``<mount>/static-creds/<role>``."""
        found: dict[str, DatabaseRole | DatabaseStaticRole] = {f"{self.mount}/creds/{r.name}": r for r in self.roles}
        found |= {f"{self.mount}/static-creds/{r.name}": r for r in self.static_roles}
        return found


@dataclass(frozen=True, kw_only=True)
class ExternalSecretsSettings:
    namespace: str = "external-secrets"
    cluster_wide: bool = False
    install_method: InstallMethod = InstallMethod.HELM_CHART
    install: bool = True
    legacy: LegacyOperator | None = None


@dataclass(frozen=True, kw_only=True)
class CsiSettings:
    namespace: str = "kube-system"
    rotation_poll_interval: int = 120
    sync_secret: bool = False
    install_method: InstallMethod = InstallMethod.HELM_CHART
    install: bool = True


@dataclass(frozen=True, kw_only=True)
class AgentInjectorSettings:
    namespace: str = "vault"
    pre_populate_only: bool = False
    install_method: InstallMethod = InstallMethod.HELM_CHART
    install: bool = True


@dataclass(frozen=True, kw_only=True)
class VaultSecretsOperatorSettings:
    namespace: str = "vault-secrets-operator-system"
    renewal_percent: int = 67
    """The operator's own default (VaultDynamicSecret ``renewalPercent``)."""
    install_method: InstallMethod = InstallMethod.HELM_CHART
    install: bool = True


@dataclass(frozen=True, kw_only=True)
class CsiInstall:
    vault_address: Text
    settings: CsiSettings = CsiSettings()


@dataclass(frozen=True, kw_only=True)
class AgentInjectorInstall:
    vault_address: Text
    auth_path: str
    settings: AgentInjectorSettings = AgentInjectorSettings()


@dataclass(frozen=True, kw_only=True)
class DeliverySettings:
    external_secrets: ExternalSecretsSettings = ExternalSecretsSettings()
    csi: CsiSettings = CsiSettings()
    agent_injector: AgentInjectorSettings = AgentInjectorSettings()
    vault_secrets_operator: VaultSecretsOperatorSettings = VaultSecretsOperatorSettings()


@dataclass(frozen=True, kw_only=True)
class AuditDevice:
    type: str
    target: str
    path: str = ""
    """The device's mount path; empty means ``<type>-<8 hex digits of the target's SHA-256>``."""

    def __post_init__(self) -> None:
        if not self.path:
            digest = hashlib.sha256(self.target.encode()).hexdigest()[:8]
            object.__setattr__(self, "path", f"{self.type}-{digest}")

    @property
    def path_is_derived(self) -> bool:
        return self.path == f"{self.type}-{hashlib.sha256(self.target.encode()).hexdigest()[:8]}"


@dataclass(frozen=True, kw_only=True)
class PlatformSpec:
    vault: VaultServer
    clusters: tuple[Cluster, ...]
    workloads: tuple[Workload, ...]
    """Each with its ``cluster`` filled in (validation guarantees it names one of ``clusters``)."""
    kv: tuple[KvMount, ...] = ()
    databases: tuple[Database, ...] = ()
    delivery: DeliverySettings = DeliverySettings()
    audit_devices: tuple[AuditDevice, ...] = ()

    def cluster_of(self, workload: Workload) -> Cluster:
        return self.clusters_by_name[workload.cluster]

    @cached_property
    def clusters_by_name(self) -> dict[str, Cluster]:
        return {c.name: c for c in self.clusters}

    def workloads_in(self, cluster: Cluster) -> tuple[Workload, ...]:
        return tuple(w for w in self.workloads if w.cluster == cluster.name)

    def database_role(self, credential: DatabaseCredential) -> DatabaseRole | DatabaseStaticRole:
        """The declared role a workload's credential names (validation guarantees it exists)."""
        return self.roles_by_path[credential.api_path]

    @cached_property
    def roles_by_path(self) -> dict[str, DatabaseRole | DatabaseStaticRole]:
        """Every declared database role by the path a workload reads."""
        return {path: role for d in self.databases for path, role in d.roles_by_path.items()}
