"""Rules over the whole stack: audit devices, how roles, policies and delivery objects relate, and Pulumi hygiene.

The engine hands stack rules each resource's *outputs* (``AnalyzeStack``), the root stack's being the exports.
Every stack rule here is linear in the number of resources (or near it: sorting).
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import (
    STACK_TYPE,
    Level,
    Problem,
    Resource,
    Severity,
    cannot_check,
    int_param,
    resource_rule,
    stack_rule,
    stack_secrets,
    strings_param,
)
from .credentials import SECRET_FIELDS, credential_entry, credential_name, not_a_credential, secret_looking_value
from .csi import SECRET_PROVIDER_CLASSES, parameters
from .external_secrets import CLUSTER_SECRET_STORES, VAULT_CLIENTS, store_role
from .kubernetes import AGENT, namespace_of, pod_template
from .values import has_unknown, is_set, is_unknown, leaves, strings
from .vault import (
    AUDIT,
    POLICY,
    ROLE_TYPES,
    audit_file_path,
    audit_option,
    mount_path,
    policy_name,
    policy_rules,
    role_key,
    role_namespaces,
    role_policies,
    role_policies_unknown,
)
from .vault_hcl import covers, has_wildcard, literal_prefix, sample

BUILTIN_POLICIES = frozenset({"default", "root"})
WORKLOAD_POLICY_PREFIX = "workload-"
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
    wanted = frozenset(types)
    return [r for r in resources if r.type in wanted]


def is_root_urn(urn: str | None) -> bool:
    parts = (urn or "").split("::")
    return len(parts) >= 4 and parts[2] == STACK_TYPE


def is_workload_policy(name: Any) -> bool:
    """The stack's naming: a workload's policy is ``workload-<namespace>-<name>`` (WorkloadAccess names it)."""
    return isinstance(name, str) and name.startswith(WORKLOAD_POLICY_PREFIX)


def audit_device_state(audit: Resource) -> bool | None:
    """Whether a device records: a known type with the option it needs, not discarding; None while unknown."""
    kind = audit.get("type")
    if is_unknown(kind):
        return None
    if not isinstance(kind, str) or kind not in AUDIT_TARGETS:
        return False
    option = AUDIT_TARGETS[kind]
    if option is None:
        return True
    target = audit_file_path(audit) if kind == "file" else audit_option(audit, option)
    if is_unknown(target):
        return None
    return is_set(target) and not (kind == "file" and isinstance(target, str) and target.strip() == "discard")


# What SecretsPlatform exports for OpenBao: the `audit "<type>" "<path>"` stanzas the server's configuration
# declares (OpenBao creates audit devices only from its configuration file, never through the API).
AUDIT_CONFIG_OUTPUT = "auditConfig"
_DECLARED_DEVICE = re.compile(r'^audit\s+"(file|socket|syslog)"\s+"[^"]+"\s*\{', re.MULTILINE)


def declared_audit_devices(resources: Sequence[Resource]) -> list[Resource]:
    """One entry per device the root stack exports as declared in the server's configuration."""
    declared = []
    for stack in of_type(resources, STACK_TYPE):
        stanzas = stack.props.get(AUDIT_CONFIG_OUTPUT)
        if isinstance(stanzas, str):
            declared += [stack] * len(_DECLARED_DEVICE.findall(stanzas))
    return declared


def audit_devices(resources: Sequence[Resource]) -> tuple[list[Resource], list[Resource]]:
    """(devices that record, devices not known yet): the stack's `vault.Audit` resources and the devices it
    declares in the server's configuration."""
    states = [(audit, audit_device_state(audit)) for audit in of_type(resources, AUDIT)]
    recording = [a for a, s in states if s] + declared_audit_devices(resources)
    return recording, [a for a, s in states if s is None]


# --- audit --------------------------------------------------------------------------------------------


