"""The component schema: the typed arguments of every component and their choices.

These TypedDicts and enums are what `pulumi package add` turns into the
package schema (attribute docstrings become its descriptions; the provider adds
each default from the model, its one home). Stack config uses the same names in
camelCase (``serviceAccount``); Python args snake_case. ``spec`` turns args into
the model. ``SECRET_FIELDS`` names the fields that hold secrets: stack config
must give them as secrets, and the schema marks them ``secret``.
"""

from enum import Enum
from typing import NotRequired, TypedDict

import pulumi


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
    VAULT_SECRETS_OPERATOR = "vault-secrets-operator"
    """HashiCorp's Vault Secrets Operator syncs it into a Kubernetes Secret (VaultStaticSecret,
    VaultDynamicSecret), renews leases itself and restarts the workload's Deployment when it changes."""
    NONE = "none"
    """Nothing is delivered: the application reads Vault itself with its role."""


class InstallMethod(str, Enum):
    """How a chart is installed."""

    HELM_CHART = "helm-chart"
    """`kubernetes.helm.v4.Chart`: rendered client-side, every object shows in a preview."""
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
    """How the value reaches the pod (`none`: the application reads Vault itself)."""


class DatabaseCredentialArgs(TypedDict):
    """Database credentials a workload reads from Vault's database engine."""

    mount: str
    """The database secrets engine mount (a `databases[].mount`)."""
    role: str
    """The dynamic role (read `creds/<role>`) or, with `static`, the static role (read `static-creds/<role>`)."""
    static: NotRequired[bool]
    """A static role whose password Vault rotates, instead of a dynamic role."""
    name: NotRequired[str]
    """The name the credentials have in the pod (Secret, file prefix); defaults to the role."""
    delivery: NotRequired[Delivery]
    """How the credentials reach the pod."""


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
    """The Vault token TTL, e.g. `15m`; at least 1m, at most 24h."""
    token_max_ttl: NotRequired[str]
    """The Vault token's maximum TTL, e.g. `1h`; at least the TTL, at most 24h."""
    create_service_account: NotRequired[bool]
    """Create the workload's Kubernetes ServiceAccount (off: the team's own manifests own it)."""
    database_credentials: NotRequired[list[DatabaseCredentialArgs]]
    """Database roles the workload reads credentials from; its policy grants read on exactly those."""
    refresh_interval: NotRequired[str]
    """External Secrets and the Vault Secrets Operator: how often the operator re-reads a KV secret, e.g.
    `5m`; 10s to 24h."""
    secret_name: NotRequired[str]
    """External Secrets and the Vault Secrets Operator: the synced Secret (and the object owning it);
    defaults to the workload name."""
    deployment: NotRequired[str]
    """The Deployment (in the workload's namespace) whose pods read the synced Secrets: the Vault Secrets
    Operator restarts it when one changes (`rolloutRestartTargets`). Unset: no restart."""
    secret_provider_class: NotRequired[str]
    """CSI: the SecretProviderClass name pods mount; defaults to `<name>-vault`."""
    cluster_store_namespaces: NotRequired[list[str]]
    """External Secrets: also publish a ClusterSecretStore that logs in as this workload, usable only from
    these namespaces (needs `delivery.externalSecrets.clusterWide`)."""
    cluster: NotRequired[str]
    """The cluster the workload runs in (a `clusters[].name`); may be left out when there is one cluster."""


