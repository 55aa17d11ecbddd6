"""Each workload's effective Vault access, read back from what the stack registered.

Derived from the captured roles and policies (the HCL parsed, not the spec
re-read), so the listing shows what `pulumi up` would really create.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from components.policy_document import parse_policy
from components.spec import camel

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
    _, _, rest = str(inputs.get("boundSubject", "")).partition("system:serviceaccount:")
    namespace, _, account = rest.partition(":")
    return namespace, account


def _workload_name(role: CapturedResource, by_urn: dict[str, CapturedResource]) -> str:
    """The WorkloadAccess component's name without its SecretsPlatform's prefix."""
    owner = by_urn.get(role.parent or "")
    if owner is None:
        return role.name
    platform = by_urn.get(owner.parent or "")
    prefix = f"{platform.name}-" if platform is not None else ""
    return owner.name.removeprefix(prefix)


def workload_access(capture: Capture) -> list[WorkloadAccessView]:
    by_urn = capture.by_urn()
    deliveries: dict[str, list[dict[str, Any]]] = {}
    for value in unwrap_secrets(capture.outputs.get("delivered")) or []:
        deliveries.setdefault(value["workload"], []).append({camel(k): v for k, v in value.items() if k != "workload"})
    documents = {
        r.plain_inputs.get("name", r.name): parse_policy(r.plain_inputs.get("policy", ""))
        for r in capture.of_type(POLICY)
    }
    views = []
    for role in [r for r in capture.resources if r.type in (KUBERNETES_ROLE, JWT_ROLE)]:
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
                role=str(inputs.get("roleName", "")),
                policies=policies,
                access={path: sorted(caps) for path, caps in sorted(access.items())},
                tokenTtl=_seconds(inputs.get("tokenTtl")),
                tokenMaxTtl=_seconds(inputs.get("tokenMaxTtl")),
                deliveries=deliveries.get(name, []),
            )
        )
    return sorted(views, key=lambda v: v.name)


def _seconds(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None
