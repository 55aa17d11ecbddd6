"""SecretsPlatform: the whole secrets plane of one cluster, from one validated spec.

The args are validated once (``spec.validate_platform``); every child is registered from the
model. The auth mount, KV stores, database engines and operator installs are child components
(``Component.of``: built from their slice of the model, not validated again). Workload
identities are registered directly under the platform (``register_workload_access``): a
component per workload cost as much as the workload's own resources. They keep the state of
stacks from before, when each sat under a ``WorkloadAccess`` component, through an alias to the
URN each had there (same name and type, parent ``vaultk8s:index:WorkloadAccess``).
"""

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
from .delivery import DeliveryPlan, delivery_plan
from .external_secrets import ExternalSecretsOperator
from .kv_secrets import KvStore, next_rotations
from .model import (
    AgentInjectorInstall,
    CsiInstall,
    KubernetesAuthSpec,
    KvStoreSpec,
    PlatformSpec,
    resource_slug,
)
from .spec import validate_platform
from .vault_audit import audit_inputs, server_config_stanzas
from .vault_auth import JwtAuth, KubernetesAuth
from .workload_access import WORKLOAD_ACCESS_TYPE, register_workload_access, workload_rules

PLATFORM_TYPE = "vaultk8s:index:SecretsPlatform"


def access_matrix(spec: PlatformSpec) -> dict[str, dict[str, list[str]]]:
    """Per workload, each Vault path it may use and the capabilities on it."""
    return {w.name: {r.path: list(r.capabilities) for r in workload_rules(w)} for w in spec.workloads}


def known(value: Any) -> pulumi.Output[Any]:
    """A plain value as one Output: ``Output.from_input`` on a large dict makes an Output of every leaf."""
    return pulumi.Output.from_input(True).apply(lambda _: value)


def custom_resource_name(platform: str, obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return "-".join(p for p in (platform, obj["kind"].lower(), meta.get("namespace", ""), meta["name"]) if p)


class SecretsPlatform(Component):
    """Vault auth for one cluster, a least-privilege identity per workload, secret sources and delivery."""

    auth_mount: pulumi.Output[str]
    """The Vault auth mount path workloads log in on."""
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

    def _build(self, name: str, model: PlatformSpec, opts: pulumi.ResourceOptions | None) -> None:
        spec, plan = model, delivery_plan(model)
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
        auth_type = KubernetesAuth if isinstance(spec.cluster.auth, KubernetesAuthSpec) else JwtAuth
        auth = auth_type.of(f"{name}-auth", spec.cluster.auth, child)
        stores = [KvStoreSpec(kv=kv) for kv in spec.kv]
        for store in stores:
            KvStore.of(f"{name}-kv-{resource_slug(store.kv.mount)}", store, child)
        for db in spec.databases:
            DatabaseSecrets.of(f"{name}-db-{db.name}", db, child)
        binding = spec.cluster.binding
        for w in spec.workloads:
            register_workload_access(
                f"{name}-{w.name}", w, binding, self, was_under=WORKLOAD_ACCESS_TYPE, depends_on=[auth.backend]
            )
        self._delivery(spec, plan)

        self.auth_mount = pulumi.Output.from_input(spec.cluster.auth_mount)
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

    def _delivery(self, spec: PlatformSpec, plan: DeliveryPlan) -> None:
        """The operators some workload needs (unless installed outside the stack), then every custom resource
        after the install bringing its CRD."""
        name, settings, child = self._name, spec.delivery, pulumi.ResourceOptions(parent=self)
        installs: dict[Delivery, list[pulumi.Resource]] = {}
        if Delivery.EXTERNAL_SECRETS in plan.operators and settings.external_secrets.install:
            eso = ExternalSecretsOperator.of(f"{name}-external-secrets", settings.external_secrets, child)
            installs[Delivery.EXTERNAL_SECRETS] = [eso.install]
        if Delivery.CSI in plan.operators and settings.csi.install:
            install = CsiInstall(vault_address=spec.vault.address, settings=settings.csi)
            installs[Delivery.CSI] = list(SecretsStoreCsi.of(f"{name}-csi", install, child).install)
        if Delivery.AGENT_INJECTOR in plan.operators and settings.agent_injector.install:
            injector = AgentInjectorInstall(
                vault_address=spec.vault.address, auth_path=spec.cluster.auth_mount, settings=settings.agent_injector
            )
            VaultAgentInjector.of(f"{name}-agent-injector", injector, child)
        for delivery, obj in plan.objects:
            body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
            k8s.apiextensions.CustomResource(
                custom_resource_name(name, obj),
                api_version=obj["apiVersion"],
                kind=obj["kind"],
                metadata=obj["metadata"],
                opts=pulumi.ResourceOptions(parent=self, depends_on=installs.get(delivery, [])),
                **body,
            )
