"""Rules over single Vault resources: auth roles, policies, auth configuration, audit, raw endpoints, the provider."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import (
    Level,
    Problem,
    Resource,
    Severity,
    bool_param,
    cannot_check,
    int_param,
    lifetime_problems,
    resource_rule,
    strings_param,
)
from .credentials import credential_name
from .values import (
    duration_seconds,
    go_bool,
    has_unknown,
    human_seconds,
    insecure_url,
    is_set,
    is_unknown,
    items,
    mapping,
    split_url,
    strings,
    text,
    url_host,
)
from .vault_hcl import (
    PathRule,
    PolicyParseError,
    granted_by_default,
    normalize_path,
    parse_policy,
    reaches,
    reaches_every_name,
    templates,
)

K8S_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
JWT_ROLE = "vault:jwt/authBackendRole:AuthBackendRole"
ROLE_TYPES = (K8S_ROLE, JWT_ROLE)
POLICY = "vault:index/policy:Policy"
K8S_CONFIG = "vault:kubernetes/authBackendConfig:AuthBackendConfig"
JWT_BACKEND = "vault:jwt/authBackend:AuthBackend"
AUDIT = "vault:index/audit:Audit"
AUDIT_HEADER = "vault:index/auditRequestHeader:AuditRequestHeader"
ENDPOINT = "vault:generic/endpoint:Endpoint"
PROVIDER = "pulumi:providers:vault"

SUBJECT_PREFIX = "system:serviceaccount:"
UID_CLAIM = "/kubernetes.io/serviceaccount/uid"
PRIVILEGED_AREAS = ("sys/", "auth/", "identity/")
ALLOWED_TEMPLATE = r"identity.entity.aliases.<mount accessor>.metadata.service_account_namespace"
# Headers that carry a credential whatever their value (beside any credential-named header).
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-vault-token"})
# The API server's own audiences: a role bound to one accepts every pod's default service-account token.
API_SERVER_HOSTS = ("kubernetes", "kubernetes.default", "kubernetes.default.svc")

VAULT_K8S_AUTH = "https://developer.hashicorp.com/vault/docs/auth/kubernetes"
VAULT_POLICIES = "https://developer.hashicorp.com/vault/docs/concepts/policies"
VAULT_AUDIT = "https://developer.hashicorp.com/vault/docs/audit"


# --- shared readers ------------------------------------------------------------------------------


def role_identities(role: Resource) -> list[tuple[str, str]]:
    """The (namespace, service account) pairs a role binds: the product of its lists, or its jwt subject."""
    if role.type == JWT_ROLE:
        subject = text(role.get("boundSubject"))
        if subject and subject.startswith(SUBJECT_PREFIX):
            namespace, _, account = subject.removeprefix(SUBJECT_PREFIX).partition(":")
            return [(namespace, account)]
        return []
    names = strings(role.get("boundServiceAccountNames"))
    namespaces = strings(role.get("boundServiceAccountNamespaces"))
    return [(ns, sa) for ns in namespaces for sa in names]


def role_namespaces(role: Resource) -> list[str]:
    return sorted({ns for ns, _ in role_identities(role)})


def policy_name(value: Any) -> str | None:
    """A policy name as Vault stores it (lower case, trimmed: ``PolicyStore.sanitizeName``)."""
    return value.strip().lower() if isinstance(value, str) else None


def role_policies(role: Resource) -> list[str]:
    """The known policy names a role grants (``token_policies``, deprecated ``policies``), as Vault stores them."""
    return [p for v in (*strings(role.get("tokenPolicies")), *strings(role.get("policies"))) if (p := policy_name(v))]


def role_policies_unknown(role: Resource) -> bool:
    return has_unknown(role.get("tokenPolicies")) or has_unknown(role.get("policies"))


def mount_path(value: Any) -> str | None:
    """An auth mount as a path (``auth/kubernetes/`` -> ``kubernetes``), or None while unknown."""
    return value.strip().strip("/").removeprefix("auth/").strip("/") if isinstance(value, str) else None


def role_key(role: Resource) -> tuple[str | None, str | None]:
    """(auth mount, role name); either is None while unknown."""
    name = role.get("roleName")
    backend = role.get("backend", default="jwt" if role.type == JWT_ROLE else "kubernetes")
    return mount_path(backend), name if isinstance(name, str) else None


def policy_rules(policy: Resource) -> tuple[PathRule, ...] | None:
    """The parsed rules of a ``vault.Policy``; None when the document is unknown or does not parse."""
    document = policy.get("policy")
    if not isinstance(document, str):
        return None
    try:
        return parse_policy(document)
    except PolicyParseError:
        return None


def api_server_audience(audience: str) -> bool:
    """Whether an audience is the Kubernetes API server's own (what every pod's default token carries)."""
    parts = split_url(audience if "://" in audience else f"//{audience}")
    host = url_host(parts).rstrip(".") if parts is not None else audience.strip().lower()
    return host in API_SERVER_HOSTS or host.startswith("kubernetes.default.svc.")


def audience_problems(field: str, value: Any) -> Iterator[Problem]:
    """No audience, or only the API server's: a token minted for the API server (every pod has one) logs in."""
    if is_unknown(value):
        yield cannot_check(field)
        return
    audiences = [a.strip() for a in (strings(value) if isinstance(value, list) else [text(value) or ""])]
    audiences = [a for a in audiences if a]
    unknown_entries = has_unknown(value)
    if not audiences:
        if unknown_entries:
            yield cannot_check(field)
        else:
            yield Problem(f"{field} is not set.")
    elif all(api_server_audience(a) for a in audiences) and not unknown_entries:
        yield Problem(
            f"{field} is the Kubernetes API server's own audience: every pod's default token carries it, so it "
            "binds nothing."
        )


