"""One workload identity: its least-privilege Vault policy and its role on the auth mount."""

from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import pulumi_vault as vault

from . import validation as v
from .args import AuthMethod, WorkloadArgs
from .model import Workload
from .policy_document import PolicyRule, render_policy
from .spec import validate_workload
from .vault_auth import AUTH_DELEGATOR, jwt_role_inputs, kubernetes_role_inputs

# --- pure builders -------------------------------------------------------------


def workload_rules(workload: Workload) -> tuple[PolicyRule, ...]:
    """Read on exactly the paths the workload uses: KV v2 data paths (not the mount, no list, no metadata)
    and its database roles' `creds/` or `static-creds/` paths."""
    paths = [s.api_path for s in workload.secrets] + [c.api_path for c in workload.database_credentials]
    return tuple(PolicyRule(path, ("read",)) for path in paths)


def workload_policy(workload: Workload) -> str:
    return render_policy(
        workload_rules(workload),
        comment=f"vaultk8s: {workload.subject} (role {workload.role})",
    )


def auth_delegator_binding(workload: Workload) -> dict[str, Any]:
    """The ClusterRoleBinding args that let a workload's own token review itself (client-jwt mode)."""
    return {
        "metadata": {"name": f"vault-auth-delegator-{workload.namespace}-{workload.service_account}"[:253]},
        "role_ref": {"api_group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": AUTH_DELEGATOR},
        "subjects": [{"kind": "ServiceAccount", "name": workload.service_account, "namespace": workload.namespace}],
    }


# --- component -----------------------------------------------------------------


class WorkloadAccessArgs(TypedDict):
    """Vault access for one workload identity."""

    workload: WorkloadArgs
    """The workload: namespace, service account, role and the secrets it reads."""
    auth_mount: pulumi.Input[str]
    """The auth mount the role lives on (a KubernetesAuth or JwtAuth `path`)."""
    auth_method: AuthMethod
    """The auth method of that mount."""
    audience: NotRequired[str]
    """The token audience the role binds (default `vault`)."""
    grant_auth_delegator: NotRequired[bool]
    """Bind the service account to system:auth-delegator (kubernetes auth in `client-jwt` mode needs it)."""


class WorkloadAccess(pulumi.ComponentResource):
    """A least-privilege policy and a role bound to exactly one namespace and service account."""

    policy_name: pulumi.Output[str]
    """The Vault policy's name."""
    role_name: pulumi.Output[str]
    """The Vault role's name on the auth mount."""
    policy_document: pulumi.Output[str]
    """The policy's HCL."""

    def __init__(self, name: str, args: WorkloadAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        workload = validate_workload("workload", args.get("workload"))
        method = AuthMethod(
            v.choice(
                "authMethod", getattr(args.get("auth_method"), "value", args.get("auth_method")), ("kubernetes", "jwt")
            )
        )
        audience = v.audience("audience", args.get("audience", "vault"))
        delegate = v.boolean("grantAuthDelegator", args.get("grant_auth_delegator", False))
        document = workload_policy(workload)
        super().__init__("vaultk8s:index:WorkloadAccess", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        policy = vault.Policy(f"{name}-policy", name=workload.policy_name, policy=document, opts=child)
        role_inputs = (kubernetes_role_inputs if method is AuthMethod.KUBERNETES else jwt_role_inputs)(
            workload, audience, [workload.policy_name]
        )
        role_type = vault.kubernetes.AuthBackendRole if method is AuthMethod.KUBERNETES else vault.jwt.AuthBackendRole
        role = role_type(
            f"{name}-role",
            backend=args["auth_mount"],
            **role_inputs,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        if workload.create_service_account:
            k8s.core.v1.ServiceAccount(
                f"{name}-service-account",
                metadata={"name": workload.service_account, "namespace": workload.namespace},
                # Pods get Vault tokens through TokenRequest (CSI, ESO) or a projected volume (agent), never
                # the automounted API token.
                automount_service_account_token=False,
                opts=child,
            )
        if delegate:
            k8s.rbac.v1.ClusterRoleBinding(f"{name}-auth-delegator", **auth_delegator_binding(workload), opts=child)

        self.policy_name = policy.name
        self.role_name = role.role_name
        self.policy_document = pulumi.Output.from_input(document)
        self.register_outputs(
            {"policy_name": self.policy_name, "role_name": self.role_name, "policy_document": self.policy_document}
        )
