"""External Secrets Operator: its install, and the SecretStore / ExternalSecret objects of each workload.

One SecretStore per KV mount: the Vault provider's ``path`` is a single KV mount, so a
workload that reads from two mounts gets two stores, each with one ExternalSecret (and
so one target Secret) of its own; ``workload_external_secrets`` builds them all. Every
store logs in as the workload's own service account and role, never as the operator's.

Database credentials do not go through a SecretStore (its provider reads KV only): a
``VaultDynamicSecret`` generator (``vault_dynamic_secret``) GETs ``<mount>/creds/<role>``
or ``<mount>/static-creds/<role>`` as the workload, and an ExternalSecret
(``dynamic_external_secret``) writes the response's ``username`` and ``password`` into a
Secret. The generator never renews or revokes a lease: every refresh is a new read, so a
dynamic role gets a NEW lease (a new database user) per refresh while the previous one
lives on until its TTL ends. ``refresh_before_expiry`` picks an interval that replaces
the Secret well before the lease it holds expires.

The builders take the validated model and trust it: every name they write (stores, targets,
generators) is derived on the model and was checked at the edge.
"""

import base64
from collections.abc import Sequence
from typing import Any

import pulumi

from .args import AuthMethod, Delivery, ExternalSecretsOperatorArgs
from .charts import EXTERNAL_SECRETS, ChartInstall, install_operator
from .component import Component
from .durations import format_duration
from .model import (
    Cluster,
    DatabaseCredential,
    ExternalSecretsSettings,
    SecretRef,
    VaultServer,
    Workload,
    lift,
)
from .spec import validate_external_secrets_operator

API_VERSION = "external-secrets.io/v1"
# The only version the VaultDynamicSecret CRD serves (generators.external-secrets.io_vaultdynamicsecrets.yaml).
GENERATOR_API_VERSION = "generators.external-secrets.io/v1alpha1"
LEGACY_API_VERSION = "kubernetes-client.io/v1"
KV_VERSION = "v2"

# Cluster-scoped or write-path kinds, each with its CRD switch and its controller switch in the chart's values.yaml.
# values.yaml: "If set to false you must also set processClusterExternalSecret: false" (and likewise for each).
_CLUSTER_WIDE_FEATURES = (
    ("createClusterExternalSecret", "processClusterExternalSecret"),
    ("createClusterSecretStore", "processClusterStore"),
    ("createClusterGenerator", "processClusterGenerator"),
    ("createClusterPushSecret", "processClusterPushSecret"),
    ("createPushSecret", "processPushSecret"),
)


# --- pure builders -------------------------------------------------------------


def operator_values(settings: ExternalSecretsSettings) -> dict[str, Any]:
    """Chart values: CRDs installed, ClusterSecretStore / ClusterExternalSecret / ClusterGenerator / PushSecret off.

    Off means both the CRD and its controller: a namespace admin cannot create a kind nobody installed.
    PushSecret is namespaced but writes to Vault, so it is off with the cluster-wide kinds.
    ``scopedRBAC`` / ``scopedNamespace`` stay at their defaults: they would confine the operator to one
    namespace, and workloads live in many.
    """
    values: dict[str, Any] = {"installCRDs": True, "crds": {}}
    for crd_flag, process_flag in _CLUSTER_WIDE_FEATURES:
        values["crds"][crd_flag] = settings.cluster_wide
        values[process_flag] = settings.cluster_wide
    return values


def secrets_by_mount(secrets: Sequence[SecretRef]) -> dict[str, list[SecretRef]]:
    """The secrets grouped by KV mount, in first-use order."""
    groups: dict[str, list[SecretRef]] = {}
    for secret in secrets:
        groups.setdefault(secret.mount, []).append(secret)
    return groups


def ca_bundle(pem: str) -> str:
    return base64.b64encode(pem.encode()).decode()


