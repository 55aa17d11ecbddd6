"""SecretsPlatform: the whole secrets plane of one cluster, from one validated spec."""

from dataclasses import asdict
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_vault as vault

from .agent_injector import VaultAgentInjector
from .args import AuthMethod, Delivery, ReviewerMode, SecretsPlatformArgs
from .csi import SecretsStoreCsi
from .database_secrets import DatabaseSecrets
from .delivery import DeliveryPlan, delivery_plan
from .external_secrets import ExternalSecretsOperator
from .kv_secrets import KvStore, resource_slug
from .model import PlatformSpec
from .spec import validate_platform
from .vault_audit import audit_inputs
from .vault_auth import JwtAuth, KubernetesAuth
from .workload_access import WorkloadAccess, workload_rules


def access_matrix(spec: PlatformSpec) -> dict[str, dict[str, list[str]]]:
    """Per workload, each Vault path it may use and the capabilities on it."""
    return {w.name: {r.path: list(r.capabilities) for r in workload_rules(w)} for w in spec.workloads}


def known(value: Any) -> pulumi.Output[Any]:
    """A plain value as one Output: ``Output.from_input`` on a large dict makes an Output of every leaf."""
    return pulumi.Output.from_input(True).apply(lambda _: value)


def custom_resource_name(platform: str, obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return "-".join(p for p in (platform, obj["kind"].lower(), meta.get("namespace", ""), meta["name"]) if p)


class SecretsPlatform(pulumi.ComponentResource):
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

    def __init__(self, name: str, args: SecretsPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        spec = validate_platform(args)
        plan = delivery_plan(spec)  # every delivery object is built (and checked) before anything registers
        super().__init__("vaultk8s:index:SecretsPlatform", name, {}, opts)
        self._name = name
        child = pulumi.ResourceOptions(parent=self)

        for device in spec.audit_devices:
            vault.Audit(f"{name}-audit-{resource_slug(device.path)}", **audit_inputs(device), opts=child)
        auth = self._auth(spec)
        stores = [
            KvStore(f"{name}-kv-{resource_slug(kv.mount)}", {"kv": args["kv"][i]}, opts=child)  # type: ignore[typeddict-item]
            for i, kv in enumerate(spec.kv)
        ]
        for i, db in enumerate(spec.databases):
            DatabaseSecrets(f"{name}-db-{db.name}", {"database": args["databases"][i]}, opts=child)  # type: ignore[typeddict-item]
        delegate = (
            spec.cluster.auth_method is AuthMethod.KUBERNETES and spec.cluster.reviewer is ReviewerMode.CLIENT_JWT
        )
        accesses = {
            w.name: WorkloadAccess(
                f"{name}-{w.name}",
                {
                    "workload": args["workloads"][i],
                    "auth_mount": auth.path,
                    "auth_method": spec.cluster.auth_method,
                    "audience": spec.cluster.audience,
                    "grant_auth_delegator": delegate,
                },
                opts=child,
            )
            for i, w in enumerate(spec.workloads)
        }
        self._delivery(spec, plan)

        self.auth_mount = auth.path
        self.roles = pulumi.Output.all(**{k: a.role_name for k, a in accesses.items()})  # type: ignore[assignment]
        self.policies = pulumi.Output.all(**{k: a.policy_name for k, a in accesses.items()})  # type: ignore[assignment]
        self.access = known(access_matrix(spec))
        self.next_rotations = pulumi.Output.all(*[s.next_rotations for s in stores]).apply(  # type: ignore[assignment]
            lambda maps: {
                f"{kv.mount}/{path}": when for kv, m in zip(spec.kv, maps, strict=True) for path, when in m.items()
            }
        )
        self.pod_annotations = known(plan.pod_annotations)
        self.pod_volumes = known(plan.pod_volumes)
        self.deployment_annotations = known(plan.deployment_annotations)
        self.delivered = known([asdict(value) for value in plan.values])
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
            }
        )

    def _auth(self, spec: PlatformSpec) -> KubernetesAuth | JwtAuth:
        cluster, child = spec.cluster, pulumi.ResourceOptions(parent=self)
        if cluster.auth_method is AuthMethod.KUBERNETES:
            return KubernetesAuth(
                f"{self._name}-auth",
                {
                    "path": cluster.auth_mount,
                    "kubernetes_host": cluster.api_host,
                    "kubernetes_ca_cert": cluster.ca_cert,  # type: ignore[typeddict-item]
                    "reviewer": cluster.reviewer,
                },
                opts=child,
            )
        return JwtAuth(
            f"{self._name}-auth",
            {
                "path": cluster.auth_mount,
                "issuer": cluster.issuer,  # type: ignore[typeddict-item]
                "discovery_ca_cert": cluster.ca_cert,  # type: ignore[typeddict-item]
                "validation_pubkeys": list(cluster.jwt_validation_pubkeys),
            },
            opts=child,
        )

    def _delivery(self, spec: PlatformSpec, plan: DeliveryPlan) -> None:
        """The operators some workload needs, then every custom resource after the install bringing its CRD."""
        settings, child = spec.delivery, pulumi.ResourceOptions(parent=self)
        installs: dict[Delivery, list[pulumi.Resource]] = {}
        if Delivery.EXTERNAL_SECRETS in plan.operators:
            eso = ExternalSecretsOperator(
                f"{self._name}-external-secrets",
                {
                    "namespace": settings.eso_namespace,
                    "cluster_wide": settings.eso_cluster_wide,
                    "install_method": settings.eso_install,
                },
                opts=child,
            )
            installs[Delivery.EXTERNAL_SECRETS] = [eso.install]
        if Delivery.CSI in plan.operators:
            driver = SecretsStoreCsi(
                f"{self._name}-csi",
                {
                    "vault_address": spec.vault.address,
                    "namespace": settings.csi_namespace,
                    "rotation_poll_interval": f"{settings.csi_rotation_poll_interval}s",
                    "sync_secret": settings.csi_sync_secret,
                    "install_method": settings.csi_install,
                },
                opts=child,
            )
            installs[Delivery.CSI] = list(driver.install)
        if Delivery.AGENT_INJECTOR in plan.operators:
            VaultAgentInjector(
                f"{self._name}-agent-injector",
                {
                    "vault_address": spec.vault.address,
                    "auth_path": spec.cluster.auth_mount,
                    "namespace": settings.injector_namespace,
                    "install_method": settings.injector_install,
                },
                opts=child,
            )
        for delivery, obj in plan.objects:
            body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
            k8s.apiextensions.CustomResource(
                custom_resource_name(self._name, obj),
                api_version=obj["apiVersion"],
                kind=obj["kind"],
                metadata=obj["metadata"],
                opts=pulumi.ResourceOptions(parent=self, depends_on=installs.get(delivery, [])),
                **body,
            )