@stack_rule(
    "vault-audit-device-present",
    description="The stack enables at least one Vault audit device that records.",
    why=(
        "Without an audit device Vault records no request: no trace of who read which secret. A file device "
        "needs `file_path` (and `discard` records nothing), a socket device an `address`. On OpenBao the devices "
        "are declared in the server's configuration; they count when the stack exports those stanzas as "
        "`auditConfig` (SecretsPlatform does, with `vault.server: openbao`)."
    ),
    level=Level.MANDATORY,
    remediation='add `vault.Audit(type="file", options={"file_path": ...})` (or a socket/syslog device).',
    source="Vault audit devices docs; Vault production hardening (enable auditing)",
    target="stack: `vault:index/audit:Audit`",
    severity=Severity.HIGH,
    url=VAULT_AUDIT,
)
def audit_device_present(resources: Sequence[Resource], _config: Mapping[str, Any]) -> Iterator[Problem]:
    recording, unknown = audit_devices(resources)
    if recording:
        return
    if unknown:
        yield from (cannot_check("the device's type and options", urn=a.urn) for a in unknown)
        return
    yield Problem("has no configured Vault audit device (type file with file_path, socket with address, or syslog).")


@stack_rule(
    "vault-audit-devices-redundant",
    description="The stack enables `minAuditDevices` audit devices: Vault stops serving when every device is blocked.",
    why=(
        "Vault refuses a request it cannot write to at least one audit device; with one device, a full disk or a "
        "dead collector stops Vault."
    ),
    level=Level.ADVISORY,
    remediation="add a second audit device of another kind or target (e.g. a file and a socket).",
    source="Vault audit devices docs (a blocked device blocks requests; enable more than one)",
    target="stack: `vault:index/audit:Audit`",
    params=(int_param("minAuditDevices", 2, "How many configured audit devices the stack should have.", minimum=1),),
    severity=Severity.MEDIUM,
    url=VAULT_AUDIT,
)
def audit_devices_redundant(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Problem]:
    recording, unknown = audit_devices(resources)
    wanted = int(config["minAuditDevices"])
    if len(recording) >= wanted:
        return
    if len(recording) + len(unknown) >= wanted:
        yield from (cannot_check("the device's type and options", urn=a.urn) for a in unknown)
        return
    yield Problem(f"has {len(recording)} configured audit device(s); {wanted} recommended.")


# --- roles and policies across the stack ------------------------------------------------------------------