def vault_provider(
    vault: VaultServer, cluster: Cluster, mount: str | None, role: str, service_account_ref: dict[str, Any]
) -> dict[str, Any]:
    """``spec.provider.vault`` of a (Cluster)SecretStore reading KV v2 ``mount`` as ``role``.

    With ``mount=None`` the block has no KV ``path``/``version``: the VaultDynamicSecret generator's
    ``spec.provider`` (same schema) only builds a logged-in client and reads its own ``spec.path``.
    """
    ref = {**service_account_ref, "audiences": [cluster.audience]}
    auth: dict[str, Any]
    if cluster.auth_method is AuthMethod.KUBERNETES:
        auth = {"kubernetes": {"mountPath": cluster.auth_mount, "role": role, "serviceAccountRef": ref}}
    else:
        # kubernetesServiceAccountToken.audiences is deprecated in the CRD ("use serviceAccountRef.Audiences").
        auth = {
            "jwt": {
                "path": cluster.auth_mount,
                "role": role,
                "kubernetesServiceAccountToken": {"serviceAccountRef": ref},
            }
        }
    provider: dict[str, Any] = {"server": vault.address}
    if mount is not None:
        provider.update({"path": mount, "version": KV_VERSION})
    provider["auth"] = auth
    if vault.ca_cert is not None:
        provider["caBundle"] = lift(vault.ca_cert, ca_bundle)
    return provider


def secret_store(workload: Workload, vault: VaultServer, cluster: Cluster, mount: str) -> dict[str, Any]:
    """A SecretStore in the workload's namespace that logs in as the workload and reads one KV mount."""
    return {
        "apiVersion": API_VERSION,
        "kind": "SecretStore",
        "metadata": {"name": workload.store_name(mount), "namespace": workload.namespace},
        "spec": {
            "provider": {
                "vault": vault_provider(vault, cluster, mount, workload.role, {"name": workload.service_account})
            }
        },
    }


def cluster_secret_store(workload: Workload, vault: VaultServer, cluster: Cluster, mount: str) -> dict[str, Any]:
    """A ClusterSecretStore logging in as ``workload``'s identity, usable only from its ``clusterStoreNamespaces``."""
    ref = {"name": workload.service_account, "namespace": workload.namespace}
    return {
        "apiVersion": API_VERSION,
        "kind": "ClusterSecretStore",
        "metadata": {"name": workload.cluster_store_name(mount)},
        "spec": {
            "provider": {"vault": vault_provider(vault, cluster, mount, workload.role, ref)},
            "conditions": [{"namespaces": list(workload.cluster_store_namespaces)}],
        },
    }


