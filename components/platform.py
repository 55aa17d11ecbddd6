"""SecretsPlatform: the whole secrets plane of one Vault and its clusters, from one validated spec.

Each cluster is a trust domain of its own: its auth mount, the roles of its workloads on that mount,
and its delivery objects and operator installs through its own Kubernetes provider.

The args are validated once (``spec.validate_platform``); every child is registered from the
model. The auth mount, KV stores, database engines and operator installs are child components
(``Component.of``: built from their slice of the model, not validated again). Workload
identities are registered directly under the platform (``register_workload_access``): a
component per workload cost as much as the workload's own resources. They keep the state of
stacks from before, when each sat under a ``WorkloadAccess`` component, through an alias to the
URN each had there (same name and type, parent ``vaultk8s:index:WorkloadAccess``).
"""

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_vault as vault

from .agent_injector import VaultAgentInjector
from .args import Delivery, SecretsPlatformArgs, VaultServerKind
from .component import Component
from .csi import SecretsStoreCsi
from .database_secrets import DatabaseSecrets
from .delivery import DeliveryPlan, delivery_plan, registers_kubernetes_objects
from .external_secrets import ExternalSecretsOperator
from .kv_secrets import KvStore, next_rotations
from .model import (
    AgentInjectorInstall,
    Cluster,
    CsiInstall,
    KubernetesAuthSpec,
    KvStoreSpec,
    PlatformSpec,
    resource_slug,
)
from .spec import validate_platform
from .validation import SpecError
from .vault_audit import audit_inputs, server_config_stanzas
from .vault_auth import JwtAuth, KubernetesAuth
from .vault_secrets_operator import VaultSecretsOperator
from .workload_access import WORKLOAD_ACCESS_TYPE, register_workload_access, workload_rules

PLATFORM_TYPE = "vaultk8s:index:SecretsPlatform"


def access_matrix(spec: PlatformSpec) -> dict[str, dict[str, list[str]]]:
    """Per workload, each Vault path it may use and the capabilities on it."""
    return {w.name: {r.path: list(r.capabilities) for r in workload_rules(w)} for w in spec.workloads}


def known(value: Any) -> pulumi.Output[Any]:
    """A plain value as one Output: ``Output.from_input`` on a large dict makes an Output of every leaf."""
    return pulumi.Output.from_input(True).apply(lambda _: value)


def _check_kubernetes_targets(spec: PlatformSpec, kubernetes: Mapping[str, pulumi.ProviderResource]) -> None:
    """With several clusters, each that gets Kubernetes objects needs a provider of its own (its kubeconfig
    context, or the caller's): the stack's default provider would put every cluster's objects in one cluster."""
    if len(spec.clusters) < 2:
        return
    for i, cluster in enumerate(spec.clusters):
        targeted = cluster.name in kubernetes or cluster.kubeconfig_context
        if not targeted and registers_kubernetes_objects(spec, cluster):
            raise SpecError(
                f"clusters[{i}].kubeconfigContext",
                None,
                f"the kubeconfig context of cluster {cluster.name}: with several clusters, its Kubernetes "
                "objects would otherwise go to the default cluster (or set renderYamlToDirectory)",
            )


