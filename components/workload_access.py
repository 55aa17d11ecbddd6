"""One workload identity: its least-privilege Vault policy and its role on the auth mount.

``register_workload_access`` registers a workload's resources under any parent: the
``WorkloadAccess`` component (one per workload, for stacks that compose their own platform)
and ``SecretsPlatform``, which registers every workload's resources directly under itself
(a component per workload cost as much as the workload's own resources) and aliases them to
the URN they had under a ``WorkloadAccess`` parent before, so existing state keeps them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_vault as vault
from pulumi.type_token import get_type_token

from .args import AuthMethod, Delivery, WorkloadAccessArgs
from .component import Component
from .model import AuthBinding, Workload
from .policy_document import PolicyRule, render_policy
from .spec import validate_workload_access
from .vault_auth import delegator_binding, jwt_role_inputs, kubernetes_role_inputs

WORKLOAD_ACCESS_TYPE = "vaultk8s:index:WorkloadAccess"
REVOKE_LEASE = "sys/leases/revoke"
ROLE_TYPES = {AuthMethod.KUBERNETES: vault.kubernetes.AuthBackendRole, AuthMethod.JWT: vault.jwt.AuthBackendRole}
ROLE_INPUTS = {AuthMethod.KUBERNETES: kubernetes_role_inputs, AuthMethod.JWT: jwt_role_inputs}

# --- pure builders -------------------------------------------------------------


def workload_rules(workload: Workload) -> tuple[PolicyRule, ...]:
    """Read on exactly the paths the workload uses: KV v2 data paths (not the mount, no list, no metadata)
    and its database roles' `creds/` or `static-creds/` paths.

    The Vault Secrets Operator revokes a VaultDynamicSecret's lease when the object is deleted (``revoke``),
    with the workload's own token: ``update`` on ``sys/leases/revoke`` for leases of exactly the roles the
    workload reads through it (``allowed_parameters``), never another lease."""
    rules = [PolicyRule(path, ("read",)) for path in workload.paths]
    revocable = tuple(
        f"{c.api_path}/*" for c in workload.credentials_for(Delivery.VAULT_SECRETS_OPERATOR) if not c.static
    )
    if revocable:
        rules.append(PolicyRule(REVOKE_LEASE, ("update",), (("lease_id", revocable),)))
    return tuple(rules)


def workload_policy(workload: Workload) -> str:
    return render_policy(workload_rules(workload), comment=f"vaultk8s: {workload.subject} (role {workload.role})")


def auth_delegator_binding(workload: Workload) -> dict[str, Any]:
    """The ClusterRoleBinding args that let a workload's own token review itself (client-jwt mode)."""
    name = f"vault-auth-delegator-{workload.namespace}-{workload.service_account}"
    return delegator_binding(name, workload.service_account, workload.namespace)


# --- registration ----------------------------------------------------------------


@dataclass(frozen=True)
class AccessResources:
    policy: vault.Policy
    role: pulumi.CustomResource
    document: str


def register_workload_access(
    name: str,
    workload: Workload,
    binding: AuthBinding,
    parent: pulumi.Resource,
    *,
    was_under: str | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
    kubernetes: pulumi.ProviderResource | None = None,
) -> AccessResources:
    """The workload's policy and role (and, when asked, its ServiceAccount and auth-delegator binding).

    ``name`` prefixes the resource names (``<name>-policy``, ``<name>-role``, ...); ``depends_on`` is
    what the role needs first besides its policy (the auth mount it lives on). ``was_under``, the type
    of the component the resources sat under before, aliases each to the URN it had there.
    ``kubernetes`` is the provider of the workload's cluster (None: the one ``parent`` passes on).
    """

    def opts(
        resource_type: type,
        resource_name: str,
        *after: pulumi.Resource,
        provider: pulumi.ProviderResource | None = None,
    ) -> pulumi.ResourceOptions:
        aliases = [former_urn(was_under, resource_type, resource_name)] if was_under else None
        return pulumi.ResourceOptions(parent=parent, aliases=aliases, depends_on=list(after) or None, provider=provider)

    document = workload_policy(workload)
    policy_name = f"{name}-policy"
    policy = vault.Policy(policy_name, name=workload.policy_name, policy=document, opts=opts(vault.Policy, policy_name))
    role_type, role_name = ROLE_TYPES[binding.method], f"{name}-role"
    role = role_type(
        role_name,
        backend=binding.mount,
        **ROLE_INPUTS[binding.method](workload, binding),
        opts=opts(role_type, role_name, policy, *depends_on),
    )
    if workload.create_service_account:
        account = f"{name}-service-account"
        k8s.core.v1.ServiceAccount(
            account,
            metadata={"name": workload.service_account, "namespace": workload.namespace},
            # Pods get Vault tokens through TokenRequest (CSI, ESO) or a projected volume (agent), never
            # the automounted API token.
            automount_service_account_token=False,
            opts=opts(k8s.core.v1.ServiceAccount, account, provider=kubernetes),
        )
    if binding.grant_auth_delegator:
        delegator = f"{name}-auth-delegator"
        k8s.rbac.v1.ClusterRoleBinding(
            delegator,
            **auth_delegator_binding(workload),
            opts=opts(k8s.rbac.v1.ClusterRoleBinding, delegator, provider=kubernetes),
        )
    return AccessResources(policy, role, document)


def former_urn(parent_type: str, resource_type: type, name: str) -> str:
    """The URN a resource named ``name`` had under a component of type ``parent_type``.

    A URN's type holds only its immediate parent's type, so it needs neither the component's name
    nor the URN of anything above it: a plain string, which costs the SDK nothing to resolve.
    """
    token = get_type_token(resource_type)
    return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{parent_type}${token}::{name}"


# --- component -----------------------------------------------------------------


class WorkloadAccess(Component):
    """A least-privilege policy and a role bound to exactly one namespace and service account."""

    policy_name: pulumi.Output[str]
    """The Vault policy's name."""
    role_name: pulumi.Output[str]
    """The Vault role's name on the auth mount."""
    policy_document: pulumi.Output[str]
    """The policy's HCL."""

    def __init__(self, name: str, args: WorkloadAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self._build(name, validate_workload_access(args), opts)

    def _build(self, name: str, model: tuple[Workload, AuthBinding], opts: pulumi.ResourceOptions | None) -> None:
        workload, binding = model
        super().__init__(WORKLOAD_ACCESS_TYPE, name, {}, opts)
        registered = register_workload_access(name, workload, binding, self)
        self.policy_name = registered.policy.name
        self.role_name = pulumi.Output.from_input(workload.role)
        self.policy_document = pulumi.Output.from_input(registered.document)
        self.register_outputs(
            {"policy_name": self.policy_name, "role_name": self.role_name, "policy_document": self.policy_document}
        )
