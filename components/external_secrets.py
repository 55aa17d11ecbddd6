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
"""

import base64
import re
from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi

from . import validation as v
from .args import AuthMethod
from .charts import (
    EXTERNAL_SECRETS,
    InstallMethod,
    ensure_namespace,
    install_chart,
    namespace_output,
    parse_install_method,
)
from .model import Cluster, DatabaseCredential, SecretRef, VaultServer, Workload
from .spec import MAX_LEASE_SECONDS

API_VERSION = "external-secrets.io/v1"
# The only version the VaultDynamicSecret CRD serves (generators.external-secrets.io_vaultdynamicsecrets.yaml).
GENERATOR_API_VERSION = "generators.external-secrets.io/v1alpha1"
MIN_REFRESH_SECONDS = 10
LEGACY_API_VERSION = "kubernetes-client.io/v1"
KV_VERSION = "v2"
DEFAULT_REFRESH_INTERVAL = "1h"

# Cluster-scoped or write-path kinds, each with its CRD switch and its controller switch in the chart's values.yaml.
# values.yaml: "If set to false you must also set processClusterExternalSecret: false" (and likewise for each).
_CLUSTER_WIDE_FEATURES = (
    ("createClusterExternalSecret", "processClusterExternalSecret"),
    ("createClusterSecretStore", "processClusterStore"),
    ("createClusterGenerator", "processClusterGenerator"),
    ("createClusterPushSecret", "processClusterPushSecret"),
    ("createPushSecret", "processPushSecret"),
)

_GO_DURATION = re.compile(r"^(?:\d+h)?(?:\d+m)?(?:\d+s)?$")


# --- pure builders -------------------------------------------------------------


def operator_values(cluster_wide: bool) -> dict[str, Any]:
    """Chart values: CRDs installed, ClusterSecretStore / ClusterExternalSecret / ClusterGenerator / PushSecret off.

    Off means both the CRD and its controller: a namespace admin cannot create a kind nobody installed.
    PushSecret is namespaced but writes to Vault, so it is off with the cluster-wide kinds.
    ``scopedRBAC`` / ``scopedNamespace`` stay at their defaults: they would confine the operator to one
    namespace, and workloads live in many.
    """
    enabled = v.boolean("clusterWide", cluster_wide)
    values: dict[str, Any] = {"installCRDs": True, "crds": {}}
    for crd_flag, process_flag in _CLUSTER_WIDE_FEATURES:
        values["crds"][crd_flag] = enabled
        values[process_flag] = enabled
    return values


def secrets_by_mount(secrets: Sequence[SecretRef]) -> dict[str, list[SecretRef]]:
    """The secrets grouped by KV mount, in first-use order."""
    groups: dict[str, list[SecretRef]] = {}
    for secret in secrets:
        groups.setdefault(secret.mount, []).append(secret)
    return groups


def mount_slug(mount: str) -> str:
    """A mount path as a DNS-label fragment for object names: ``team_a/kv`` -> ``team-a-kv``."""
    return re.sub(r"[^a-z0-9-]", "-", mount.lower()).strip("-")


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
        provider["caBundle"] = base64.b64encode(vault.ca_cert.encode()).decode()
    return provider


def secret_store(
    workload: Workload, vault: VaultServer, cluster: Cluster, name: str, mount: str | None = None
) -> dict[str, Any]:
    """A SecretStore in the workload's namespace that logs in as the workload and reads one KV mount.

    ``mount`` may be left out when the workload reads from a single mount.
    """
    mount = _store_mount(workload, mount)
    return {
        "apiVersion": API_VERSION,
        "kind": "SecretStore",
        "metadata": {"name": v.dns_subdomain("name", name), "namespace": workload.namespace},
        "spec": {
            "provider": {
                "vault": vault_provider(vault, cluster, mount, workload.role, {"name": workload.service_account})
            }
        },
    }


def cluster_secret_store(
    workload: Workload,
    vault: VaultServer,
    cluster: Cluster,
    name: str,
    namespaces: Sequence[str],
    mount: str | None = None,
) -> dict[str, Any]:
    """A ClusterSecretStore logging in as ``workload``'s identity, usable only from the listed ``namespaces``.

    An empty list is refused: without conditions any namespace could read through the store.
    """
    allowed = [v.dns_label(f"namespaces[{i}]", n) for i, n in enumerate(v.sequence("namespaces", namespaces))]
    if not allowed:
        raise v.SpecError("namespaces", [], "at least one namespace (a ClusterSecretStore is never open to all)")
    mount = _store_mount(workload, mount)
    ref = {"name": workload.service_account, "namespace": workload.namespace}
    return {
        "apiVersion": API_VERSION,
        "kind": "ClusterSecretStore",
        "metadata": {"name": v.dns_subdomain("name", name)},
        "spec": {
            "provider": {"vault": vault_provider(vault, cluster, mount, workload.role, ref)},
            "conditions": [{"namespaces": allowed}],
        },
    }


def external_secret(
    workload: Workload, secrets: Sequence[SecretRef], store_name: str, refresh_interval: str, name: str
) -> dict[str, Any]:
    """An ExternalSecret that owns a Secret named ``name`` with one key per secret (all from one mount)."""
    _check_secrets(workload, secrets)
    mounts = secrets_by_mount(secrets)
    if len(mounts) != 1:
        raise v.SpecError("secrets", sorted(mounts), "secrets of a single KV mount (one SecretStore reads one mount)")
    return {
        "apiVersion": API_VERSION,
        "kind": "ExternalSecret",
        "metadata": {"name": v.dns_subdomain("name", name), "namespace": workload.namespace},
        "spec": {
            "refreshInterval": go_duration("refreshInterval", refresh_interval),
            "secretStoreRef": {"name": v.dns_subdomain("storeName", store_name), "kind": "SecretStore"},
            "target": {"name": name, "creationPolicy": "Owner"},
            "data": [{"secretKey": s.name, "remoteRef": {"key": s.key_path, "property": s.key}} for s in secrets],
        },
    }


def workload_external_secrets(
    workload: Workload,
    vault: VaultServer,
    cluster: Cluster,
    refresh_interval: str = DEFAULT_REFRESH_INTERVAL,
    secrets: Sequence[SecretRef] | None = None,
    secret_name: str | None = None,
) -> list[dict[str, Any]]:
    """Every SecretStore and ExternalSecret of a workload: one pair per KV mount it reads.

    ``secrets`` defaults to all the workload's secrets, ``secret_name`` to its name. Names: store
    ``<workload>-<mount>``; ExternalSecret and its Secret ``<secret_name>`` for a single mount,
    ``<secret_name>-<mount>`` when there are several.
    """
    secret_name = secret_name or workload.name
    groups = secrets_by_mount(workload.secrets if secrets is None else secrets)
    slugs = {mount: mount_slug(mount) for mount in groups}
    if len(set(slugs.values())) != len(slugs):
        raise v.SpecError(
            "secrets", sorted(groups), "KV mounts whose names differ after lowercasing and '/'/'_' -> '-'"
        )
    objects: list[dict[str, Any]] = []
    for mount, secrets in groups.items():
        store = f"{workload.name}-{slugs[mount]}"
        target = secret_name if len(groups) == 1 else f"{secret_name}-{slugs[mount]}"
        objects.append(secret_store(workload, vault, cluster, store, mount))
        objects.append(external_secret(workload, secrets, store, refresh_interval, target))
    return objects


def legacy_external_secret(
    workload: Workload, secrets: Sequence[SecretRef], cluster: Cluster, name: str
) -> dict[str, Any]:
    """Deprecated: the archived kubernetes-external-secrets (``kubernetes-client.io/v1``) form of the seed document.

    Kept to reproduce and migrate the seed's example. Its controller logs in with its *own* service
    account token, so ``vaultRole`` must bind the controller, not the workload: prefer ``external_secret``.
    """
    _check_secrets(workload, secrets)
    return {
        "apiVersion": LEGACY_API_VERSION,
        "kind": "ExternalSecret",
        "metadata": {"name": v.dns_subdomain("name", name), "namespace": workload.namespace},
        "spec": {
            "backendType": "vault",
            "vaultMountPoint": cluster.auth_mount,
            "vaultRole": workload.role,
            "data": [{"key": s.api_path, "name": s.name, "property": s.key} for s in secrets],
        },
    }


def vault_dynamic_secret(
    workload: Workload, credential: DatabaseCredential, vault: VaultServer, cluster: Cluster, name: str
) -> dict[str, Any]:
    """A VaultDynamicSecret generator in the workload's namespace: GET ``credential.api_path`` as the workload.

    ``spec.path`` is the full logical path with its mount and no ``/v1/`` (the generator hands it to the
    Vault client's ``Logical().Read``, which adds ``/v1/``). A static role is read the same way: a GET on
    ``static-creds/<role>`` returns the current password and creates no lease.
    """
    _check_credential(workload, credential)
    return {
        "apiVersion": GENERATOR_API_VERSION,
        "kind": "VaultDynamicSecret",
        "metadata": {"name": v.dns_subdomain("name", name), "namespace": workload.namespace},
        "spec": {
            "path": credential.api_path,
            "method": "GET",
            "provider": vault_provider(vault, cluster, None, workload.role, {"name": workload.service_account}),
        },
    }


def refresh_before_expiry(default_ttl_seconds: int) -> str:
    """A refresh interval (Go duration) of two thirds of a lease TTL, rounded down, so a refresh lands first.

    The remaining third is the margin for the operator's queue, the kubelet's Secret sync into
    mounted volumes (about a minute) and the application re-reading the file. Each refresh creates a
    NEW lease; the one it replaces is not revoked and lives until its own TTL, so about 1.5 leases
    per ExternalSecret exist at any time. A TTL under 15s is refused (the interval is at least 10s),
    as is one over Vault's 32-day lease ceiling.
    """
    # The smallest TTL whose two thirds is still the 10s floor; below it the floor would reach the expiry.
    minimum_ttl = MIN_REFRESH_SECONDS * 3 // 2
    ttl = v.integer("defaultTtl", default_ttl_seconds, minimum=minimum_ttl, maximum=MAX_LEASE_SECONDS)
    return format_go_duration(ttl * 2 // 3)


def dynamic_external_secret(
    workload: Workload, credential: DatabaseCredential, generator_name: str, refresh_interval: str, name: str
) -> dict[str, Any]:
    """An ExternalSecret owning a Secret ``name`` with the generator's ``username`` and ``password`` keys.

    ``refresh_interval``: for a dynamic role use ``refresh_before_expiry(<role default_ttl>)``; the
    generator does not renew, so an interval at or past the TTL leaves an expired user in the Secret,
    and every refresh creates a new lease (the old one lives until its TTL). For a static role a read
    creates no lease; after a rotation the Secret is stale for up to one interval, so keep it short.
    Pods see the new values only through a mounted Secret volume (env vars are fixed at start).
    """
    _check_credential(workload, credential)
    return {
        "apiVersion": API_VERSION,
        "kind": "ExternalSecret",
        "metadata": {"name": v.dns_subdomain("name", name), "namespace": workload.namespace},
        "spec": {
            "refreshInterval": go_duration("refreshInterval", refresh_interval),
            "refreshPolicy": "Periodic",
            "target": {"name": name, "creationPolicy": "Owner"},
            "dataFrom": [
                {
                    "sourceRef": {
                        "generatorRef": {
                            "apiVersion": GENERATOR_API_VERSION,
                            "kind": "VaultDynamicSecret",
                            "name": v.dns_subdomain("generatorName", generator_name),
                        }
                    }
                }
            ],
        },
    }


def go_duration(field: str, value: object) -> str:
    """A Go duration string (``30s``, ``15m``, ``1h``) as the operator parses it; bare numbers are refused."""
    text = v.require_str(field, value)
    if not text or not _GO_DURATION.match(text):
        raise v.SpecError(field, value, "a duration such as '30s', '15m' or '1h' (a unit is required)")
    v.duration_seconds(field, text)
    return text


def format_go_duration(seconds: int) -> str:
    """Whole seconds as a Go duration: ``2400`` -> ``40m``, ``4806`` -> ``1h20m6s``, ``0`` -> ``0s``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
    return text or "0s"


def _check_secrets(workload: Workload, secrets: Sequence[SecretRef]) -> None:
    if not secrets:
        raise v.SpecError("secrets", [], "at least one secret")
    for i, secret in enumerate(secrets):
        if secret not in workload.secrets:
            raise v.SpecError(
                f"secrets[{i}]", secret.api_path, f"a secret of workload {workload.name!r} (its policy grants no other)"
            )


def _check_credential(workload: Workload, credential: DatabaseCredential) -> None:
    if credential not in workload.database_credentials:
        raise v.SpecError(
            "credential",
            credential.api_path,
            f"a database credential of workload {workload.name!r} (its policy grants no other)",
        )


def _store_mount(workload: Workload, mount: str | None) -> str:
    mounts = list(secrets_by_mount(workload.secrets))
    if mount is None:
        if len(mounts) != 1:
            raise v.SpecError("mount", None, "one of the workload's KV mounts: " + ", ".join(mounts))
        return mounts[0]
    return v.choice("mount", mount, tuple(mounts))


# --- component -----------------------------------------------------------------


class ExternalSecretsOperatorArgs(TypedDict):
    """An External Secrets Operator install."""

    namespace: NotRequired[str]
    """The namespace the operator runs in (default `external-secrets`)."""
    cluster_wide: NotRequired[bool]
    """Install and run ClusterSecretStore, ClusterExternalSecret, ClusterGenerator and PushSecret (default false)."""
    install_method: NotRequired[InstallMethod]
    """`helm-chart` (default) or `helm-release`."""


class ExternalSecretsOperator(pulumi.ComponentResource):
    """The External Secrets Operator chart, pinned, with cluster-wide features off unless asked for.

    ``install`` is the chart resource: SecretStores and ExternalSecrets must ``depends_on`` it.
    """

    namespace: pulumi.Output[str]
    """The namespace the operator runs in."""

    def __init__(
        self, name: str, args: ExternalSecretsOperatorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        namespace = v.dns_label("namespace", args.get("namespace", "external-secrets"))
        values = operator_values(args.get("cluster_wide", False))
        method = parse_install_method("installMethod", args.get("install_method", InstallMethod.HELM_CHART))
        super().__init__("vaultk8s:index:ExternalSecretsOperator", name, {}, opts)

        created = ensure_namespace(f"{name}-namespace", namespace, self)
        self.install = install_chart(
            f"{name}-chart",
            EXTERNAL_SECRETS,
            namespace,
            values,
            method,
            self,
            depends_on=[created] if created else None,
        )
        self.namespace = namespace_output(created, namespace)
        self.register_outputs({"namespace": self.namespace})
