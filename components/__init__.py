"""vaultk8s: Vault identity and secret delivery for Kubernetes workloads, as Pulumi components."""

from .agent_injector import VaultAgentInjector
from .args import AuthMethod, ReviewerMode
from .csi import SecretsStoreCsi
from .database_secrets import DatabaseSecrets
from .external_secrets import ExternalSecretsOperator
from .kv_secrets import KvStore
from .platform import SecretsPlatform
from .validation import SpecError
from .vault_auth import JwtAuth, KubernetesAuth
from .vault_secrets_operator import VaultSecretsOperator
from .workload_access import WorkloadAccess

__version__ = "0.1.0"
"""The project's version (pyproject.toml reads it from here): the component package's schema version."""

PUBLIC_COMPONENTS = [
    KubernetesAuth,
    JwtAuth,
    WorkloadAccess,
    KvStore,
    DatabaseSecrets,
    ExternalSecretsOperator,
    SecretsStoreCsi,
    VaultAgentInjector,
    VaultSecretsOperator,
    SecretsPlatform,
]

__all__ = [
    "PUBLIC_COMPONENTS",
    "AuthMethod",
    "DatabaseSecrets",
    "ExternalSecretsOperator",
    "JwtAuth",
    "KubernetesAuth",
    "KvStore",
    "ReviewerMode",
    "SecretsPlatform",
    "SecretsStoreCsi",
    "SpecError",
    "VaultAgentInjector",
    "VaultSecretsOperator",
    "WorkloadAccess",
]
