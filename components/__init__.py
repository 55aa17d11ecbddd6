"""vaultk8s: Vault identity and secret delivery for Kubernetes workloads, as Pulumi components."""

from .database_secrets import DatabaseSecrets
from .kv_secrets import KvStore
from .platform import SecretsPlatform
from .spec import AuthMethod, ReviewerMode
from .validation import SpecError
from .vault_auth import JwtAuth, KubernetesAuth
from .workload_access import WorkloadAccess

PUBLIC_COMPONENTS = [KubernetesAuth, JwtAuth, WorkloadAccess, KvStore, DatabaseSecrets, SecretsPlatform]

__all__ = [
    "PUBLIC_COMPONENTS",
    "AuthMethod",
    "DatabaseSecrets",
    "JwtAuth",
    "KubernetesAuth",
    "KvStore",
    "ReviewerMode",
    "SecretsPlatform",
    "SpecError",
    "WorkloadAccess",
]