class ClusterArgs(TypedDict):
    """The Kubernetes cluster whose workloads log in to Vault."""

    name: str
    """The cluster's name (a DNS label)."""
    api_host: str
    """The cluster API server URL that Vault calls for TokenReview (kubernetes auth)."""
    ca_cert: NotRequired[pulumi.Input[str]]
    """PEM CA certificate of the API server (kubernetes auth) or of the issuer's discovery endpoint (jwt)."""
    issuer: NotRequired[str]
    """The service-account token issuer URL (required for jwt auth)."""
    auth_method: NotRequired[AuthMethod]
    """`kubernetes` or `jwt`."""
    auth_mount: NotRequired[str]
    """The Vault auth mount path; defaults to the auth method's name (`kubernetes`, `jwt`) for the `cluster`
    key and to `<method>-<cluster name>` for each entry of `clusters`."""
    reviewer: NotRequired[ReviewerMode]
    """Kubernetes auth only: whose token reviews client tokens."""
    audience: NotRequired[str]
    """The token audience every role binds."""
    jwt_validation_pubkeys: NotRequired[list[str]]
    """JWT auth only: PEM public keys of the issuer; when empty Vault uses OIDC discovery at `issuer`."""
    kubeconfig_context: NotRequired[str]
    """The kubeconfig context the cluster's Kubernetes objects are applied to; unset: the stack's default
    Kubernetes provider (one cluster only)."""


class VaultServerKind(str, Enum):
    """Which server the stack configures."""

    VAULT = "vault"
    """HashiCorp Vault: the stack creates its audit devices through the API."""
    OPENBAO = "openbao"
    """OpenBao: audit devices are declared in the server's configuration file (OpenBao refuses to create
    them through the API); the stack creates none and exports `auditConfig`, the stanzas that file holds."""


class VaultArgs(TypedDict):
    """The Vault server that pods reach."""

    address: pulumi.Input[str]
    """The Vault address as seen from inside the cluster, e.g. `https://vault.example.com`."""
    ca_cert: NotRequired[pulumi.Input[str]]
    """PEM CA bundle of Vault's TLS certificate, for clients in the cluster."""
    server: NotRequired[VaultServerKind]
    """`vault` (default) or `openbao`: where the audit devices are created."""


class GeneratedSecretArgs(TypedDict):
    """A KV v2 secret whose values the stack generates (pulumi-random) and rotates on a schedule."""

    path: str
    """The secret's path inside the mount, e.g. `myapp`."""
    keys: list[str]
    """The keys to generate, e.g. `[apikey]`."""
    length: NotRequired[int]
    """Length of each generated value, 16 to 128."""
    special: NotRequired[bool]
    """Include punctuation (off: values safe in URLs and shells)."""
    rotate_every: NotRequired[str]
    """Rotate on the first `pulumi up` after this period, e.g. `30d`; unset: never."""


class KvMountArgs(TypedDict):
    """A KV version 2 mount and the secrets generated into it."""

    mount: str
    """The mount path, e.g. `secret`."""
    max_versions: NotRequired[int]
    """Versions kept per secret, 2 to 100: a rotation keeps the previous ones readable."""
    cas_required: NotRequired[bool]
    """Require check-and-set on every write."""
    delete_version_after: NotRequired[str]
    """Delete versions older than this, e.g. `90d`; unset: never."""
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
    """SQL dropping the user; unset: the plugin's own."""
    default_ttl: NotRequired[str]
    """Lease TTL, e.g. `1h`."""
    max_ttl: NotRequired[str]
    """Longest a lease may be renewed to, e.g. `24h`; at most 32 days."""


class DatabaseStaticRoleArgs(TypedDict):
    """A static role: an existing database user whose password Vault rotates."""

    name: str
    """The role name; workloads read `<mount>/static-creds/<name>`."""
    username: str
    """The existing database user."""
    rotation_period: NotRequired[str]
    """How often Vault rotates the password, e.g. `24h`."""


class DatabaseArgs(TypedDict):
    """A database secrets engine mount with one connection."""

    name: str
    """The connection name (a DNS label)."""
    mount: NotRequired[str]
    """The engine's mount path."""
    plugin: DatabasePlugin
    """`postgresql` or `mysql`."""
    connection_url: str
    """The connection URL with `{{username}}` and `{{password}}` placeholders (no credentials in it)."""
    username: str
    """The admin user Vault connects as."""
    password: pulumi.Input[str]
    """The admin user's password: from stack config as a secret (`pulumi config set --secret`)."""
    verify_connection: NotRequired[bool]
    """Have Vault connect when the connection is written."""
    rotate_root: NotRequired[bool]
    """Rotate the admin password after setup so only Vault knows it."""
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
    """The operator's namespace."""
    cluster_wide: NotRequired[bool]
    """Enable ClusterSecretStore, ClusterExternalSecret, ClusterGenerator and PushSecret."""
    install_method: NotRequired[InstallMethod]
    """`helm-chart` or `helm-release`."""
    install: NotRequired[bool]
    """`false` when the operator is installed outside the stack (Argo CD, a platform team): only the
    per-workload objects are registered. Default `true`."""
    legacy: NotRequired[LegacyOperator]
    """Emit the retired kubernetes-external-secrets objects instead of installing ESO (migration only)."""


