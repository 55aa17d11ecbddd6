"""The delivery plan: from the validated spec, every delivery object, annotation and staleness bound.

Pure, over the validated model (nothing here re-checks it): ``delivery_plan(spec)``
decides which operators each cluster needs, builds each custom resource (through the builders
of external_secrets, csi, agent_injector and vault_secrets_operator), the pod and Deployment annotations a team
copies into its manifests, and, per delivered value, the worst-case delay before a
change in Vault reaches the pod. ``SecretsPlatform`` only registers what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import agent_injector, csi, external_secrets
from . import vault_secrets_operator as vso
from .args import Delivery, ReviewerMode
from .model import Cluster, DatabaseCredential, DatabaseStaticRole, KubernetesAuthSpec, PlatformSpec, Workload

# Vault Agent re-renders templates of non-leased (KV) secrets on this interval (its default).
AGENT_STATIC_RENDER_SECONDS = 300
RELOADER_ANNOTATION = "secret.reloader.stakater.com/reload"
DELIVERIES = (Delivery.EXTERNAL_SECRETS, Delivery.CSI, Delivery.AGENT_INJECTOR, Delivery.VAULT_SECRETS_OPERATOR)


@dataclass(frozen=True)
class DeliveredValue:
    """One value as a pod receives it, and how stale it can be."""

    workload: str
    path: str
    name: str
    delivery: str
    staleness_seconds: int | None  # None: never refreshed while the pod runs
    lease_ttl_seconds: int | None = None  # dynamic database credentials: the lease's TTL and max
    lease_max_ttl_seconds: int | None = None
    rotation_period_seconds: int | None = None  # static database credentials: Vault's rotation period
    renewed_by: str = ""


@dataclass(frozen=True)
class DeliveryPlan:
    operators: frozenset[tuple[str, Delivery]]  # (cluster, the operator installed in it)
    objects: tuple[tuple[str, Delivery, dict[str, Any]], ...]  # (cluster, the install whose CRD it needs, object)
    pod_annotations: dict[str, dict[str, str]] = field(default_factory=dict)
    pod_volumes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deployment_annotations: dict[str, dict[str, str]] = field(default_factory=dict)
    values: tuple[DeliveredValue, ...] = ()


def _lifetime(spec: PlatformSpec, credential: DatabaseCredential) -> tuple[int | None, int | None, int | None]:
    """(lease TTL, lease max TTL, rotation period) of the role a credential reads."""
    role = spec.database_role(credential)
    if isinstance(role, DatabaseStaticRole):
        return None, None, role.rotation_period
    return role.default_ttl, role.max_ttl, None


def _eso_objects(spec: PlatformSpec, w: Workload) -> list[dict[str, Any]]:
    settings, cluster = spec.delivery.external_secrets, spec.cluster_of(w)
    if settings.legacy is not None:
        return [external_secrets.legacy_external_secret(w, cluster)] if w.secrets_for(Delivery.EXTERNAL_SECRETS) else []
    objects = external_secrets.workload_external_secrets(w, spec.vault, cluster)
    if w.cluster_store_namespaces:
        objects += [
            external_secrets.cluster_secret_store(w, spec.vault, cluster, mount)
            for mount in external_secrets.secrets_by_mount(w.secrets)
        ]
    for credential in w.credentials_for(Delivery.EXTERNAL_SECRETS):
        ttl, _, period = _lifetime(spec, credential)
        objects.append(external_secrets.vault_dynamic_secret(w, credential, spec.vault, cluster))
        objects.append(external_secrets.dynamic_external_secret(w, credential, ttl or period or 0))
    return objects


def _values(spec: PlatformSpec, w: Workload) -> list[DeliveredValue]:
    settings = spec.delivery
    agent_stale = None if settings.agent_injector.pre_populate_only else AGENT_STATIC_RENDER_SECONDS
    kv_staleness = {
        Delivery.EXTERNAL_SECRETS: w.refresh_interval,
        Delivery.CSI: settings.csi.rotation_poll_interval,
        Delivery.AGENT_INJECTOR: agent_stale,
        Delivery.VAULT_SECRETS_OPERATOR: w.refresh_interval,
        Delivery.NONE: 0,
    }
    values = [DeliveredValue(w.name, s.api_path, s.name, s.delivery.value, kv_staleness[s.delivery]) for s in w.secrets]
    for c in w.database_credentials:
        ttl, max_ttl, period = _lifetime(spec, c)
        staleness, renewer = _credential_freshness(spec, c, ttl or period or 0)
        values.append(
            DeliveredValue(w.name, c.api_path, c.name, c.delivery.value, staleness, ttl, max_ttl, period, renewer)
        )
    return values


def _credential_freshness(spec: PlatformSpec, c: DatabaseCredential, lifetime: int) -> tuple[int | None, str]:
    """Worst-case staleness of delivered database credentials, and who renews their lease."""
    fresh = "the {}, which reads the current password" if c.static else "nobody: each {} takes a new lease"
    if c.delivery is Delivery.EXTERNAL_SECRETS:
        return external_secrets.refresh_before_expiry(lifetime), fresh.format("operator's refresh")
    if c.delivery is Delivery.CSI:
        return spec.delivery.csi.rotation_poll_interval, fresh.format("driver's rotation poll")
    if c.delivery is Delivery.AGENT_INJECTOR:
        if spec.delivery.agent_injector.pre_populate_only:
            return None, "nobody (init container only)"
        return AGENT_STATIC_RENDER_SECONDS, "the Vault Agent sidecar"
    if c.delivery is Delivery.VAULT_SECRETS_OPERATOR:
        return vso.credential_freshness(lifetime, c.static, spec.delivery.vault_secrets_operator)
    return 0, "the application"


def _uses(w: Workload, delivery: Delivery) -> bool:
    return any(s.delivery is delivery for s in w.secrets) or any(c.delivery is delivery for c in w.database_credentials)


def delivery_plan(spec: PlatformSpec) -> DeliveryPlan:
    """Everything the delivery plane registers or exports, from the validated model; each object goes to the
    cluster of its workload, and each operator is installed in the clusters whose workloads use it."""
    operators: set[tuple[str, Delivery]] = set()
    objects: list[tuple[str, Delivery, dict[str, Any]]] = []
    pods: dict[str, dict[str, str]] = {}
    volumes: dict[str, list[dict[str, Any]]] = {}
    deployments: dict[str, dict[str, str]] = {}
    values: list[DeliveredValue] = []
    sync = spec.delivery.csi.sync_secret
    for w in spec.workloads:
        cluster = spec.cluster_of(w)
        used = {d for d in DELIVERIES if _uses(w, d)}
        operators |= {(cluster.name, d) for d in used}
        eso_objects = _eso_objects(spec, w) if Delivery.EXTERNAL_SECRETS in used else []
        objects += [(cluster.name, Delivery.EXTERNAL_SECRETS, o) for o in eso_objects]
        if Delivery.CSI in used:
            objects.append((cluster.name, Delivery.CSI, csi.secret_provider_class(w, spec.vault, cluster, sync)))
        if Delivery.AGENT_INJECTOR in used:
            pods[w.name] = agent_injector.pod_annotations(
                w, cluster, pre_populate_only=spec.delivery.agent_injector.pre_populate_only
            )
            # The agent logs in with a token for Vault's audience, from a projected volume the pod declares.
            volumes[w.name] = [agent_injector.vault_token_volume(cluster.audience)]
        vso_objects = (
            vso.workload_objects(w, spec.vault, cluster, spec.delivery.vault_secrets_operator)
            if Delivery.VAULT_SECRETS_OPERATOR in used
            else []
        )
        objects += [(cluster.name, Delivery.VAULT_SECRETS_OPERATOR, o) for o in vso_objects]
        # Env-var consumers of synced Secrets roll out when the Secret changes (Stakater Reloader); the Vault
        # Secrets Operator restarts the workload's Deployment itself when the stack knows it.
        synced = [
            o["spec"]["target"]["name"]
            for o in eso_objects
            if o["kind"] == "ExternalSecret" and o["apiVersion"] == external_secrets.API_VERSION
        ]
        if Delivery.CSI in used and sync:
            synced.append(w.secret_provider_class)
        if not w.deployment:
            synced += [o["spec"]["destination"]["name"] for o in vso_objects if "destination" in o.get("spec", {})]
        if synced:
            deployments[w.name] = {RELOADER_ANNOTATION: ",".join(synced)}
        values += _values(spec, w)
    if spec.delivery.external_secrets.legacy is not None:
        operators = {(c, d) for c, d in operators if d is not Delivery.EXTERNAL_SECRETS}
    return DeliveryPlan(frozenset(operators), tuple(objects), pods, volumes, deployments, tuple(values))


def registers_kubernetes_objects(spec: PlatformSpec, cluster: Cluster) -> bool:
    """Whether the stack registers anything in the cluster: a delivery's objects or install, a workload's
    ServiceAccount or auth-delegator binding, the reviewer ServiceAccount and its token Secret."""
    auth = cluster.auth
    if isinstance(auth, KubernetesAuthSpec) and auth.reviewer is ReviewerMode.REVIEWER_SERVICE_ACCOUNT:
        return True
    workloads = spec.workloads_in(cluster)
    if workloads and cluster.binding.grant_auth_delegator:
        return True
    return any(w.create_service_account or any(_uses(w, d) for d in DELIVERIES) for w in workloads)