def custom_resource_name(platform: str, obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return "-".join(p for p in (platform, obj["kind"].lower(), meta.get("namespace", ""), meta["name"]) if p)


class SecretsPlatform(Component):
    """Vault auth for each cluster, a least-privilege identity per workload, secret sources and delivery."""

    auth_mount: pulumi.Output[str]
    """The Vault auth mount path workloads of the (first) cluster log in on."""
    auth_mounts: pulumi.Output[dict[str, str]]
    """Cluster name to the Vault auth mount its workloads log in on."""
    clusters: pulumi.Output[dict[str, str]]
    """Workload name to the cluster it runs in."""
    roles: pulumi.Output[dict[str, str]]
    """Workload name to its Vault role."""
    policies: pulumi.Output[dict[str, str]]
    """Workload name to its Vault policy."""
    access: pulumi.Output[dict[str, dict[str, list[str]]]]
    """Workload name to the Vault paths it may use and the capabilities on each."""
    next_rotations: pulumi.Output[dict[str, str]]
    """`<mount>/<path>` of each generated secret that rotates, to the time of its next rotation."""
    pod_annotations: pulumi.Output[dict[str, dict[str, str]]]
    """Workload name to the pod annotations of the Vault Agent injector (agent-injector deliveries)."""
    pod_volumes: pulumi.Output[dict[str, list[dict[str, Any]]]]
    """Workload name to the volumes its pod spec must declare (the agent's projected Vault token)."""
    deployment_annotations: pulumi.Output[dict[str, dict[str, str]]]
    """Workload name to the Deployment annotations that roll pods out when a synced Secret changes."""
    delivered: pulumi.Output[list[dict[str, Any]]]
    """Every delivered value: workload, path, name, delivery, worst-case staleness and lease lifetimes."""
    audit_config: pulumi.Output[str]
    """OpenBao: the `audit` stanzas its server configuration must hold (empty when the stack creates them)."""

    def __init__(self, name: str, args: SecretsPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self._build(name, validate_platform(args), opts)

    @classmethod
    def from_model(
        cls,
        name: str,
        model: PlatformSpec,
        opts: pulumi.ResourceOptions | None = None,
        kubernetes: Mapping[str, pulumi.ProviderResource] | None = None,
    ) -> "SecretsPlatform":
        """The platform of an already validated model. ``kubernetes``: the Kubernetes provider of each cluster by
        name (a stack rendering manifests passes its own); a cluster not in it gets a provider for its
        ``kubeconfigContext``, or the one ``opts`` passes on."""
        platform = cls.__new__(cls)
        platform._build(name, model, opts, kubernetes)
        return platform

    def _build(
        self,
        name: str,
        model: PlatformSpec,
        opts: pulumi.ResourceOptions | None,
        kubernetes: Mapping[str, pulumi.ProviderResource] | None = None,
    ) -> None:
        spec, plan = model, delivery_plan(model)
        _check_kubernetes_targets(spec, kubernetes or {})
        super().__init__(PLATFORM_TYPE, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        if spec.vault.kind is VaultServerKind.VAULT:
            for device in spec.audit_devices:
                # A derived path changes with the target: the new device exists before the old one goes. An
                # explicit path is reused, so the old device must go first (Vault refuses a path in use).
                vault.Audit(
                    f"{name}-audit-{resource_slug(device.path)}",
                    **audit_inputs(device),
                    opts=pulumi.ResourceOptions(parent=self, delete_before_replace=not device.path_is_derived),
                )
        audit_config = server_config_stanzas(spec.audit_devices) if spec.vault.kind is VaultServerKind.OPENBAO else ""
        self._kubernetes = {c.name: self._kubernetes_provider(c, (kubernetes or {}).get(c.name)) for c in spec.clusters}
        auths: dict[str, KubernetesAuth | JwtAuth] = {}
        for cluster in spec.clusters:
            provider = self._kubernetes[cluster.name]
            in_cluster = pulumi.ResourceOptions(parent=self, providers=[provider] if provider else None)
            auth_type = KubernetesAuth if isinstance(cluster.auth, KubernetesAuthSpec) else JwtAuth
            auths[cluster.name] = auth_type.of(cluster.resource_name(f"{name}-auth"), cluster.auth, in_cluster)
        stores = [KvStoreSpec(kv=kv) for kv in spec.kv]
        for store in stores:
            KvStore.of(f"{name}-kv-{resource_slug(store.kv.mount)}", store, child)
        for db in spec.databases:
            DatabaseSecrets.of(f"{name}-db-{db.name}", db, child)
        for w in spec.workloads:
            register_workload_access(
                f"{name}-{w.name}",
                w,
                spec.cluster_of(w).binding,
                self,
                was_under=WORKLOAD_ACCESS_TYPE,
                depends_on=[auths[w.cluster].backend],
                kubernetes=self._kubernetes[w.cluster],
            )
        for cluster in spec.clusters:
            self._delivery(spec, cluster, plan)

        self.auth_mount = pulumi.Output.from_input(spec.clusters[0].auth_mount)
        self.auth_mounts = known({c.name: c.auth_mount for c in spec.clusters})
        self.clusters = known({w.name: w.cluster for w in spec.workloads})
        self.roles = known({w.name: w.role for w in spec.workloads})
        self.policies = known({w.name: w.policy_name for w in spec.workloads})
        self.access = known(access_matrix(spec))
        self.next_rotations = known(
            {f"{s.kv.mount}/{path}": when for s in stores for path, when in next_rotations(s).items()}
        )
        self.pod_annotations = known(plan.pod_annotations)
        self.pod_volumes = known(plan.pod_volumes)
        self.deployment_annotations = known(plan.deployment_annotations)
        self.delivered = known([asdict(value) for value in plan.values])
        self.audit_config = known(audit_config)
        self.register_outputs(
            {
                "auth_mount": self.auth_mount,
                "auth_mounts": self.auth_mounts,
                "clusters": self.clusters,
                "roles": self.roles,
                "policies": self.policies,
                "access": self.access,
                "next_rotations": self.next_rotations,
                "pod_annotations": self.pod_annotations,
                "pod_volumes": self.pod_volumes,
                "deployment_annotations": self.deployment_annotations,
                "delivered": self.delivered,
                "audit_config": self.audit_config,
            }
        )

    def _kubernetes_provider(
        self, cluster: Cluster, given: pulumi.ProviderResource | None
    ) -> pulumi.ProviderResource | None:
        """The cluster's provider: the caller's, one for its kubeconfig context, or None (the inherited one)."""
        if given is not None or not cluster.kubeconfig_context:
            return given
        return k8s.Provider(
            cluster.resource_name(f"{self._name}-kubernetes"),
            context=cluster.kubeconfig_context,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _delivery(self, spec: PlatformSpec, cluster: Cluster, plan: DeliveryPlan) -> None:
        """The operators the cluster's workloads need (unless installed outside the stack), then every custom
        resource after the install bringing its CRD, all through the cluster's Kubernetes provider."""
        settings, provider = spec.delivery, self._kubernetes[cluster.name]
        name = cluster.resource_name(self._name)
        child = pulumi.ResourceOptions(parent=self, providers=[provider] if provider else None)
        needed = {d for c, d in plan.operators if c == cluster.name}
        installs: dict[Delivery, list[pulumi.Resource]] = {}
        if Delivery.EXTERNAL_SECRETS in needed and settings.external_secrets.install:
            eso = ExternalSecretsOperator.of(f"{name}-external-secrets", settings.external_secrets, child)
            installs[Delivery.EXTERNAL_SECRETS] = [eso.install]
        if Delivery.CSI in needed and settings.csi.install:
            install = CsiInstall(vault_address=spec.vault.address, settings=settings.csi)
            installs[Delivery.CSI] = list(SecretsStoreCsi.of(f"{name}-csi", install, child).install)
        if Delivery.AGENT_INJECTOR in needed and settings.agent_injector.install:
            injector = AgentInjectorInstall(
                vault_address=spec.vault.address, auth_path=cluster.auth_mount, settings=settings.agent_injector
            )
            VaultAgentInjector.of(f"{name}-agent-injector", injector, child)
        if Delivery.VAULT_SECRETS_OPERATOR in needed and settings.vault_secrets_operator.install:
            operator = VaultSecretsOperator.of(f"{name}-vault-secrets-operator", settings.vault_secrets_operator, child)
            installs[Delivery.VAULT_SECRETS_OPERATOR] = [operator.install]
        for target, delivery, obj in plan.objects:
            if target != cluster.name:
                continue
            opts = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=installs.get(delivery, []))
            if (obj["apiVersion"], obj["kind"]) == ("v1", "Secret"):  # a core object (Vault's CA, for VSO)
                k8s.core.v1.Secret(
                    custom_resource_name(name, obj),
                    metadata=obj["metadata"],
                    type=obj["type"],
                    string_data=obj["stringData"],
                    opts=opts,
                )
                continue
            body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
            k8s.apiextensions.CustomResource(
                custom_resource_name(name, obj),
                api_version=obj["apiVersion"],
                kind=obj["kind"],
                metadata=obj["metadata"],
                opts=opts,
                **body,
            )