class CsiArgs(TypedDict):
    """Secrets Store CSI driver settings."""

    namespace: NotRequired[str]
    """The driver's and the Vault provider's namespace."""
    rotation_poll_interval: NotRequired[str]
    """How often mounted secrets are re-read, e.g. `2m`; 10s to 24h."""
    sync_secret: NotRequired[bool]
    """Also sync mounted secrets into Kubernetes Secrets."""
    install_method: NotRequired[InstallMethod]
    """`helm-chart` or `helm-release`."""
    install: NotRequired[bool]
    """`false` when the operator is installed outside the stack (Argo CD, a platform team): only the
    per-workload objects are registered. Default `true`."""


class AgentInjectorArgs(TypedDict):
    """Vault Agent injector settings."""

    namespace: NotRequired[str]
    """The injector's namespace."""
    pre_populate_only: NotRequired[bool]
    """Only an init container, no sidecar: no renewal or re-rendering."""
    install_method: NotRequired[InstallMethod]
    """`helm-chart` or `helm-release`."""
    install: NotRequired[bool]
    """`false` when the operator is installed outside the stack (Argo CD, a platform team): only the
    per-workload objects are registered. Default `true`."""


class VaultSecretsOperatorArgs(TypedDict):
    """Vault Secrets Operator settings."""

    namespace: NotRequired[str]
    """The operator's namespace."""
    renewal_percent: NotRequired[int]
    """Dynamic secrets: the percentage of a lease's TTL after which the operator renews it; 1 to 90."""
    install_method: NotRequired[InstallMethod]
    """`helm-chart` or `helm-release`."""
    install: NotRequired[bool]
    """`false` when the operator is installed outside the stack (Argo CD, a platform team): only the
    per-workload objects are registered. Default `true`."""


class DeliveryArgs(TypedDict):
    """Settings of the delivery operators; each is installed only if some secret uses it."""

    external_secrets: NotRequired[ExternalSecretsArgs]
    """External Secrets Operator."""
    csi: NotRequired[CsiArgs]
    """Secrets Store CSI driver and Vault's CSI provider."""
    agent_injector: NotRequired[AgentInjectorArgs]
    """Vault Agent injector."""
    vault_secrets_operator: NotRequired[VaultSecretsOperatorArgs]
    """HashiCorp's Vault Secrets Operator."""


class AuditDeviceArgs(TypedDict):
    """A Vault audit device."""

    type: str
    """`file`, `socket` or `syslog`."""
    target: str
    """The file path (`file`), the `host:port` address (`socket`) or the tag (`syslog`)."""
    path: NotRequired[str]
    """The device's mount path; default `<type>-<hash of the target>`, so a new target is a new device,
    created before the old one is removed (no moment without it)."""


class SecretsPlatformArgs(TypedDict):
    """The whole secrets plane of one Vault and the clusters whose workloads read it."""

    vault: VaultArgs
    """The Vault server."""
    cluster: NotRequired[ClusterArgs]
    """The cluster and how its workloads authenticate (a platform of one cluster; or give `clusters`)."""
    clusters: NotRequired[list[ClusterArgs]]
    """Several clusters against one Vault: each a trust domain of its own, with its own auth mount; each
    workload names its `cluster`."""
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


# --- the standalone components -----------------------------------------------------------------