def external_secret(workload: Workload, secrets: Sequence[SecretRef], store: str, name: str) -> dict[str, Any]:
    """An ExternalSecret that owns a Secret named ``name`` with one key per secret (all from one mount)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": workload.namespace},
        "spec": {
            "refreshInterval": format_duration(workload.refresh_interval),
            "secretStoreRef": {"name": store, "kind": "SecretStore"},
            "target": {"name": name, "creationPolicy": "Owner"},
            "data": [{"secretKey": s.name, "remoteRef": {"key": s.key_path, "property": s.key}} for s in secrets],
        },
    }


def workload_external_secrets(workload: Workload, vault: VaultServer, cluster: Cluster) -> list[dict[str, Any]]:
    """Every SecretStore and ExternalSecret of the workload's External Secrets deliveries: one pair per KV mount.

    Names: store ``<workload>-<mount>``; ExternalSecret and its Secret ``secretName`` for a single
    mount, ``<secretName>-<mount>`` when there are several (``Workload.store_name``, ``target_name``).
    """
    groups = secrets_by_mount(workload.secrets_for(Delivery.EXTERNAL_SECRETS))
    objects: list[dict[str, Any]] = []
    for mount, secrets in groups.items():
        store = workload.store_name(mount)
        objects.append(secret_store(workload, vault, cluster, mount))
        objects.append(external_secret(workload, secrets, store, workload.target_name(mount, len(groups))))
    return objects


def legacy_external_secret(workload: Workload, cluster: Cluster) -> dict[str, Any]:
    """Deprecated: the archived kubernetes-external-secrets (``kubernetes-client.io/v1``) form of the seed document.

    Kept to reproduce and migrate the seed's example. Its controller logs in with its *own* service
    account token, so ``vaultRole`` must bind the controller, not the workload: prefer ``external_secret``.
    """
    return {
        "apiVersion": LEGACY_API_VERSION,
        "kind": "ExternalSecret",
        "metadata": {"name": workload.secret_name, "namespace": workload.namespace},
        "spec": {
            "backendType": "vault",
            "vaultMountPoint": cluster.auth_mount,
            "vaultRole": workload.role,
            "data": [
                {"key": s.api_path, "name": s.name, "property": s.key}
                for s in workload.secrets_for(Delivery.EXTERNAL_SECRETS)
            ],
        },
    }


def vault_dynamic_secret(
    workload: Workload, credential: DatabaseCredential, vault: VaultServer, cluster: Cluster
) -> dict[str, Any]:
    """A VaultDynamicSecret generator in the workload's namespace: GET ``credential.api_path`` as the workload.

    ``spec.path`` is the full logical path with its mount and no ``/v1/`` (the generator hands it to the
    Vault client's ``Logical().Read``, which adds ``/v1/``). A static role is read the same way: a GET on
    ``static-creds/<role>`` returns the current password and creates no lease.
    """
    return {
        "apiVersion": GENERATOR_API_VERSION,
        "kind": "VaultDynamicSecret",
        "metadata": {"name": workload.generator_name(credential), "namespace": workload.namespace},
        "spec": {
            "path": credential.api_path,
            "method": "GET",
            "provider": vault_provider(vault, cluster, None, workload.role, {"name": workload.service_account}),
        },
    }


def refresh_before_expiry(lifetime_seconds: int) -> int:
    """A refresh interval of two thirds of a lease TTL (or rotation period), rounded down, so a refresh lands first.

    The remaining third is the margin for the operator's queue, the kubelet's Secret sync into
    mounted volumes (about a minute) and the application re-reading the file. Each refresh creates a
    NEW lease; the one it replaces is not revoked and lives until its own TTL, so about 1.5 leases
    per ExternalSecret exist at any time. The edge refuses a lifetime under 15s (the interval would
    fall under the operator's 10s floor).
    """
    return lifetime_seconds * 2 // 3


def dynamic_external_secret(workload: Workload, credential: DatabaseCredential, lifetime: int) -> dict[str, Any]:
    """An ExternalSecret owning a Secret named after the credential with the generator's ``username`` and ``password``.

    It refreshes at ``refresh_before_expiry(lifetime)``: the generator does not renew, so an interval
    at or past the TTL leaves an expired user in the Secret, and every refresh creates a new lease (the
    old one lives until its TTL). For a static role a read creates no lease; after a rotation the
    Secret is stale for up to one interval. Pods see the new values only through a mounted Secret
    volume (env vars are fixed at start).
    """
    return {
        "apiVersion": API_VERSION,
        "kind": "ExternalSecret",
        "metadata": {"name": credential.name, "namespace": workload.namespace},
        "spec": {
            "refreshInterval": format_duration(refresh_before_expiry(lifetime)),
            "refreshPolicy": "Periodic",
            "target": {"name": credential.name, "creationPolicy": "Owner"},
            "dataFrom": [
                {
                    "sourceRef": {
                        "generatorRef": {
                            "apiVersion": GENERATOR_API_VERSION,
                            "kind": "VaultDynamicSecret",
                            "name": workload.generator_name(credential),
                        }
                    }
                }
            ],
        },
    }


# --- component -----------------------------------------------------------------


class ExternalSecretsOperator(Component):
    """The External Secrets Operator chart, pinned, with cluster-wide features off unless asked for.

    ``install`` is the chart resource: SecretStores and ExternalSecrets must ``depends_on`` it.
    """

    namespace: pulumi.Output[str]
    """The namespace the operator runs in."""

    def __init__(
        self, name: str, args: ExternalSecretsOperatorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        self._build(name, validate_external_secrets_operator(args), opts)

    def _build(self, name: str, model: ExternalSecretsSettings, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__("vaultk8s:index:ExternalSecretsOperator", name, {}, opts)
        chart = ChartInstall("chart", EXTERNAL_SECRETS, operator_values(model))
        (self.install,), self.namespace = install_operator(self, name, model.namespace, model.install_method, [chart])
        self.register_outputs({"namespace": self.namespace})