# --- roles -----------------------------------------------------------------------------------------


@resource_rule(
    "vault-role-no-glob-bindings",
    description="Vault auth roles bind exact service-account names and namespaces: no glob anywhere.",
    why=(
        "Vault's kubernetes auth matches `bound_service_account_names` and `..._namespaces` with "
        "`strutil.StrListContainsGlob`: `*` alone, or a leading or trailing `*`, matches every name with that "
        "prefix or suffix, including accounts created later by anyone who may create a service account there; a "
        "namespace selector binds every namespace whose labels match. For jwt roles, `bound_claims_type = glob` "
        "makes every bound claim a glob."
    ),
    level=Level.MANDATORY,
    remediation="list the exact namespace and service account (one each); never `*`, a prefix glob or a selector.",
    source="Vault kubernetes auth API (bound_service_account_names/namespaces accept `*` and prefix/suffix globs)",
    types=ROLE_TYPES,
    severity=Severity.CRITICAL,
    url=VAULT_K8S_AUTH,
)
def no_glob_bindings(role: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    for field in ("boundServiceAccountNames", "boundServiceAccountNamespaces"):
        globbed = sorted(v for v in strings(role.get(field)) if "*" in v)
        if globbed:
            yield Problem(f"{field} contains a glob ({', '.join(repr(v) for v in globbed)}).")
    selector = role.get("boundServiceAccountNamespaceSelector")
    if is_unknown(selector):
        yield cannot_check("boundServiceAccountNamespaceSelector")
    elif is_set(selector):
        yield Problem(
            "boundServiceAccountNamespaceSelector binds every namespace whose labels match, not one namespace."
        )
    if role.get("boundClaimsType") == "glob" and is_set(role.get("boundClaims")):
        yield Problem("boundClaimsType is 'glob': bound claims match as globs.")


@resource_rule(
    "vault-role-single-identity",
    description="Each Vault auth role binds exactly one namespace and one service account.",
    why=(
        "A kubernetes role binds the product of its name and namespace lists (two names and two namespaces are "
        "four identities), all of which receive the same token policies; a jwt role for service-account tokens "
        "identifies the workload by `bound_subject = system:serviceaccount:<namespace>:<name>`."
    ),
    level=Level.MANDATORY,
    remediation="give every workload its own role bound to exactly its namespace and service account.",
    source="Vault kubernetes auth guide (least privilege: one role per workload identity)",
    types=ROLE_TYPES,
    severity=Severity.HIGH,
    url=VAULT_K8S_AUTH,
)
def single_identity(role: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if role.type == JWT_ROLE:
        subject = role.get("boundSubject")
        if is_unknown(subject):
            yield cannot_check("boundSubject")
        elif not role_identities(role):
            yield Problem("boundSubject is not `system:serviceaccount:<namespace>:<service account>`.")
        return
    names = role.get("boundServiceAccountNames")
    namespaces = role.get("boundServiceAccountNamespaces")
    if has_unknown(names) or has_unknown(namespaces):
        yield cannot_check("boundServiceAccountNames and boundServiceAccountNamespaces")
    elif len(items(names)) != 1 or len(items(namespaces)) != 1:
        yield Problem(
            f"binds {len(items(namespaces))} namespace(s) and {len(items(names))} service account(s), not one of each."
        )


@resource_rule(
    "vault-role-not-default-service-account",
    description="No Vault auth role binds a namespace's `default` service account.",
    why=(
        "Every pod that names no service account runs as its namespace's `default` account, and Kubernetes "
        "creates that account in every namespace: a role bound to it hands its policies to every such pod in the "
        "namespace, not to one workload."
    ),
    level=Level.MANDATORY,
    remediation="create a service account for the workload and bind the role to it.",
    source="Kubernetes service accounts (every namespace has `default`; pods without serviceAccountName use it)",
    types=ROLE_TYPES,
    severity=Severity.HIGH,
    url="https://kubernetes.io/docs/concepts/security/service-accounts/#default-service-accounts",
)
def not_default_service_account(role: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if any(account == "default" for _ns, account in role_identities(role)):
        yield Problem("binds the `default` service account.")


@resource_rule(
    "vault-role-audience-bound",
    description=(
        "Vault auth roles require a token audience of their own, so a token minted for another audience (the API "
        "server's included) cannot log in."
    ),
    why=(
        "Without `audience` (kubernetes) or `bound_audiences` (jwt) Vault accepts a service-account token minted "
        "for any audience, such as the pod's default token for the API server, which every container of the pod "
        "can read and any service it is sent to can replay. An audience equal to the API server's "
        "(`https://kubernetes.default.svc.cluster.local`, `kubernetes.default.svc`, ...) binds nothing either: "
        "it is the audience of every default token."
    ),
    level=Level.MANDATORY,
    remediation="set `audience` (kubernetes) or `bound_audiences` (jwt) to the audience Vault's clients request.",
    source="Vault kubernetes auth API (`audience`; Vault warns when a role has none)",
    types=ROLE_TYPES,
    severity=Severity.HIGH,
    url=VAULT_K8S_AUTH,
)
def audience_bound(role: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    field = "boundAudiences" if role.type == JWT_ROLE else "audience"
    yield from audience_problems(field, role.get(field))


@resource_rule(
    "vault-role-alias-uid",
    description="Vault identity aliases are keyed on the service account's UID, never its name.",
    why=(
        "An alias keyed on `<namespace>/<name>` (`alias_name_source = serviceaccount_name`) survives deleting "
        "and recreating the account, so a new account with the same name inherits the old one's entity, its "
        "metadata and group memberships. Vault's default is `serviceaccount_uid` (an unset value is fine); for "
        "jwt roles the alias is `user_claim`, which must be the UID claim read as a JSON pointer."
    ),
    level=Level.MANDATORY,
    remediation=(
        'kubernetes: leave `alias_name_source` unset or `"serviceaccount_uid"`; jwt: `user_claim = '
        f'"{UID_CLAIM}"` with `user_claim_json_pointer = true`.'
    ),
    source="Vault kubernetes auth API (`alias_name_source`, default `serviceaccount_uid`)",
    types=ROLE_TYPES,
    severity=Severity.MEDIUM,
    url=VAULT_K8S_AUTH,
)
def alias_uid(role: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if role.type == JWT_ROLE:
        claim, pointer = role.get("userClaim"), role.get("userClaimJsonPointer")
        if is_unknown(claim) or is_unknown(pointer):
            yield cannot_check("userClaim and userClaimJsonPointer")
        elif claim != UID_CLAIM or go_bool(pointer) is not True:
            yield Problem("user_claim is not the service account's UID claim (as a JSON pointer).")
        return
    source = role.get("aliasNameSource")
    if is_unknown(source):
        yield cannot_check("aliasNameSource")
    elif source not in (None, "", "serviceaccount_uid"):
        yield Problem(f"aliasNameSource is {source!r}, not 'serviceaccount_uid'.")


MOUNT_DEFAULT_TTL = "the mount's default TTL applies (768h, Vault's system default, unless tuned)"


@resource_rule(
    "vault-role-token-ttl-cap",
    description="Tokens issued by a Vault auth role live at most `maxTokenTtlSeconds` before renewal.",
    why=(
        "`token_ttl` is how long a stolen token works without being renewed; 0 means the mount's default lease "
        "TTL, 768h (32 days) unless the mount is tuned."
    ),
    level=Level.MANDATORY,
    remediation="set `token_ttl` at or below the cap (the stack's default is 15m).",
    source="Vault token TTL guidance (short TTLs bound a leaked token's use)",
    types=ROLE_TYPES,
    params=(int_param("maxTokenTtlSeconds", 3600, "The largest token_ttl allowed, in seconds.", minimum=1),),
    severity=Severity.MEDIUM,
    url="https://developer.hashicorp.com/vault/docs/concepts/tokens",
)
def token_ttl_cap(role: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    yield from lifetime_problems(role, "tokenTtl", int(config["maxTokenTtlSeconds"]), MOUNT_DEFAULT_TTL)


@resource_rule(
    "vault-role-token-max-ttl-cap",
    description=(
        "Tokens issued by a Vault auth role cannot be renewed past `maxTokenMaxTtlSeconds`; no periodic tokens."
    ),
    why=(
        "`token_max_ttl` bounds renewals (0: the mount's 768h); a `token_period` makes a periodic token that "
        "renews forever; `token_explicit_max_ttl` above the cap, or a TTL above the max TTL, defeats the cap."
    ),
    level=Level.MANDATORY,
    remediation="set `token_max_ttl` at or below the cap (the stack's default is 1h) and leave `token_period` unset.",
    source="Vault token TTL guidance (a periodic or uncapped token can be renewed forever)",
    types=ROLE_TYPES,
    params=(int_param("maxTokenMaxTtlSeconds", 86400, "The largest token_max_ttl allowed, in seconds.", minimum=1),),
    severity=Severity.HIGH,
    url="https://developer.hashicorp.com/vault/docs/concepts/tokens",
)
def token_max_ttl_cap(role: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    cap = int(config["maxTokenMaxTtlSeconds"])
    yield from lifetime_problems(role, "tokenMaxTtl", cap, MOUNT_DEFAULT_TTL)
    for field in ("tokenPeriod", "tokenExplicitMaxTtl"):
        if is_unknown(role.get(field)):
            yield cannot_check(field)
    if duration_seconds(role.get("tokenPeriod")):
        yield Problem("tokenPeriod is set: periodic tokens renew without a max TTL.")
    explicit = duration_seconds(role.get("tokenExplicitMaxTtl"))
    if explicit and explicit > cap:
        yield Problem(f"tokenExplicitMaxTtl is {human_seconds(explicit)}, above the cap of {human_seconds(cap)}.")
    ttl, max_ttl = duration_seconds(role.get("tokenTtl")), duration_seconds(role.get("tokenMaxTtl"))
    if ttl and max_ttl and ttl > max_ttl:
        yield Problem("tokenTtl is longer than tokenMaxTtl.")


@resource_rule(
    "vault-role-no-root-policy",
    description="No Vault auth role grants the `root` policy.",
    why=(
        "`root` is unrestricted. Vault stores and looks up policy names trimmed and in lower case, so `Root` and "
        "` root` name it too."
    ),
    level=Level.MANDATORY,
    remediation="grant the workload's own least-privilege policy instead of `root`.",
    source="Vault policies guide (`root` is unrestricted)",
    types=ROLE_TYPES,
    severity=Severity.CRITICAL,
    url=VAULT_POLICIES,
)
def no_root_policy(role: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if "root" in role_policies(role):
        yield Problem("tokenPolicies includes 'root'.")
    elif role_policies_unknown(role):
        yield cannot_check("tokenPolicies")


# --- policies --------------------------------------------------------------------------------------


def _policy_document(policy: Resource) -> Iterator[Problem]:
    """A cannot-check for an unknown document (the policy rules share it)."""
    if is_unknown(policy.get("policy")):
        yield cannot_check("the policy document")


@resource_rule(
    "vault-policy-valid",
    description="Every Vault policy parses as HCL (or JSON) with `path` stanzas and known capabilities only.",
    why=(
        "Vault refuses a policy it cannot parse, with an unknown capability, or with `+*` in a path; the other "
        "policy rules can only judge a document that parses as Vault parses it."
    ),
    level=Level.MANDATORY,
    remediation="write the policy with the policy-document builder (`components/policy_document.render_policy`).",
    source="Vault policy syntax (a policy Vault cannot parse is rejected; the other rules cannot judge it)",
    types=(POLICY,),
    severity=Severity.HIGH,
    url=VAULT_POLICIES,
)
def policy_valid(policy: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    document = policy.get("policy")
    if is_unknown(document):
        yield from _policy_document(policy)
        return
    if not isinstance(document, str) or not document.strip():
        yield Problem("the policy document is empty.")
        return
    try:
        rules = parse_policy(document)
    except PolicyParseError as error:
        yield Problem(f"the policy document does not parse: {error}.")
        return
    if not rules:
        yield Problem("the policy has no `path` stanza.")


@resource_rule(
    "vault-policy-no-root-glob",
    description=(
        "No Vault policy path has a wildcard at or above the name it grants: no `*`, `secret/*`, `secret/data/+/x`, "
        "`database/creds/*` or `secret/data*`."
    ),
    why=(
        "Vault strips a leading `/` and then matches a path literally, except that a trailing `*` makes it a "
        "prefix (`secret/data*` also matches `secret/dataX/...`, and `app*` matches `app-admin`) and a segment "
        "that is exactly `+` matches any one segment. Below a secrets engine's root (`<mount>/data/`, "
        "`<mount>/creds/`, `<mount>/issue/`, ...) the next segment names one secret or role; a wildcard there or "
        "above reaches every secret or role of the mount, including those created later. Paths the `default` "
        "policy grants (`cubbyhole/*`, `sys/tools/hash/*`) are the token's own and allowed."
    ),
    level=Level.MANDATORY,
    remediation="grant the exact paths the workload reads (e.g. `secret/data/<app>`, or `secret/data/<app>/*`).",
    source="Vault policies guide (globs and `+` segments; least privilege)",
    types=(POLICY,),
    severity=Severity.CRITICAL,
    url=VAULT_POLICIES,
)
def no_root_glob(policy: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    yield from _policy_document(policy)
    for rule in policy_rules(policy) or ():
        if not rule.denies and reaches_every_name(rule.path) and not granted_by_default(rule):
            yield Problem(f"path '{rule.path}' has a wildcard at or above the name it grants.")


@resource_rule(
    "vault-policy-sudo-allow-list",
    description="The `sudo` capability appears only on paths of the `sudoAllowList`.",
    why="`sudo` opens Vault's root-protected endpoints (revoke-prefix, raw storage, seal, rotate, ...).",
    level=Level.MANDATORY,
    remediation="drop `sudo`, or add the exact path to the rule's `sudoAllowList` after review.",
    source="Vault policies guide (`sudo` opens root-protected endpoints)",
    types=(POLICY,),
    params=(strings_param("sudoAllowList", [], "Exact policy paths on which `sudo` is allowed."),),
    severity=Severity.CRITICAL,
    url=VAULT_POLICIES,
)
def sudo_allow_list(policy: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    yield from _policy_document(policy)
    allowed = {normalize_path(p) for p in strings(config["sudoAllowList"])}
    for rule in policy_rules(policy) or ():
        if "sudo" in rule.capabilities and rule.path not in allowed:
            yield Problem(f"path '{rule.path}' grants sudo and is not on the allow-list.")


@resource_rule(
    "vault-policy-no-privileged-write",
    description=(
        "No Vault policy writes under `sys/` (audit, policies, mounts), `auth/` or `identity/` beyond what the "
        "`default` policy grants, unless it is a reviewed admin policy (`adminPolicies`)."
    ),
    why=(
        "Whoever can write `sys/policies/acl/*`, `sys/audit*`, `sys/auth*`, `sys/mounts*`, `auth/<mount>/role/*` "
        "or `identity/*` can grant themselves any policy, blind the audit log or mint identities: a policy with "
        "such a write is an admin policy whatever its name. Paths are matched as Vault does (a leading `/` "
        "stripped, `+` and trailing `*` expanded). The `default` policy's own grants (`auth/token/renew-self`, "
        "`sys/leases/renew`, ...) are on every token anyway and do not count, nor does `update` on "
        "`sys/leases/revoke` whose `allowed_parameters` allow only `lease_id`s of dynamic credentials the same "
        "policy reads (`<mount>/creds/<role>/*`: the Vault Secrets Operator revoking the leases it took)."
    ),
    level=Level.MANDATORY,
    remediation=(
        "a workload reads its secrets; manage Vault's configuration from the platform's own token, and list a "
        "reviewed admin policy by name in `adminPolicies`."
    ),
    source=(
        "Vault policies guide; Vault production hardening (sys/audit, sys/policies, auth/ and identity/ are admin APIs)"
    ),
    types=(POLICY,),
    params=(strings_param("adminPolicies", [], "Names of reviewed admin policies allowed to write Vault's config."),),
    severity=Severity.CRITICAL,
    url="https://developer.hashicorp.com/vault/docs/concepts/production-hardening",
)
def no_privileged_write(policy: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    name = policy_name(policy.get("name"))
    if name is not None and name in {policy_name(n) for n in strings(config["adminPolicies"])}:
        return
    if is_unknown(policy.get("name")):
        yield cannot_check("the policy's name (it may be a listed admin policy)")
    yield from _policy_document(policy)
    rules = policy_rules(policy) or ()
    for rule in rules:
        if rule.denies or not rule.writes or granted_by_default(rule) or revokes_own_leases(rule, rules):
            continue
        areas = [a for a in PRIVILEGED_AREAS if reaches(rule.path, a)]
        if areas:
            caps = ", ".join(sorted(rule.writes))
            yield Problem(f"path '{rule.path}' grants {caps} under {', '.join(areas)}.")


def revokes_own_leases(rule: PathRule, rules: Sequence[PathRule]) -> bool:
    """``update`` on exactly ``sys/leases/revoke``, for ``lease_id``s only under dynamic-credential paths the same
    policy reads (a lease id is ``<the path that issued it>/<random>``): revoking one's own leases, nothing else."""
    if rule.path != "sys/leases/revoke" or rule.capabilities != {"update"} or not rule.lease_ids:
        return False
    read = {r.path for r in rules if "read" in r.capabilities and not r.denies and "/creds/" in f"/{r.path}"}
    return all(
        lease.endswith("/*") and lease[:-2] in read and not any(c in lease[:-2] for c in "*+{")
        for lease in rule.lease_ids
    )


@resource_rule(
    "vault-policy-templated-paths",
    description=(
        "Templated policy paths use only the kubernetes auth alias's `service_account_namespace` metadata, "
        "as a whole path segment."
    ),
    why=(
        "Vault fills `{{identity...}}` templates from the token's entity: the kubernetes auth method sets the "
        "alias metadata `service_account_namespace` itself, while names and other metadata can collide across "
        "namespaces or be set by others; a template inside a segment (`team-{{...}}`) also matches other "
        "namespaces that share the prefix."
    ),
    level=Level.MANDATORY,
    remediation=f"template on `{{{{{ALLOWED_TEMPLATE}}}}}` as a whole segment, or write the exact path.",
    source="Vault policies guide (templated policies; alias metadata set by the kubernetes auth method)",
    types=(POLICY,),
    severity=Severity.HIGH,
    url="https://developer.hashicorp.com/vault/docs/concepts/policies#templated-policies",
)
def templated_paths(policy: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    yield from _policy_document(policy)
    for rule in policy_rules(policy) or ():
        if granted_by_default(rule):
            continue
        for expression in templates(rule.path):
            parts = expression.split(".")
            documented = (
                len(parts) == 6
                and parts[:3] == ["identity", "entity", "aliases"]
                and parts[3].replace("_", "").isalnum()
                and parts[4:] == ["metadata", "service_account_namespace"]
            )
            if not documented:
                yield Problem(f"path '{rule.path}' templates on '{expression}'.")
        for segment in rule.path.split("/"):
            if "{{" in segment and not (segment.startswith("{{") and segment.endswith("}}")):
                yield Problem(
                    f"path '{rule.path}' has a template inside a segment (a namespace prefix matches others)."
                )


# --- auth configuration ------------------------------------------------------------------------------


@resource_rule(
    "vault-auth-ca-cert",
    description=(
        "Vault verifies the cluster it trusts: the kubernetes auth config or jwt discovery has a CA certificate."
    ),
    why=(
        "Without `kubernetes_ca_cert` Vault calls TokenReview over TLS it cannot verify (unless it runs in the "
        "cluster and uses its own pod's CA); a jwt mount without validation keys fetches them from a discovery "
        "or JWKS URL, which needs its CA to be pinned."
    ),
    level=Level.MANDATORY,
    remediation=(
        "set `kubernetes_ca_cert` (or let Vault use its own pod's CA with `disable_local_ca_jwt = false`); "
        "jwt: `jwt_validation_pubkeys`, or `oidc_discovery_ca_pem` / `jwks_ca_pem` with the discovery URL."
    ),
    source="Vault kubernetes auth API (`kubernetes_ca_cert`); Vault jwt auth API (`oidc_discovery_ca_pem`)",
    types=(K8S_CONFIG, JWT_BACKEND),
    severity=Severity.CRITICAL,
    url=VAULT_K8S_AUTH,
)
def auth_ca_cert(auth: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if auth.type == K8S_CONFIG:
        ca, local = auth.get("kubernetesCaCert"), auth.get("disableLocalCaJwt", default=False)
        if is_unknown(local):
            yield cannot_check("disableLocalCaJwt")
        elif not is_set(ca) and go_bool(local) is not False:
            yield Problem("kubernetesCaCert is not set and Vault does not use its own pod's CA.")
        return
    kind = auth.get("type", default="jwt")
    if is_unknown(kind):
        yield cannot_check("type")
        return
    if kind != "jwt" or is_set(auth.get("jwtValidationPubkeys")):
        return
    if is_set(auth.get("oidcDiscoveryUrl")) and not is_set(auth.get("oidcDiscoveryCaPem")):
        yield Problem("oidcDiscoveryUrl is set without oidcDiscoveryCaPem.")
    elif is_set(auth.get("jwksUrl")) and not is_set(auth.get("jwksCaPem")):
        yield Problem("jwksUrl is set without jwksCaPem.")
    elif not is_set(auth.get("oidcDiscoveryUrl")) and not is_set(auth.get("jwksUrl")):
        yield Problem("no validation keys, discovery URL or JWKS URL is set.")


def provider_setting(value: Any) -> Any:
    """A provider input as the provider reads it: the SDK hands non-string settings over JSON-encoded (``"true"``)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def url_problems(field: str, value: Any) -> Iterator[Problem]:
    """``field`` is a plain-text URL (or an unknown one)."""
    if is_unknown(value):
        yield cannot_check(field)
    elif insecure_url(value):
        yield Problem(f"{field} is not an https:// address.")


@resource_rule(
    "vault-auth-tls",
    description="Vault and the endpoints it calls are reached over verified TLS: no `http://`, no TLS skip.",
    why=(
        "The provider's `skip_tls_verify` (read as Go's `strconv.ParseBool`, so `t` and `1` count) and an "
        "`http://` address send the provider's token to whoever answers; Vault's `kubernetes_host`, OIDC "
        "discovery and JWKS URLs over http let a man in the middle answer TokenReview or hand Vault signing keys. "
        "Loopback http is allowed; an address that is not a URL at all is not."
    ),
    level=Level.MANDATORY,
    remediation="use https:// URLs with a CA certificate and leave `skip_tls_verify` unset (loopback http is allowed).",
    source=(
        "Vault provider docs (`skip_tls_verify` is for insecure development servers only); Vault production hardening"
    ),
    types=(K8S_CONFIG, JWT_BACKEND, PROVIDER),
    severity=Severity.CRITICAL,
    url="https://developer.hashicorp.com/vault/docs/concepts/production-hardening",
)
def auth_tls(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if resource.type == PROVIDER:
        skip = provider_setting(resource.get("skipTlsVerify"))
        if is_unknown(skip):
            yield cannot_check("skipTlsVerify")
        elif go_bool(skip):
            yield Problem("skipTlsVerify is true.")
        yield from url_problems("address", resource.get("address"))
        return
    fields = ("kubernetesHost",) if resource.type == K8S_CONFIG else ("oidcDiscoveryUrl", "jwksUrl")
    for field in fields:
        yield from url_problems(field, resource.get(field))


@resource_rule(
    "vault-auth-no-long-lived-reviewer-token",
    description="Vault's kubernetes auth reviews tokens without a long-lived reviewer JWT, unless config allows it.",
    why=(
        "A `token_reviewer_jwt` is a token that may call TokenReview for the whole cluster and, stored in Vault "
        "and the stack, never expires if it comes from a legacy `kubernetes.io/service-account-token` Secret."
    ),
    level=Level.MANDATORY,
    remediation=(
        "use Vault's own pod token where Vault runs in the cluster, or jwt auth against the service-account "
        "issuer (no reviewer); the `client-jwt` reviewer works only for tokens whose audience is the API "
        "server's own, which binds nothing. Set `allowLongLivedReviewerToken` where neither fits."
    ),
    source="Vault kubernetes auth guide (long-lived tokens; use local token or client JWT as reviewer)",
    types=(K8S_CONFIG, "kubernetes:core/v1:Secret"),
    params=(bool_param("allowLongLivedReviewerToken", False, "Allow a stored reviewer JWT / token Secret."),),
    severity=Severity.HIGH,
    url=VAULT_K8S_AUTH,
)
def no_long_lived_reviewer_token(resource: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    if config["allowLongLivedReviewerToken"]:
        return
    if resource.type == K8S_CONFIG:
        if is_set(resource.get("tokenReviewerJwt")) or is_set(resource.get("tokenReviewerJwtWo")):
            yield Problem("tokenReviewerJwt is set: a long-lived token that can review every token in the cluster.")
    elif resource.get("type") == "kubernetes.io/service-account-token":
        yield Problem("is a legacy service-account token Secret (a token that never expires).")
    elif is_unknown(resource.get("type")):
        yield cannot_check("type")


@resource_rule(
    "vault-auth-no-annotation-alias-metadata",
    description=(
        "Alias metadata comes from Vault, not from service-account annotations anyone who edits the account sets."
    ),
    why=(
        "With `use_annotations_as_alias_metadata` every annotation `vault.hashicorp.com/alias-metadata-*` of the "
        "service account becomes alias metadata that templated policies may read: whoever can annotate the "
        "account chooses what the policy grants."
    ),
    level=Level.ADVISORY,
    remediation="leave `use_annotations_as_alias_metadata` unset; policies template on Vault's own alias metadata.",
    source="Vault kubernetes auth API (`use_annotations_as_alias_metadata`)",
    types=(K8S_CONFIG,),
    severity=Severity.MEDIUM,
    url=VAULT_K8S_AUTH,
)
def no_annotation_alias_metadata(config_resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    value = config_resource.get("useAnnotationsAsAliasMetadata")
    if is_unknown(value):
        yield cannot_check("useAnnotationsAsAliasMetadata")
    elif go_bool(value):
        yield Problem("useAnnotationsAsAliasMetadata is true.")


@resource_rule(
    "vault-jwt-bound-issuer",
    description="A jwt auth mount for service-account tokens checks the issuer (`bound_issuer`).",
    why="Without `bound_issuer` a token signed by any key the mount trusts logs in, whoever issued it.",
    level=Level.ADVISORY,
    remediation="set `bound_issuer` to the cluster's service-account issuer URL.",
    source="Vault jwt auth API (`bound_issuer`); Vault guide for Kubernetes service-account tokens with jwt auth",
    types=(JWT_BACKEND,),
    severity=Severity.MEDIUM,
    url="https://developer.hashicorp.com/vault/docs/auth/jwt/oidc-providers/kubernetes",
)
def jwt_bound_issuer(backend: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    kind, issuer = backend.get("type", default="jwt"), backend.get("boundIssuer")
    if is_unknown(kind) or is_unknown(issuer):
        yield cannot_check("type and boundIssuer")
    elif kind == "jwt" and not is_set(issuer):
        yield Problem("boundIssuer is not set.")


# --- audit ------------------------------------------------------------------------------------------------


def audit_option(audit: Resource, name: str) -> Any:
    options = audit.get("options")
    return options if is_unknown(options) else mapping(options).get(name)


@resource_rule(
    "vault-audit-no-raw-logging",
    description="Audit devices hash secrets: no `log_raw`, no plain token accessors.",
    why=(
        "Vault parses audit options with `strconv.ParseBool`: `log_raw` true (`1`, `t`, `TRUE`, ...) writes "
        "every secret and token in plain text, `hmac_accessor` false writes token accessors, which can look up "
        "and revoke the tokens."
    ),
    level=Level.MANDATORY,
    remediation="remove `log_raw` and `hmac_accessor = false` from the audit device's options.",
    source="Vault audit devices docs (`log_raw` writes secrets and tokens in plaintext)",
    types=(AUDIT,),
    severity=Severity.CRITICAL,
    url=VAULT_AUDIT,
)
def audit_no_raw_logging(audit: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    for option in ("log_raw", "hmac_accessor"):
        if is_unknown(audit_option(audit, option)):
            yield cannot_check(f"options.{option}")
    if go_bool(audit_option(audit, "log_raw")):
        yield Problem("options.log_raw is true: secrets are written to the audit log in plaintext.")
    if go_bool(audit_option(audit, "hmac_accessor")) is False:
        yield Problem("options.hmac_accessor is false: token accessors are written in plaintext.")


def audit_file_path(audit: Resource) -> Any:
    """Where a file device writes (``file_path``, or the legacy ``path`` option)."""
    path = audit_option(audit, "file_path")
    return path if path is not None else audit_option(audit, "path")


@resource_rule(
    "vault-audit-no-discard",
    description="No audit device discards what it is given (a file device with `file_path = discard`).",
    why=(
        'Vault\'s file device treats the path `discard` as "write nowhere": the device counts as enabled, '
        "so Vault serves requests, but nothing is recorded."
    ),
    level=Level.MANDATORY,
    remediation="write the file device to a real path (or stdout collected by the platform), or use a socket device.",
    source='Vault file audit device docs (`file_path`: "discard" discards output)',
    types=(AUDIT,),
    severity=Severity.HIGH,
    url=f"{VAULT_AUDIT}/file",
)
def audit_no_discard(audit: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    kind, path = audit.get("type"), audit_file_path(audit)
    if is_unknown(kind) or is_unknown(path):
        yield cannot_check("type and options.file_path")
    elif kind == "file" and isinstance(path, str) and path.strip() == "discard":
        yield Problem("options.file_path is 'discard': the device records nothing.")


@resource_rule(
    "vault-audit-header-hmac",
    description="Audited request headers that carry credentials are HMAC'd in the audit log.",
    why=(
        "`sys/config/auditing/request-headers/<name>` logs the header's value, in plain text unless `hmac = true` "
        "(Vault's default is false). The pack judges the header by its name because its value is each request's: "
        "`Authorization`, `Cookie`, `X-Vault-Token` and any credential-named header (`X-Api-Key`) carry one."
    ),
    level=Level.MANDATORY,
    remediation="set `hmac = true` on the header (or stop auditing it).",
    source="Vault sys/config/auditing/request-headers API (`hmac`, default false)",
    types=(AUDIT_HEADER,),
    severity=Severity.HIGH,
    url="https://developer.hashicorp.com/vault/api-docs/system/config-auditing",
)
def audit_header_hmac(header: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    name, hmac = header.get("name"), header.get("hmac")
    if is_unknown(name) or is_unknown(hmac):
        yield cannot_check("name and hmac")
        return
    if not isinstance(name, str):
        return
    carries = name.strip().lower() in CREDENTIAL_HEADERS or credential_name(name)
    if carries and go_bool(hmac) is not True:
        yield Problem(f"header '{name}' carries a credential and is logged without hmac.")


# --- raw endpoints and the provider -----------------------------------------------------------------------

# Where an Endpoint would configure Vault behind the typed resources the other rules judge.
CONFIG_AREAS = {
    "sys/": "Vault's system backend (policies, auth methods, audit devices, mounts)",
    "identity/": "identity (entities, groups, aliases)",
}


def config_area(path: str) -> str | None:
    if any(path.startswith(area) for area in CONFIG_AREAS):
        return next(label for area, label in CONFIG_AREAS.items() if path.startswith(area))
    segments = path.split("/")
    if len(segments) >= 3 and segments[0] == "auth" and segments[2] in {"role", "config", "roles", "groups", "users"}:
        return "an auth method's roles or configuration"
    return None


@resource_rule(
    "vault-endpoint-no-config-write",
    description=(
        "No `vault.generic.Endpoint` writes Vault's configuration (`sys/`, `identity/`, `auth/<mount>/role|config`)."
    ),
    why=(
        "An Endpoint is a raw API write: a policy written to `sys/policies/acl/x`, an audit device to "
        "`sys/audit/x` or a role to `auth/kubernetes/role/x` through it escapes every rule that judges "
        "`vault.Policy`, `vault.Audit` and the auth roles. Vault strips a leading `/` from API paths, so "
        "`/sys/...` is `sys/...`."
    ),
    level=Level.MANDATORY,
    remediation="use the typed resource (vault.Policy, vault.Audit, vault.AuthBackend, the auth method's role).",
    source="Vault provider docs (`vault_generic_endpoint` writes any API path); Vault system backend API",
    types=(ENDPOINT,),
    severity=Severity.HIGH,
    url="https://developer.hashicorp.com/vault/api-docs/system",
)
def endpoint_no_config_write(endpoint: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    path = endpoint.get("path")
    if is_unknown(path):
        yield cannot_check("path")
        return
    if not isinstance(path, str):
        return
    normalized = normalize_path(path.strip())
    area = config_area(normalized)
    if area:
        yield Problem(f"writes '{normalized}', {area}, outside the typed resources the pack judges.")


def _provider_credentials(field: str, value: Any) -> list[str]:
    """The credential names an ``auth_login*`` block holds."""
    block = provider_setting(value)
    if isinstance(block, str):
        return [field] if block.strip() else []
    found = []
    for key, item in mapping(block).items():
        if key == "parameters":
            found += [f"{field}.parameters.{k}" for k, v in mapping(item).items() if credential_name(k) and is_set(v)]
        elif credential_name(key) and is_set(item):
            found.append(f"{field}.{key}")
    return found


@resource_rule(
    "vault-provider-credentials",
    description="The Vault provider holds no credential in plain text: its `token` and login secrets are secrets.",
    why=(
        "A provider's configuration is stored in the stack's state and config as it is given; a `token` (or an "
        "`auth_login*` password, secret ID or JWT) that is not a Pulumi secret is stored in plain text, readable "
        "by anyone who can read the state. The pack sees secretness only through `additionalSecretOutputs`, "
        "because the policy SDK hands rules unwrapped values."
    ),
    level=Level.MANDATORY,
    remediation=(
        "leave `token` out of the provider (it reads VAULT_TOKEN at run time), log in with a workload identity "
        "(`auth_login_jwt`/`auth_login_kubernetes` from a token file), or pass the value as a secret and list the "
        "field in `additional_secret_outputs`."
    ),
    source="Pulumi secrets docs; Vault provider docs (`token`, `auth_login*`)",
    types=(PROVIDER,),
    severity=Severity.CRITICAL,
    url="https://www.pulumi.com/registry/packages/vault/installation-configuration/",
)
def provider_credentials(provider: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    for field in sorted(provider.props):
        value = provider.props[field]
        if field in provider.secret_outputs or not is_set(value):
            continue
        if is_unknown(value):
            if field == "token" or field.startswith("authLogin"):
                yield cannot_check(field)
            continue
        if field == "token":
            yield Problem("token is stored in plain text in the stack's state.")
        elif field.startswith("authLogin"):
            for name in _provider_credentials(field, value):
                yield Problem(f"{name} is stored in plain text in the stack's state.")


RULES = (
    no_glob_bindings,
    single_identity,
    not_default_service_account,
    audience_bound,
    alias_uid,
    token_ttl_cap,
    token_max_ttl_cap,
    no_root_policy,
    policy_valid,
    no_root_glob,
    sudo_allow_list,
    no_privileged_write,
    templated_paths,
    auth_ca_cert,
    auth_tls,
    no_long_lived_reviewer_token,
    no_annotation_alias_metadata,
    jwt_bound_issuer,
    audit_no_raw_logging,
    audit_no_discard,
    audit_header_hmac,
    endpoint_no_config_write,
    provider_credentials,
)