class KubernetesAuthArgs(TypedDict):
    """A Vault kubernetes auth mount trusting one cluster's API server."""

    path: NotRequired[str]
    """The auth mount path."""
    kubernetes_host: str
    """The cluster API server URL Vault calls for TokenReview."""
    kubernetes_ca_cert: NotRequired[pulumi.Input[str]]
    """PEM CA of the API server; required unless the reviewer is `vault-pod-token`."""
    reviewer: NotRequired[ReviewerMode]
    """Whose token reviews client tokens."""
    reviewer_namespace: NotRequired[str]
    """Namespace of the reviewer ServiceAccount in `reviewer-service-account` mode."""


class JwtAuthArgs(TypedDict):
    """A Vault jwt auth mount trusting one cluster's service-account issuer."""

    path: NotRequired[str]
    """The auth mount path."""
    issuer: str
    """The service-account issuer URL; tokens must carry it as `iss`."""
    discovery_ca_cert: NotRequired[pulumi.Input[str]]
    """PEM CA of the issuer's OIDC discovery endpoint (used when no validation keys are given)."""
    validation_pubkeys: NotRequired[list[str]]
    """PEM public keys that sign service-account tokens; when set, no discovery is used."""


class WorkloadAccessArgs(TypedDict):
    """Vault access for one workload identity."""

    workload: WorkloadArgs
    """The workload: namespace, service account, role and the secrets it reads."""
    auth_mount: pulumi.Input[str]
    """The auth mount the role lives on (a KubernetesAuth or JwtAuth `path`)."""
    auth_method: AuthMethod
    """The auth method of that mount."""
    audience: NotRequired[str]
    """The token audience the role binds."""
    grant_auth_delegator: NotRequired[bool]
    """Bind the service account to system:auth-delegator (kubernetes auth in `client-jwt` mode needs it)."""


class KvStoreArgs(TypedDict):
    """A KV v2 mount with generated secrets."""

    kv: KvMountArgs
    """The mount, its version settings and the secrets to generate."""
    clock: NotRequired[int]
    """The time (Unix seconds) rotation periods are counted from; default: now. For tests and replays."""


class DatabaseSecretsArgs(TypedDict):
    """A database secrets engine with one connection and its roles."""

    database: DatabaseArgs
    """The connection, the admin login and the roles."""


class ExternalSecretsOperatorArgs(TypedDict):
    """An External Secrets Operator install."""

    namespace: NotRequired[str]
    """The namespace the operator runs in."""
    cluster_wide: NotRequired[bool]
    """Install and run ClusterSecretStore, ClusterExternalSecret, ClusterGenerator and PushSecret."""
    install_method: NotRequired[InstallMethod]
    """`helm-chart` or `helm-release`."""


class SecretsStoreCsiArgs(TypedDict):
    """The Secrets Store CSI driver and Vault's CSI provider."""

    vault_address: pulumi.Input[str]
    """The Vault address the provider uses when a SecretProviderClass names none."""
    namespace: NotRequired[str]
    """The namespace of both DaemonSets."""
    rotation_poll_interval: NotRequired[str]
    """How often mounted secrets are re-read, e.g. `2m`; 10s to 24h."""
    sync_secret: NotRequired[bool]
    """Grant the driver the RBAC to sync mounts into Kubernetes Secrets."""
    install_method: NotRequired[InstallMethod]
    """`helm-chart` or `helm-release`."""


class VaultAgentInjectorArgs(TypedDict):
    """The Vault Agent injector webhook for an external Vault."""

    vault_address: pulumi.Input[str]
    """The Vault address agents use."""
    auth_path: str
    """The Vault auth mount agents log in on, without `auth/` (e.g. `kubernetes`)."""
    namespace: NotRequired[str]
    """The namespace the injector runs in."""
    install_method: NotRequired[InstallMethod]
    """`helm-chart` or `helm-release`."""


SECRET_FIELDS: dict[type, tuple[str, ...]] = {DatabaseArgs: ("password",)}
"""Per args type, the fields holding secrets: given as secrets in stack config, `secret: true` in the schema."""
