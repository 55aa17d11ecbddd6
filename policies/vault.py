"""Rules over single Vault resources: auth roles, policies, auth configuration, audit devices, the provider."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlparse

from .core import (
    Level,
    Problem,
    Resource,
    Severity,
    bool_param,
    duration_seconds,
    falsy,
    human_seconds,
    int_param,
    is_set,
    is_unknown,
    items,
    mapping,
    resource_rule,
    strings,
    strings_param,
    truthy,
)
from .vault_hcl import (
    PathRule,
    PolicyParseError,
    glob_at_mount_root,
    parse_policy,
    reaches,
    templates,
)

K8S_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
JWT_ROLE = "vault:jwt/authBackendRole:AuthBackendRole"
ROLE_TYPES = (K8S_ROLE, JWT_ROLE)
POLICY = "vault:index/policy:Policy"
K8S_CONFIG = "vault:kubernetes/authBackendConfig:AuthBackendConfig"
JWT_BACKEND = "vault:jwt/authBackend:AuthBackend"
AUDIT = "vault:index/audit:Audit"
PROVIDER = "pulumi:providers:vault"

WORKLOAD_POLICY_PREFIX = "workload-"
SUBJECT_PREFIX = "system:serviceaccount:"
UID_CLAIM = "/kubernetes.io/serviceaccount/uid"
PRIVILEGED_AREAS = ("sys/", "auth/", "identity/")
ALLOWED_TEMPLATE = r"identity.entity.aliases.<mount accessor>.metadata.service_account_namespace"

VAULT_K8S_AUTH = "https://developer.hashicorp.com/vault/docs/auth/kubernetes"
VAULT_POLICIES = "https://developer.hashicorp.com/vault/docs/concepts/policies"


# --- shared readers ------------------------------------------------------------------------------


def role_identities(role: Resource) -> list[tuple[str, str]]:
    """The (namespace, service account) pairs a role binds: the product of its lists, or its jwt subject."""
    if role.type == JWT_ROLE:
        subject = role.get("boundSubject")
        if isinstance(subject, str) and subject.startswith(SUBJECT_PREFIX):
            namespace, _, account = subject.removeprefix(SUBJECT_PREFIX).partition(":")
            return [(namespace, account)]
        return []
    names = strings(role.get("boundServiceAccountNames"))
    namespaces = strings(role.get("boundServiceAccountNamespaces"))
    return [(ns, sa) for ns in namespaces for sa in names]


def role_namespaces(role: Resource) -> list[str]:
    return sorted({ns for ns, _ in role_identities(role)})


def role_policies(role: Resource) -> list[str]:
    return strings(role.get("tokenPolicies")) + strings(role.get("policies"))


def role_key(role: Resource) -> tuple[str, str] | None:
    """(auth mount, role name), or None while either is unknown."""
    backend, name = role.get("backend"), role.get("roleName")
    if not isinstance(backend, str) or not isinstance(name, str) or is_unknown(backend) or is_unknown(name):
        return None
    return backend.strip("/"), name


def policy_rules(policy: Resource) -> tuple[PathRule, ...] | None:
    """The parsed rules of a ``vault.Policy``; None when the document is unknown or does not parse."""
    document = policy.get("policy")
    if not isinstance(document, str) or is_unknown(document):
        return None
    try:
        return parse_policy(document)
    except PolicyParseError:
        return None


def is_workload_policy(name: Any) -> bool:
    return isinstance(name, str) and name.startswith(WORKLOAD_POLICY_PREFIX)


def insecure_url(url: Any) -> bool:
    """An ``http://`` (or scheme-less) URL to anything but the loopback interface."""
    if not isinstance(url, str) or is_unknown(url) or not url:
        return False
    parsed = urlparse(url if "://" in url else f"//{url}")
    if parsed.scheme == "https":
        return False
    host = parsed.hostname or ""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


# --- roles -----------------------------------------------------------------------------------------