@stack_rule(
    "vault-role-policies-exist",
    description="Every policy a Vault role grants is defined in the stack (besides `default`).",
    why=(
        "A role may name a policy that does not exist; Vault grants nothing for it until someone creates a policy "
        "of that name, which then silently applies. Vault compares names trimmed and in lower case."
    ),
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
    policies = of_type(resources, POLICY)
    defined = {n for p in policies if (n := policy_name(p.get("name")))}
    unnamed = sum(is_unknown(p.get("name")) for p in policies)
    for role in of_type(resources, *ROLE_TYPES):
        if role_policies_unknown(role):
            yield cannot_check("tokenPolicies", urn=role.urn)
        missing = sorted({p for p in role_policies(role) if p not in defined and p not in BUILTIN_POLICIES})
        if missing and len(missing) <= unnamed:  # each could be the name of a policy not known yet
            yield cannot_check(f"whether {', '.join(missing)} exist, as {unnamed} policy name(s)", urn=role.urn)
        elif missing:
            maybe = f" (at most {unnamed} of them may be a policy whose name is not known yet)" if unnamed else ""
            yield Problem(f"grants policies not in the stack: {', '.join(missing)}{maybe}.", urn=role.urn)


def delivery_role_refs(resources: Sequence[Resource]) -> list[tuple[tuple[str, str], str, Resource]]:
    """((auth mount, role), namespace, object) for every delivery object that logs in to Vault with a role."""
    refs: list[tuple[tuple[str, str], str, Resource]] = []
    for store in of_type(resources, *VAULT_CLIENTS):
        login = store_role(store)
        if login:
            mount, role, sa_namespace = login
            namespace = sa_namespace if store.type in CLUSTER_SECRET_STORES and sa_namespace else namespace_of(store)
            refs.append(((mount_path(mount) or "", role), namespace, store))
    for spc in of_type(resources, *SECRET_PROVIDER_CLASSES):
        params = parameters(spc)
        if is_unknown(params):
            continue
        role = params.get("roleName")
        mount = params.get("vaultAuthMountPath") or params.get("vaultKubernetesMountPath") or "kubernetes"
        if isinstance(role, str) and isinstance(mount, str):
            refs.append(((mount_path(mount) or "", role), namespace_of(spc), spc))
    for resource in resources:
        pod = pod_template(resource)
        if pod is None:
            continue
        agent_role = pod.annotations.get(f"{AGENT}role")
        agent_mount = pod.annotations.get(f"{AGENT}auth-path", "auth/kubernetes")
        if isinstance(agent_role, str) and isinstance(agent_mount, str):
            refs.append(((mount_path(agent_mount) or "", agent_role), namespace_of(resource), resource))
    return refs


@stack_rule(
    "vault-role-unique",
    description=(
        "No two workloads share a Vault role: role names are unique per auth mount and used from one namespace."
    ),
    why=(
        "A role is one identity: two role resources with one name on one mount are one role, whose last writer "
        "wins, and delivery objects in two namespaces logging in with one role give both namespaces the same "
        "secrets. A role whose mount or name is not known yet is reported when it could collide."
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
    names: dict[str, int] = defaultdict(int)
    partial: list[tuple[Resource, str | None]] = []
    for role in of_type(resources, *ROLE_TYPES):
        mount, name = role_key(role)
        if mount is not None and name is not None:
            defined[(mount, name)].append(role)
            names[name] += 1
        else:
            partial.append((role, name))
    for (mount, name), roles in defined.items():
        if len(roles) > 1:
            listed = ", ".join(sorted(r.name for r in roles))
            for role in roles:
                yield Problem(
                    f"role '{name}' on mount '{mount}' is defined {len(roles)} times ({listed}).", urn=role.urn
                )
    for role, name in partial:
        unsure: list[str | None] = [n for r, n in partial if r is not role]
        if None in unsure or (name is None and (names or unsure)) or (name in names or name in unsure):
            yield cannot_check("backend and roleName, which another role may share", urn=role.urn)
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
    why=(
        "The stack names each workload's policy `workload-<namespace>-<name>`, and the role of a workload is bound "
        "to one namespace: a role granting a policy of another namespace, or of another workload's component, hands "
        "that workload's secrets to this one. The rule judges by the names because they are how the stack ties a "
        "policy to its workload."
    ),
    level=Level.MANDATORY,
    remediation="grant exactly the policy WorkloadAccess creates for this namespace and service account.",
    source="Vault policies guide (least privilege); the stack's naming: workload policies are `workload-<ns>-<name>`",
    target="stack: auth roles, `vault:index/policy:Policy`",
    severity=Severity.CRITICAL,
    url="https://developer.hashicorp.com/vault/docs/concepts/policies",
)
def role_own_policy(resources: Sequence[Resource], _config: Mapping[str, Any]) -> Iterator[Problem]:
    policies_by_name = {n: p for p in of_type(resources, POLICY) if (n := policy_name(p.get("name")))}
    for role in of_type(resources, *ROLE_TYPES):
        namespaces = role_namespaces(role)
        granted = sorted({p for p in role_policies(role) if is_workload_policy(p)})
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
    why=(
        "Vault applies the most specific matching path of all a token's policies: a `deny` on `secret/data/*` "
        "does not stop another policy's `read` on `secret/data/app`."
    ),
    level=Level.ADVISORY,
    remediation="deny the specific path too, or narrow the allow: Vault applies the most specific matching path.",
    source="Vault policies guide (priority matching: the most specific path wins over a glob deny)",
    target="stack: `vault:index/policy:Policy`",
    severity=Severity.MEDIUM,
    url="https://developer.hashicorp.com/vault/docs/concepts/policies#priority-matching",
)
def deny_shadowed(resources: Sequence[Resource], _config: Mapping[str, Any]) -> Iterator[Problem]:
    allows: list[tuple[str, str, Resource]] = []  # (sample path, path, policy), sorted by sample
    denies: list[tuple[str, Resource]] = []
    for policy in of_type(resources, POLICY):
        for rule in policy_rules(policy) or ():
            if rule.denies and has_wildcard(rule.path):
                denies.append((rule.path, policy))
            elif not rule.denies:
                allows.append((sample(rule.path), rule.path, policy))
    allows.sort(key=lambda a: a[0])
    keys = [a[0] for a in allows]
    for deny, policy in denies:
        prefix = literal_prefix(deny)
        start = bisect.bisect_left(keys, prefix)
        for sampled, path, other in allows[start:]:
            if not sampled.startswith(prefix):
                break
            if other is not policy and covers(deny, path):
                yield Problem(
                    f"deny on '{deny}' is overridden for '{path}' by policy '{other.get('name', default=other.name)}'.",
                    urn=policy.urn,
                )


# --- Pulumi hygiene ---------------------------------------------------------------------------------------


@resource_rule(
    "secret-fields-are-pulumi-secrets",
    description="Every field that holds a secret (Secret data, KV data, reviewer JWT, ...) is a Pulumi secret.",
    why=(
        "Pulumi encrypts a value in the state only when it is a secret; the policy SDK hands rules unwrapped "
        "values, so the pack sees secretness only through `additionalSecretOutputs`, which the providers' SDKs "
        "set for their schema-secret fields."
    ),
    level=Level.MANDATORY,
    remediation="pass the value as `pulumi.Output.secret(...)` or list the field in `additional_secret_outputs`.",
    source="Pulumi secrets docs (a value not marked secret is stored in plain text in the state)",
    types=tuple(t for t in SECRET_FIELDS if not t.startswith(("random:", "pulumi:providers:"))),
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
    why=(
        "RandomString's `result` (RandomId's, RandomUuid's) is stored in plain text unless marked secret, unlike "
        "RandomPassword's; one that feeds a secret field is a secret stored in the clear."
    ),
    level=Level.MANDATORY,
    remediation="generate secrets with `random.RandomPassword`, or add the output to `additional_secret_outputs`.",
    source="Pulumi secrets docs; pulumi-random docs (RandomString's result is not secret, RandomPassword's is)",
    target="stack: `random:index/*` feeding resources with secret fields",
    severity=Severity.CRITICAL,
    url=PULUMI_SECRETS,
)
def generated_secrets_are_secrets(resources: Sequence[Resource], _config: Mapping[str, Any]) -> Iterator[Problem]:
    generators = {r.urn: r for r in resources if r.type in GENERATORS}
    if not generators:
        return
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


def _output_problems(name: str, value: Any, secrets: Any) -> Iterator[str]:
    """Why the export ``name`` carries a secret: a credential-named key with a real value, or a secret's content."""
    if credential_name(name) and any(isinstance(v, str) and not not_a_credential(v) for _p, _k, v in leaves(value)):
        yield f"output '{name}' is named like a credential."
        return
    for path, key, leaf in sorted(leaves(value), key=lambda found: found[0]):
        if not isinstance(leaf, str):
            continue
        where = f"output '{name}'" + (f" at '{path}'" if path and path != name else "")
        if secrets.found_in(leaf) or secret_looking_value(leaf):
            yield f"{where} carries a secret value."
            return
        if key and key != name and credential_entry(key, leaf):
            yield f"{where} is named like a credential."
            return


@stack_rule(
    "no-secret-in-stack-outputs",
    description=(
        "No stack output carries a secret: no credential-named value, no value holding any resource's secret, no "
        "value shaped like a credential."
    ),
    why=(
        "Exports are stored in the state and printed by `pulumi stack output`; the SDK hands rules unwrapped "
        "values, so an export is judged by its content: any string leaf containing a secret any resource's "
        "outputs hold (RandomPassword's `result`, Secret data, KV data), a credential's shape, or a key at any "
        "depth named like a credential with a value that can be one. Names that refer to objects (`secretStore`, "
        "`secretProviderClass`, `tokenTtl`) are not credentials."
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
    stacks = of_type(resources, STACK_TYPE)
    if not stacks:
        return
    allowed = set(strings(config["allowedSecretOutputs"]))
    secrets = stack_secrets(r for r in resources if r.type != STACK_TYPE)
    for stack in stacks:
        for name in sorted(stack.props):
            if name in allowed:
                continue
            value = stack.props[name]
            for what in _output_problems(name, value, secrets):
                yield Problem(what, urn=stack.urn)
            if has_unknown(value):
                yield cannot_check(f"output '{name}'", urn=stack.urn)


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
