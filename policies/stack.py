"""Rules over the whole stack: audit devices, how roles, policies and delivery objects relate, and Pulumi hygiene."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import (
    SECRET_FIELDS,
    STACK_TYPE,
    Level,
    Problem,
    Resource,
    Severity,
    credential_name,
    int_param,
    is_set,
    is_unknown,
    leaves,
    mapping,
    resource_rule,
    secret_field_values,
    secret_looking_value,
    stack_rule,
    strings_param,
)
from .csi import SECRET_PROVIDER_CLASSES, parameters
from .external_secrets import CLUSTER_SECRET_STORES, VAULT_CLIENTS, store_role
from .kubernetes import AGENT, WORKLOAD_TYPES, namespace_of, pod_annotations
from .vault import (
    AUDIT,
    POLICY,
    ROLE_TYPES,
    is_workload_policy,
    policy_rules,
    role_key,
    role_namespaces,
    role_policies,
)
from .vault_hcl import covers, has_wildcard

BUILTIN_POLICIES = frozenset({"default"})
AUDIT_TARGETS = {"file": "file_path", "socket": "address", "syslog": None}
# Generators whose value is stored in plain text unless marked secret (RandomPassword/RandomBytes are secret already).
GENERATORS: Mapping[str, tuple[str, ...]] = {
    "random:index/randomString:RandomString": ("result",),
    "random:index/randomId:RandomId": ("hex", "b64Std", "b64Url", "dec"),
    "random:index/randomUuid:RandomUuid": ("result",),
}
PULUMI_SECRETS = "https://www.pulumi.com/docs/iac/concepts/secrets/"
VAULT_AUDIT = "https://developer.hashicorp.com/vault/docs/audit"


def of_type(resources: Sequence[Resource], *types: str) -> list[Resource]:
    return [r for r in resources if r.type in types]


def is_root_urn(urn: str | None) -> bool:
    parts = (urn or "").split("::")
    return len(parts) >= 4 and parts[2] == STACK_TYPE


def configured_audit_devices(resources: Sequence[Resource]) -> list[Resource]:
    """Audit devices with a known type and the option that type needs (file_path for file, address for socket)."""
    devices = []
    for audit in of_type(resources, AUDIT):
        kind = audit.get("type")
        if is_unknown(kind):
            devices.append(audit)
        elif kind in AUDIT_TARGETS:
            option = AUDIT_TARGETS[kind]
            if option is None or is_set(mapping(audit.get("options")).get(option)):
                devices.append(audit)
    return devices


# --- audit --------------------------------------------------------------------------------------------


@stack_rule(
    "vault-audit-device-present",
    description="The stack enables at least one Vault audit device.",
    level=Level.MANDATORY,
    remediation='add `vault.Audit(type="file", options={"file_path": ...})` (or a socket/syslog device).',
    source="Vault audit devices docs; Vault production hardening (enable auditing)",
    target="stack: `vault:index/audit:Audit`",
    severity=Severity.HIGH,
    url=VAULT_AUDIT,
)
def audit_device_present(resources: Sequence[Resource], _config: Mapping[str, Any]) -> Iterator[Problem]:
    if not configured_audit_devices(resources):
        yield Problem(
            "has no configured Vault audit device (type file with file_path, socket with address, or syslog)."
        )


@stack_rule(
    "vault-audit-devices-redundant",
    description="The stack enables `minAuditDevices` audit devices: Vault stops serving when every device is blocked.",
    level=Level.ADVISORY,
    remediation="add a second audit device of another kind or target (e.g. a file and a socket).",
    source="Vault audit devices docs (a blocked device blocks requests; enable more than one)",
    target="stack: `vault:index/audit:Audit`",
    params=(int_param("minAuditDevices", 2, "How many configured audit devices the stack should have.", minimum=1),),
    severity=Severity.MEDIUM,
    url=VAULT_AUDIT,
)
def audit_devices_redundant(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Problem]:
    count, wanted = len(configured_audit_devices(resources)), int(config["minAuditDevices"])
    if count < wanted:
        yield Problem(f"has {count} configured audit device(s); {wanted} recommended.")


# --- roles and policies across the stack ------------------------------------------------------------------


@stack_rule(
    "vault-role-policies-exist",
    description="Every policy a Vault role grants is defined in the stack (besides `default`).",
    level=Level.MANDATORY,
    remediation="define the policy in the stack (a WorkloadAccess does) or remove it from the role.",
    source=(
        "Vault policies guide (a role naming a missing policy silently grants whatever policy later takes that name)"
    ),
    target="stack: auth roles, `vault:index/policy:Policy`",
    severity=Severity.HIGH,
    url="https://developer.hashicorp.com/vault/docs/concepts/policies",
)
def role_policies_exist(resources: Sequence[Resource], _config: Mapping[str, Any]) -> Iterator[Problem]:
    names = [p.get("name") for p in of_type(resources, POLICY)]
    if any(is_unknown(n) for n in names):
        return
    defined = {n for n in names if isinstance(n, str)}
    for role in of_type(resources, *ROLE_TYPES):
        missing = [p for p in role_policies(role) if p not in defined and p not in BUILTIN_POLICIES]
        if missing:
            yield Problem(f"grants policies not in the stack: {', '.join(missing)}.", urn=role.urn)


def delivery_role_refs(resources: Sequence[Resource]) -> list[tuple[tuple[str, str], str, Resource]]:
    """((auth mount, role), namespace, object) for every delivery object that logs in to Vault with a role."""
    refs: list[tuple[tuple[str, str], str, Resource]] = []
    for store in of_type(resources, *VAULT_CLIENTS):
        login = store_role(store)
        if login:
            mount, role, sa_namespace = login
            namespace = sa_namespace if store.type in CLUSTER_SECRET_STORES and sa_namespace else namespace_of(store)
            refs.append(((mount.strip("/"), role), namespace, store))
    for spc in of_type(resources, *SECRET_PROVIDER_CLASSES):
        params = parameters(spc)
        spc_role = params.get("roleName")
        spc_mount = params.get("vaultAuthMountPath") or params.get("vaultKubernetesMountPath") or "kubernetes"
        known = not is_unknown(spc_role) and not is_unknown(spc_mount)
        if isinstance(spc_role, str) and isinstance(spc_mount, str) and known:
            refs.append(((spc_mount.strip("/").removeprefix("auth/"), spc_role), namespace_of(spc), spc))
    for workload in of_type(resources, *WORKLOAD_TYPES):
        annotations = pod_annotations(workload)
        agent_role = annotations.get(f"{AGENT}role")
        agent_mount = annotations.get(f"{AGENT}auth-path", "auth/kubernetes")
        if isinstance(agent_role, str) and isinstance(agent_mount, str):
            key = (agent_mount.strip("/").removeprefix("auth/"), agent_role)
            refs.append((key, namespace_of(workload), workload))
    return refs


@stack_rule(
    "vault-role-unique",
    description=(
        "No two workloads share a Vault role: role names are unique per auth mount and used from one namespace."
    ),
    level=Level.MANDATORY,
    remediation="give each workload its own role (WorkloadAccess names it after the workload).",
    source="Vault kubernetes auth guide (a role is one identity; the last writer of a role name wins)",
    target="stack: auth roles, SecretStores, SecretProviderClasses, agent-injected pods",
    severity=Severity.HIGH,
    url="https://developer.hashicorp.com/vault/docs/auth/kubernetes",
)
def role_unique(resources: Sequence[Resource], _config: Mapping[str, Any]) -> Iterator[Problem]:
    defined: dict[tuple[str, str], list[Resource]] = defaultdict(list)
    for role in of_type(resources, *ROLE_TYPES):
        key = role_key(role)
        if key:
            defined[key].append(role)
    for (mount, name), roles in defined.items():
        if len(roles) > 1:
            others = ", ".join(r.name for r in roles)
            for role in roles:
                yield Problem(
                    f"role '{name}' on mount '{mount}' is defined {len(roles)} times ({others}).", urn=role.urn
                )
    used: dict[tuple[str, str], dict[str, Resource]] = defaultdict(dict)
    for key, namespace, obj in delivery_role_refs(resources):
        used[key].setdefault(namespace, obj)
    for (mount, name), namespaces in used.items():
        if len(namespaces) > 1:
            listed = ", ".join(sorted(namespaces))
            for obj in namespaces.values():
                yield Problem(f"role '{name}' on mount '{mount}' is used from namespaces {listed}.", urn=obj.urn)


@stack_rule(
    "vault-role-own-policy",
    description="A Vault role grants its own workload's policy only (`workload-<namespace>-<name>`), never another's.",
    level=Level.MANDATORY,
    remediation="grant exactly the policy WorkloadAccess creates for this namespace and service account.",
    source="Vault policies guide (least privilege); the stack's naming: workload policies are `workload-<ns>-<name>`",
    target="stack: auth roles, `vault:index/policy:Policy`",
    severity=Severity.CRITICAL,
    url="https://developer.hashicorp.com/vault/docs/concepts/policies",
)
def role_own_policy(resources: Sequence[Resource], _config: Mapping[str, Any]) -> Iterator[Problem]:
    policies_by_name = {p.get("name"): p for p in of_type(resources, POLICY) if isinstance(p.get("name"), str)}
    for role in of_type(resources, *ROLE_TYPES):
        namespaces = role_namespaces(role)
        granted = [p for p in role_policies(role) if is_workload_policy(p)]
        if len(granted) > 1:
            yield Problem(f"grants {len(granted)} workload policies ({', '.join(granted)}).", urn=role.urn)
        if len(namespaces) != 1:
            continue  # vault-role-single-identity reports it
        for name in granted:
            if not name.startswith(f"workload-{namespaces[0]}-"):
                yield Problem(f"grants '{name}', a policy of another namespace's workload.", urn=role.urn)
                continue
            policy = policies_by_name.get(name)
            if (
                policy is not None
                and not is_root_urn(policy.parent)
                and not is_root_urn(role.parent)
                and policy.parent != role.parent
            ):
                yield Problem(f"grants '{name}', a policy another workload component created.", urn=role.urn)


@stack_rule(
    "vault-policy-deny-shadowed",
    description="Warns when a broad `deny` in one policy is overridden by a more specific allow in another.",
    level=Level.ADVISORY,
    remediation="deny the specific path too, or narrow the allow: Vault applies the most specific matching path.",
    source="Vault policies guide (priority matching: the most specific path wins over a glob deny)",
    target="stack: `vault:index/policy:Policy`",
    severity=Severity.MEDIUM,
    url="https://developer.hashicorp.com/vault/docs/concepts/policies#priority-matching",
)
def deny_shadowed(resources: Sequence[Resource], _config: Mapping[str, Any]) -> Iterator[Problem]:
    parsed = [(p, policy_rules(p) or ()) for p in of_type(resources, POLICY)]
    for policy, rules in parsed:
        for deny in (r for r in rules if r.denies and has_wildcard(r.path)):
            for other, other_rules in parsed:
                if other is policy:
                    continue
                for allow in other_rules:
                    if not allow.denies and covers(deny.path, allow.path):
                        yield Problem(
                            f"deny on '{deny.path}' is overridden for '{allow.path}' by policy "
                            f"'{other.get('name', default=other.name)}'.",
                            urn=policy.urn,
                        )


# --- Pulumi hygiene ---------------------------------------------------------------------------------------


@resource_rule(
    "secret-fields-are-pulumi-secrets",
    description="Every field that holds a secret (Secret data, KV data, reviewer JWT, ...) is a Pulumi secret.",
    level=Level.MANDATORY,
    remediation="pass the value as `pulumi.Output.secret(...)` or list the field in `additional_secret_outputs`.",
    source="Pulumi secrets docs (a value not marked secret is stored in plain text in the state)",
    types=tuple(t for t in SECRET_FIELDS if not t.startswith("random:")),
    target="resources with secret fields (`kubernetes:core/v1:Secret`, `vault:kv/secretV2:SecretV2`, ...)",
    severity=Severity.CRITICAL,
    url=PULUMI_SECRETS,
)
def secret_fields_are_secrets(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    for field in SECRET_FIELDS.get(resource.type, ()):
        if is_set(resource.props.get(field)) and field not in resource.secret_outputs:
            yield Problem(f"{field} holds a value that is not marked secret.")


@stack_rule(
    "generated-secrets-are-pulumi-secrets",
    description="A generated value (RandomString, RandomId, RandomUuid) that feeds a secret field is a Pulumi secret.",
    level=Level.MANDATORY,
    remediation="generate secrets with `random.RandomPassword`, or add the output to `additional_secret_outputs`.",
    source="Pulumi secrets docs; pulumi-random docs (RandomString's result is not secret, RandomPassword's is)",
    target="stack: `random:index/*` feeding resources with secret fields",
    severity=Severity.CRITICAL,
    url=PULUMI_SECRETS,
)
def generated_secrets_are_secrets(resources: Sequence[Resource], _config: Mapping[str, Any]) -> Iterator[Problem]:
    generators = {r.urn: r for r in resources if r.type in GENERATORS}
    reported: set[str] = set()
    for consumer in resources:
        fields = [f for f in SECRET_FIELDS.get(consumer.type, ()) if is_set(consumer.props.get(f))]
        if not fields:
            continue
        feeding: set[str] = set()
        for field in fields:
            feeding.update(consumer.property_dependencies.get(field, ()))
        if not consumer.property_dependencies:
            feeding.update(consumer.dependencies)
        for urn in sorted(feeding):
            generator = generators.get(urn)
            if generator is None or urn in reported:
                continue
            plain = [o for o in GENERATORS[generator.type] if o not in generator.secret_outputs]
            if plain:
                reported.add(urn)
                yield Problem(
                    f"feeds {consumer.label}, but its {', '.join(plain)} is stored in plain text.", urn=generator.urn
                )


@stack_rule(
    "no-secret-in-stack-outputs",
    description=(
        "No stack output carries a secret. The SDK hands rules unwrapped values, so an output is judged by its "
        "name and content: a secret belongs in Vault, not in the stack's outputs."
    ),
    level=Level.MANDATORY,
    remediation="stop exporting the value (consumers read it from Vault); a reviewed `pulumi.Output.secret` export "
    "may be listed in `allowedSecretOutputs`.",
    source="Pulumi secrets docs (exports of plain values are stored and shown in plain text)",
    target="stack: `pulumi:pulumi:Stack` outputs",
    params=(
        strings_param("allowedSecretOutputs", [], "Stack outputs allowed to carry a secret (exported as secrets)."),
    ),
    severity=Severity.CRITICAL,
    url=PULUMI_SECRETS,
)
def no_secret_in_outputs(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Problem]:
    allowed = set(config["allowedSecretOutputs"] or [])
    secrets = {v for r in resources if r.type != STACK_TYPE for v in secret_field_values(r)}
    for stack in of_type(resources, STACK_TYPE):
        for name, value in stack.props.items():
            if name in allowed:
                continue
            values = list(leaves(value))
            if credential_name(name) and any(v.strip() for v in values):
                yield Problem(f"output '{name}' is named like a credential.", urn=stack.urn)
            elif any(s in v for v in values for s in secrets) or any(secret_looking_value(v) for v in values):
                yield Problem(f"output '{name}' carries a secret value.", urn=stack.urn)


RULES = (
    audit_device_present,
    audit_devices_redundant,
    role_policies_exist,
    role_unique,
    role_own_policy,
    deny_shadowed,
    secret_fields_are_secrets,
    generated_secrets_are_secrets,
    no_secret_in_outputs,
)
