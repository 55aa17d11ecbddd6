"""Each workload's effective Vault access, read back from what the stack registered.

Derived from the captured roles and policies (the HCL parsed by the policy pack's reader,
the one reader of Vault policies in the project, which merges repeated stanzas as Vault
does), not from the spec re-read, so the listing shows what `pulumi up` would really create.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from components.model import parse_service_account_subject
from components.platform import PLATFORM_TYPE
from components.spec import camel
from components.workload_access import WORKLOAD_ACCESS_TYPE
from policies.vault_hcl import PolicyParseError, parse_policy

from .engine import Capture, CapturedResource, unwrap_secrets

KUBERNETES_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
JWT_ROLE = "vault:jwt/authBackendRole:AuthBackendRole"
POLICY = "vault:index/policy:Policy"


@dataclass(frozen=True)
class WorkloadAccessView:
    name: str
    namespace: str
    serviceAccount: str  # noqa: N815 (the JSON field name)
    authMount: str  # noqa: N815
    cluster: str
    role: str
    policies: list[str]
    access: dict[str, list[str]]
    tokenTtl: int | None  # noqa: N815
    tokenMaxTtl: int | None  # noqa: N815
    deliveries: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bound_identity(role: CapturedResource) -> tuple[str, str]:
    inputs = role.plain_inputs
    if role.type == KUBERNETES_ROLE:
        return (
            ",".join(inputs.get("boundServiceAccountNamespaces", [])),
            ",".join(inputs.get("boundServiceAccountNames", [])),
        )
    return parse_service_account_subject(str(inputs.get("boundSubject", ""))) or ("", "")


def _workload_name(role: CapturedResource, by_urn: Mapping[str, CapturedResource]) -> str:
    """The workload a role belongs to, from where it was registered.

    Under a SecretsPlatform a role is ``<platform>-<workload>-role``; under a WorkloadAccess
    component it is the component's name (without its platform's prefix, if it has one).
    """
    owner = by_urn.get(role.parent or "")
    if owner is not None and owner.type == PLATFORM_TYPE:
        return role.name.removeprefix(f"{owner.name}-").removesuffix("-role")
    if owner is not None and owner.type == WORKLOAD_ACCESS_TYPE:
        platform = by_urn.get(owner.parent or "")
        return owner.name.removeprefix(f"{platform.name}-" if platform is not None else "")
    return role.name


def _rules(document: Any) -> tuple[Any, ...]:
    try:
        return parse_policy(document)
    except PolicyParseError:
        return ()  # the pack reports a policy it cannot read; the listing shows no grant from it


def roles(capture: Capture) -> list[CapturedResource]:
    return [r for r in capture.resources if r.type in (KUBERNETES_ROLE, JWT_ROLE)]


def workload_access(capture: Capture) -> list[WorkloadAccessView]:
    by_urn = capture.by_urn()
    deliveries: dict[str, list[dict[str, Any]]] = {}
    for value in unwrap_secrets(capture.outputs.get("delivered")) or []:
        deliveries.setdefault(value["workload"], []).append({camel(k): v for k, v in value.items() if k != "workload"})
    documents = {
        r.plain_inputs.get("name", r.name): _rules(r.plain_inputs.get("policy", "")) for r in capture.of_type(POLICY)
    }
    # The cluster of each auth mount, as the platform exported it (a role on another mount has none).
    clusters = {mount: cluster for cluster, mount in (unwrap_secrets(capture.outputs.get("authMounts")) or {}).items()}
    views = []
    for role in roles(capture):
        inputs = role.plain_inputs
        policies = list(inputs.get("tokenPolicies", []))
        access: dict[str, set[str]] = {}
        for policy in policies:
            for rule in documents.get(policy, ()):
                access.setdefault(rule.path, set()).update(rule.capabilities)
        namespace, account = _bound_identity(role)
        name = _workload_name(role, by_urn)
        views.append(
            WorkloadAccessView(
                name=name,
                namespace=namespace,
                serviceAccount=account,
                authMount=str(inputs.get("backend", "")),
                cluster=clusters.get(str(inputs.get("backend", "")), ""),
                role=str(inputs.get("roleName", "")),
                policies=policies,
                access={path: sorted(caps) for path, caps in sorted(access.items())},
                tokenTtl=_seconds(inputs.get("tokenTtl")),
                tokenMaxTtl=_seconds(inputs.get("tokenMaxTtl")),
                deliveries=deliveries.get(name, []),
            )
        )
    return sorted(views, key=lambda v: v.name)


def resource_owners(capture: Capture, workloads: list[WorkloadAccessView]) -> dict[str, str]:
    """URN -> the workload owning that resource, for attributing policy violations.

    A workload owns its role and the policies the role grants, the Kubernetes objects bound to its
    service account (a ClusterRoleBinding's subject), and the namespaced objects of a namespace no
    other workload shares (its ServiceAccount, SecretStore, ExternalSecret, SecretProviderClass).
    """
    by_urn = capture.by_urn()
    by_identity = {(w.namespace, w.serviceAccount): w.name for w in workloads}
    by_namespace: dict[str, list[str]] = {}
    for w in workloads:
        by_namespace.setdefault(w.namespace, []).append(w.name)
    policy_owner = {p: w.name for w in workloads for p in w.policies}
    owners: dict[str, str] = {}
    for resource in capture.resources:
        inputs = resource.inputs
        if resource.type in (KUBERNETES_ROLE, JWT_ROLE):
            owners[resource.urn] = _workload_name(resource, by_urn)
        elif resource.type == POLICY and isinstance(inputs.get("name"), str) and inputs["name"] in policy_owner:
            owners[resource.urn] = policy_owner[inputs["name"]]
        elif (subject := _subject(inputs)) in by_identity:
            owners[resource.urn] = by_identity[subject]
        else:
            metadata = inputs.get("metadata")
            namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
            if isinstance(namespace, str) and len(by_namespace.get(namespace, [])) == 1:
                owners[resource.urn] = by_namespace[namespace][0]
    return owners


def _subject(inputs: Mapping[str, Any]) -> tuple[Any, Any] | None:
    subjects = inputs.get("subjects")
    if isinstance(subjects, list) and len(subjects) == 1 and isinstance(subjects[0], Mapping):
        return subjects[0].get("namespace"), subjects[0].get("name")
    return None


def _seconds(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None
