"""SecretsPlatform: the whole secrets plane of one cluster, from one validated spec."""

import pulumi

from .database_secrets import DatabaseSecrets
from .kv_secrets import KvStore, resource_slug
from .spec import AuthMethod, PlatformSpec, ReviewerMode, SecretsPlatformArgs, validate_platform
from .vault_auth import JwtAuth, KubernetesAuth
from .workload_access import WorkloadAccess


def access_matrix(spec: PlatformSpec) -> dict[str, dict[str, list[str]]]:
    """Per workload, each Vault path it may use and the capabilities on it."""
    from .workload_access import workload_rules

    return {w.name: {r.path: list(r.capabilities) for r in workload_rules(w)} for w in spec.workloads}


class SecretsPlatform(pulumi.ComponentResource):
    """Vault auth for one cluster and a least-privilege identity for every workload."""

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

    def __init__(self, name: str, args: SecretsPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        spec = validate_platform(args)
        super().__init__("vaultk8s:index:SecretsPlatform", name, {}, opts)
        cluster = spec.cluster
        child = pulumi.ResourceOptions(parent=self)

        auth: KubernetesAuth | JwtAuth
        if cluster.auth_method is AuthMethod.KUBERNETES:
            auth = KubernetesAuth(
                f"{name}-auth",
                {
                    "path": cluster.auth_mount,
                    "kubernetes_host": cluster.api_host,
                    "kubernetes_ca_cert": cluster.ca_cert,  # type: ignore[typeddict-item]
                    "reviewer": cluster.reviewer,
                },
                opts=child,
            )
        else:
            auth = JwtAuth(
                f"{name}-auth",
                {
                    "path": cluster.auth_mount,
                    "issuer": cluster.issuer,  # type: ignore[typeddict-item]
                    "discovery_ca_cert": cluster.ca_cert,  # type: ignore[typeddict-item]
                    "validation_pubkeys": list(cluster.jwt_validation_pubkeys),
                },
                opts=child,
            )
        stores = [
            KvStore(f"{name}-kv-{resource_slug(kv.mount)}", {"kv": args["kv"][i]}, opts=child)  # type: ignore[typeddict-item]
            for i, kv in enumerate(spec.kv)
        ]
        for i, db in enumerate(spec.databases):
            DatabaseSecrets(f"{name}-db-{db.name}", {"database": args["databases"][i]}, opts=child)  # type: ignore[typeddict-item]

        delegate = cluster.auth_method is AuthMethod.KUBERNETES and cluster.reviewer is ReviewerMode.CLIENT_JWT
        accesses = {
            w.name: WorkloadAccess(
                f"{name}-{w.name}",
                {
                    "workload": args["workloads"][i],
                    "auth_mount": auth.path,
                    "auth_method": cluster.auth_method,
                    "audience": cluster.audience,
                    "grant_auth_delegator": delegate,
                },
                opts=child,
            )
            for i, w in enumerate(spec.workloads)
        }

        self.auth_mount = auth.path
        self.roles = pulumi.Output.all(**{k: a.role_name for k, a in accesses.items()})  # type: ignore[assignment]
        self.policies = pulumi.Output.all(**{k: a.policy_name for k, a in accesses.items()})  # type: ignore[assignment]
        self.access = pulumi.Output.from_input(access_matrix(spec))
        self.next_rotations = pulumi.Output.all(*[s.next_rotations for s in stores]).apply(  # type: ignore[assignment]
            lambda maps: {
                f"{kv.mount}/{path}": when for kv, m in zip(spec.kv, maps, strict=True) for path, when in m.items()
            }
        )
        self.register_outputs(
            {
                "auth_mount": self.auth_mount,
                "roles": self.roles,
                "policies": self.policies,
                "access": self.access,
                "next_rotations": self.next_rotations,
            }
        )