@resource_rule(
    "vault-role-no-glob-bindings",
    description="Vault auth roles bind exact service-account names and namespaces: no glob character anywhere.",
    level=Level.MANDATORY,
    remediation="list the exact namespace and service account (one each); never `*`, a prefix glob or a selector.",
    source="Vault kubernetes auth API (bound_service_account_names/namespaces accept `*` and prefix/suffix globs)",
    types=ROLE_TYPES,
    severity=Severity.CRITICAL,
    url=VAULT_K8S_AUTH,
)
def no_glob_bindings(role: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    for field in ("boundServiceAccountNames", "boundServiceAccountNamespaces"):
        globbed = [v for v in strings(role.get(field)) if "*" in v or "?" in v]
        if globbed:
            yield Problem(f"{field} contains a glob ({', '.join(repr(v) for v in globbed)}).")
    if is_set(role.get("boundServiceAccountNamespaceSelector")):
        yield Problem(
            "boundServiceAccountNamespaceSelector binds every namespace whose labels match, not one namespace."
        )
    subject = role.get("boundSubject")
    if isinstance(subject, str) and "*" in subject:
        yield Problem("boundSubject contains a glob.")
    if role.get("boundClaimsType") == "glob" and is_set(role.get("boundClaims")):
        yield Problem("boundClaimsType is 'glob': bound claims match as globs.")


@resource_rule(
    "vault-role-single-identity",
    description="Each Vault auth role binds exactly one namespace and one service account.",
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
            return
        if not role_identities(role):
            yield Problem("boundSubject is not `system:serviceaccount:<namespace>:<service account>`.")
        return
    names = role.get("boundServiceAccountNames")
    namespaces = role.get("boundServiceAccountNamespaces")
    if is_unknown(names) or is_unknown(namespaces):
        return
    if len(items(names)) != 1 or len(items(namespaces)) != 1:
        yield Problem(
            f"binds {len(items(namespaces))} namespace(s) and {len(items(names))} service account(s), not one of each."
        )


@resource_rule(
    "vault-role-audience-bound",
    description="Vault auth roles require a token audience, so a token minted for another audience cannot log in.",
    level=Level.MANDATORY,
    remediation="set `audience` (kubernetes) or `bound_audiences` (jwt) to the audience Vault's clients request.",
    source="Vault kubernetes auth API (`audience`; Vault warns when a role has none)",
    types=ROLE_TYPES,
    severity=Severity.HIGH,
    url=VAULT_K8S_AUTH,
)
def audience_bound(role: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    field = "boundAudiences" if role.type == JWT_ROLE else "audience"
    value = role.get(field)
    if is_unknown(value):
        return
    present = any(a.strip() for a in strings(value)) if isinstance(value, list) else is_set(value)
    if not present:
        yield Problem(f"{field} is not set.")


@resource_rule(
    "vault-role-alias-uid",
    description="Vault identity aliases are keyed on the service account's UID, never its name.",
    level=Level.MANDATORY,
    remediation=(
        'kubernetes: set `alias_name_source = "serviceaccount_uid"`; jwt: `user_claim = '
        f'"{UID_CLAIM}"` with `user_claim_json_pointer = true`.'
    ),
    source="Vault kubernetes auth API (`alias_name_source`: a recreated account with the same name is a new identity)",
    types=ROLE_TYPES,
    severity=Severity.MEDIUM,
    url=VAULT_K8S_AUTH,
)
def alias_uid(role: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if role.type == JWT_ROLE:
        claim = role.get("userClaim")
        if is_unknown(claim):
            return
        if claim != UID_CLAIM or not truthy(role.get("userClaimJsonPointer")):
            yield Problem("user_claim is not the service account's UID claim (as a JSON pointer).")
        return
    source = role.get("aliasNameSource")
    if not is_unknown(source) and source != "serviceaccount_uid":
        yield Problem(
            f"aliasNameSource is {source!r}, not 'serviceaccount_uid'." if source else "aliasNameSource is unset."
        )


def _ttl(role: Resource, field: str, cap: int) -> Iterator[Problem]:
    value = role.get(field)
    if is_unknown(value):
        return
    seconds = duration_seconds(value)
    if not seconds:
        yield Problem(f"{field} is unset or 0, so the mount's default applies (768h unless tuned).")
    elif seconds > cap:
        yield Problem(f"{field} is {human_seconds(seconds)}, above the cap of {human_seconds(cap)}.")


@resource_rule(
    "vault-role-token-ttl-cap",
    description="Tokens issued by a Vault auth role live at most `maxTokenTtlSeconds` before renewal.",
    level=Level.MANDATORY,
    remediation="set `token_ttl` at or below the cap (the stack's default is 15m).",
    source="Vault token TTL guidance (short TTLs bound a leaked token's use)",
    types=ROLE_TYPES,
    params=(int_param("maxTokenTtlSeconds", 3600, "The largest token_ttl allowed, in seconds.", minimum=1),),
    severity=Severity.MEDIUM,
    url="https://developer.hashicorp.com/vault/docs/concepts/tokens",
)
def token_ttl_cap(role: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    yield from _ttl(role, "tokenTtl", int(config["maxTokenTtlSeconds"]))


@resource_rule(
    "vault-role-token-max-ttl-cap",
    description=(
        "Tokens issued by a Vault auth role cannot be renewed past `maxTokenMaxTtlSeconds`; no periodic tokens."
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
    yield from _ttl(role, "tokenMaxTtl", cap)
    period = duration_seconds(role.get("tokenPeriod"))
    if period:
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


# --- policies --------------------------------------------------------------------------------------


@resource_rule(
    "vault-policy-valid",
    description="Every Vault policy parses as HCL (or JSON) with `path` stanzas and known capabilities only.",
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
    description='No Vault policy grants `path "*"` or a glob at a mount root (`secret/*`, `secret/data/*`, `+/...`).',
    level=Level.MANDATORY,
    remediation="grant the exact paths the workload reads (e.g. `secret/data/<app>`), not the whole mount.",
    source="Vault policies guide (globs and `+` segments; least privilege)",
    types=(POLICY,),
    severity=Severity.CRITICAL,
    url=VAULT_POLICIES,
)
def no_root_glob(policy: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    for rule in policy_rules(policy) or ():
        if not rule.denies and glob_at_mount_root(rule.path):
            yield Problem(f"path '{rule.path}' is a glob at a mount root.")


@resource_rule(
    "vault-policy-sudo-allow-list",
    description="The `sudo` capability appears only on paths of the `sudoAllowList`.",
    level=Level.MANDATORY,
    remediation="drop `sudo`, or add the exact path to the rule's `sudoAllowList` after review.",
    source="Vault policies guide (`sudo` opens root-protected endpoints)",
    types=(POLICY,),
    params=(strings_param("sudoAllowList", [], "Exact policy paths on which `sudo` is allowed."),),
    severity=Severity.CRITICAL,
    url=VAULT_POLICIES,
)
def sudo_allow_list(policy: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    allowed = set(config["sudoAllowList"] or [])
    for rule in policy_rules(policy) or ():
        if "sudo" in rule.capabilities and rule.path not in allowed:
            yield Problem(f"path '{rule.path}' grants sudo and is not on the allow-list.")


@resource_rule(
    "vault-policy-no-privileged-write",
    description=(
        "A workload's policy (`workload-*`) writes nothing under `sys/` (audit, "
        "policies, mounts), `auth/` or `identity/`."
    ),
    level=Level.MANDATORY,
    remediation=(
        "a workload reads its secrets; manage Vault's configuration from the platform's own token, not a workload's."
    ),
    source=(
        "Vault policies guide; Vault production hardening (sys/audit, sys/policies, auth/ and identity/ are admin APIs)"
    ),
    types=(POLICY,),
    severity=Severity.CRITICAL,
    url="https://developer.hashicorp.com/vault/docs/concepts/production-hardening",
)
def no_privileged_write(policy: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    name = policy.get("name")
    if not is_workload_policy(name):
        return
    for rule in policy_rules(policy) or ():
        if rule.denies or not rule.writes:
            continue
        areas = [a for a in PRIVILEGED_AREAS if reaches(rule.path, a)]
        if areas:
            caps = ", ".join(sorted(rule.writes))
            yield Problem(f"path '{rule.path}' grants {caps} under {', '.join(areas)}.")


@resource_rule(
    "vault-policy-templated-paths",
    description=(
        "Templated policy paths use only the kubernetes auth alias's `service_account_namespace` metadata, "
        "as a whole path segment."
    ),
    level=Level.MANDATORY,
    remediation=f"template on `{{{{{ALLOWED_TEMPLATE}}}}}` as a whole segment, or write the exact path.",
    source="Vault policies guide (templated policies; alias metadata set by the kubernetes auth method)",
    types=(POLICY,),
    severity=Severity.HIGH,
    url="https://developer.hashicorp.com/vault/docs/concepts/policies#templated-policies",
)
def templated_paths(policy: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    for rule in policy_rules(policy) or ():
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
        if not is_set(auth.get("kubernetesCaCert")) and not falsy(auth.get("disableLocalCaJwt", default=False)):
            yield Problem("kubernetesCaCert is not set and Vault does not use its own pod's CA.")
        return
    if auth.get("type", default="jwt") != "jwt":
        return
    if is_set(auth.get("jwtValidationPubkeys")):
        return
    if is_set(auth.get("oidcDiscoveryUrl")) and not is_set(auth.get("oidcDiscoveryCaPem")):
        yield Problem("oidcDiscoveryUrl is set without oidcDiscoveryCaPem.")
    elif is_set(auth.get("jwksUrl")) and not is_set(auth.get("jwksCaPem")):
        yield Problem("jwksUrl is set without jwksCaPem.")
    elif not is_set(auth.get("oidcDiscoveryUrl")) and not is_set(auth.get("jwksUrl")):
        yield Problem("no validation keys, discovery URL or JWKS URL is set.")


@resource_rule(
    "vault-auth-tls",
    description="Vault and the endpoints it calls are reached over verified TLS: no `http://`, no TLS skip.",
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
        if truthy(resource.get("skipTlsVerify")):
            yield Problem("skipTlsVerify is true.")
        if insecure_url(resource.get("address")):
            yield Problem("address is not https.")
        return
    fields = ("kubernetesHost",) if resource.type == K8S_CONFIG else ("oidcDiscoveryUrl", "jwksUrl")
    for field in fields:
        if insecure_url(resource.get(field)):
            yield Problem(f"{field} is not https.")


@resource_rule(
    "vault-auth-no-long-lived-reviewer-token",
    description="Vault's kubernetes auth reviews tokens without a long-lived reviewer JWT, unless config allows it.",
    level=Level.MANDATORY,
    remediation=(
        "use the `client-jwt` reviewer (each client's own token, `disable_local_ca_jwt = true`) or Vault's pod token; "
        "set `allowLongLivedReviewerToken` only where neither works."
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


@resource_rule(
    "vault-auth-no-annotation-alias-metadata",
    description=(
        "Alias metadata comes from Vault, not from service-account annotations anyone who edits the account sets."
    ),
    level=Level.ADVISORY,
    remediation="leave `use_annotations_as_alias_metadata` unset; policies template on Vault's own alias metadata.",
    source="Vault kubernetes auth API (`use_annotations_as_alias_metadata`)",
    types=(K8S_CONFIG,),
    severity=Severity.MEDIUM,
    url=VAULT_K8S_AUTH,
)
def no_annotation_alias_metadata(config_resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if truthy(config_resource.get("useAnnotationsAsAliasMetadata")):
        yield Problem("useAnnotationsAsAliasMetadata is true.")


@resource_rule(
    "vault-jwt-bound-issuer",
    description="A jwt auth mount for service-account tokens checks the issuer (`bound_issuer`).",
    level=Level.ADVISORY,
    remediation="set `bound_issuer` to the cluster's service-account issuer URL.",
    source="Vault jwt auth API (`bound_issuer`); Vault guide for Kubernetes service-account tokens with jwt auth",
    types=(JWT_BACKEND,),
    severity=Severity.MEDIUM,
    url="https://developer.hashicorp.com/vault/docs/auth/jwt/oidc-providers/kubernetes",
)
def jwt_bound_issuer(backend: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if backend.get("type", default="jwt") == "jwt" and not is_set(backend.get("boundIssuer")):
        yield Problem("boundIssuer is not set.")


# --- audit devices ------------------------------------------------------------------------------------


@resource_rule(
    "vault-audit-no-raw-logging",
    description="Audit devices hash secrets: no `log_raw`, no plain token accessors.",
    level=Level.MANDATORY,
    remediation="remove `log_raw` and `hmac_accessor = false` from the audit device's options.",
    source="Vault audit devices docs (`log_raw` writes secrets and tokens in plaintext)",
    types=(AUDIT,),
    severity=Severity.CRITICAL,
    url="https://developer.hashicorp.com/vault/docs/audit",
)
def audit_no_raw_logging(audit: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    options = mapping(audit.get("options"))
    if truthy(options.get("log_raw")):
        yield Problem("options.log_raw is true: secrets are written to the audit log in plaintext.")
    if falsy(options.get("hmac_accessor")):
        yield Problem("options.hmac_accessor is false: token accessors are written in plaintext.")


RULES = (
    no_glob_bindings,
    single_identity,
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
)
