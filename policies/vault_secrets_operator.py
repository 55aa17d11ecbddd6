"""Rules over HashiCorp Vault Secrets Operator objects (secrets.hashicorp.com/v1beta1 CRDs) and its chart.

VSO resolves what a secret object leaves out from its own namespace: a VaultStaticSecret (or Dynamic,
PKI) without ``vaultAuthRef`` uses the VaultAuth named ``default`` in the operator's namespace, and a
VaultAuth without ``vaultConnectionRef`` the VaultConnection ``default`` there. VSO lets every namespace
use that default VaultAuth whatever its ``allowedNamespaces`` say (``isAllowedNamespace`` in VSO's
``common.go``), and requests its token for the service account it names in the *consumer's* namespace.
The chart creates both defaults when ``defaultVaultConnection.enabled`` / ``defaultAuthMethod.enabled``
are on (Go template truth) and prints ``skipTLSVerify`` into the manifest as it is given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .charts import CHART_TYPES, CHARTS_TARGET, Layer, Setting, chart_name, chart_unknown, enabled, layers, setting
from .core import Level, Problem, Resource, Severity, bool_param, cannot_check, crd_types, resource_rule
from .values import go_bool, helm_truthy, insecure_url, is_set, is_unknown, mapping, rendered_true, text
from .vault import audience_problems, url_problems

GROUP = "secrets.hashicorp.com"
VERSIONS = ("v1beta1",)
CONNECTIONS = crd_types(GROUP, "VaultConnection", versions=VERSIONS)
AUTHS = crd_types(GROUP, "VaultAuth", versions=VERSIONS)
DYNAMIC_SECRETS = crd_types(GROUP, "VaultDynamicSecret", versions=VERSIONS)
SECRETS = crd_types(GROUP, "VaultStaticSecret", "VaultPKISecret", versions=VERSIONS) + DYNAMIC_SECRETS
CHART = "vault-secrets-operator"
CHART_TARGET = f"{CHARTS_TARGET} of chart `{CHART}`"
DEFAULT = "default"
LOGIN_METHODS = ("kubernetes", "jwt")
# The chart's defaults (values.yaml), checked against the reference by a test.
CHART_DEFAULTS: Mapping[tuple[str, ...], Any] = {
    ("defaultVaultConnection", "enabled"): False,
    ("defaultVaultConnection", "address"): "",
    ("defaultVaultConnection", "caCertSecret"): "",
    ("defaultVaultConnection", "skipTLSVerify"): False,
    ("defaultAuthMethod", "enabled"): False,
    ("defaultAuthMethod", "method"): "kubernetes",
    ("defaultAuthMethod", "kubernetes", "serviceAccount"): "default",
    ("defaultAuthMethod", "kubernetes", "tokenAudiences"): [],
    ("defaultAuthMethod", "jwt", "secretRef"): "",
    ("defaultAuthMethod", "jwt", "serviceAccount"): "default",
    ("defaultAuthMethod", "jwt", "tokenAudiences"): [],
}

VSO_DOCS = "https://developer.hashicorp.com/vault/docs/platform/k8s/vso"
VSO_API = "https://developer.hashicorp.com/vault/docs/platform/k8s/vso/api-reference"
VSO_AUTH = "https://developer.hashicorp.com/vault/docs/platform/k8s/vso/sources/vault/auth"
VSO_HELM = "https://developer.hashicorp.com/vault/docs/platform/k8s/vso/helm"


def chart_value(values: list[Layer], *path: str) -> Setting:
    """A VSO chart value through the layers, the chart's own default where none sets it."""
    found = setting(values, *path)
    return Setting("set", CHART_DEFAULTS.get(path)) if found.state == "default" else found


def default_object(chart: Resource, section: str) -> tuple[list[Layer], list[Problem]] | None:
    """The values of a VSO chart that renders its default ``section`` object (``defaultVaultConnection`` or
    ``defaultAuthMethod``), with a cannot-check where that is not known; None when it renders none."""
    unknown = list(chart_unknown(chart))
    if unknown:
        return [], unknown
    if chart_name(chart) != CHART:
        return None
    values = layers(chart)
    on = enabled(values, (section, "enabled"), CHART_DEFAULTS[(section, "enabled")])
    if on is None:
        return [], [cannot_check(f"values.{section}.enabled")]
    return (values, []) if on else None


def login_blocks(spec: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]] | Problem]:
    """``(where, method, block)`` of the kubernetes / jwt login a VaultAuth uses: the one ``method`` names, else
    those present."""
    method = spec.get("method")
    if is_unknown(method):
        yield cannot_check("spec.method")
        return
    names = [method] if method in LOGIN_METHODS else [] if is_set(method) else [m for m in LOGIN_METHODS if m in spec]
    for name in names:
        block = spec.get(name)
        yield cannot_check(f"spec.{name}") if is_unknown(block) else (f"spec.{name}", name, mapping(block))


def vault_auths(resource: Resource) -> Iterator[tuple[str, str, Mapping[str, Any]] | Problem]:
    """``(where, method, login block)`` of a VaultAuth, or of the VaultAuth a VSO chart renders as its default.

    A chart block is read as the chart renders it: its ``tokenAudiences`` become ``audiences`` (the chart
    renders them only when non-empty); jwt's ``serviceAccount`` and audiences only without a ``secretRef``.
    """
    if resource.type in AUTHS:
        spec = resource.get("spec")
        if is_unknown(spec):
            yield cannot_check("spec")
            return
        yield from login_blocks(mapping(spec))
        return
    rendered = default_object(resource, "defaultAuthMethod")
    if rendered is None:
        return
    values, problems = rendered
    yield from problems
    if problems:
        return
    method = chart_value(values, "defaultAuthMethod", "method")
    if method.state == "unknown" or method.value not in LOGIN_METHODS:
        if method.state == "unknown":
            yield cannot_check(method.where)
        return
    keys = {"secretRef": "secretRef"} if method.value == "jwt" else {}
    keys |= {"serviceAccount": "serviceAccount", "tokenAudiences": "audiences"}
    block: dict[str, Any] = {}
    for key, as_rendered in keys.items():
        value = chart_value(values, "defaultAuthMethod", method.value, key)
        if value.state == "unknown":
            yield cannot_check(value.where)
            return
        if helm_truthy(value.value):
            block[as_rendered] = value.value
    yield f"values.defaultAuthMethod.{method.value}", method.value, block


# --- VaultConnection ------------------------------------------------------------------------------------


@resource_rule(
    "vso-connection-tls",
    description="VaultConnections reach Vault over verified TLS: an https `address`, `skipTLSVerify` not true.",
    why=(
        "Every VaultAuth using the connection sends the workload's service-account token to `address` at each "
        "login and receives its secrets back: with `skipTLSVerify` (read here as Go's `strconv.ParseBool`) or an "
        "http address, whoever answers gets both. The chart's default VaultConnection (`defaultVaultConnection`, "
        "rendered when `enabled` is on) prints `skipTLSVerify` into its manifest, so `true`, `yes` and `on` all "
        "turn verification off there."
    ),
    level=Level.MANDATORY,
    remediation="set `address` to Vault's https:// address and `skipTLSVerify: false` with a CA (`caCertSecretRef`).",
    source="VSO VaultConnection API (`address`, `skipTLSVerify`); VSO chart values (`defaultVaultConnection`)",
    types=CONNECTIONS + CHART_TYPES,
    target=f"`VaultConnection`, {CHART_TARGET}",
    severity=Severity.CRITICAL,
    url=VSO_API,
)
def connection_tls(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if resource.type in CONNECTIONS:
        spec = resource.get("spec")
        if is_unknown(spec):
            yield cannot_check("spec")
            return
        spec = mapping(spec)
        skip = spec.get("skipTLSVerify")
        if is_unknown(skip):
            yield cannot_check("spec.skipTLSVerify")
        elif go_bool(skip):
            yield Problem("spec.skipTLSVerify is true.")
        yield from url_problems("spec.address", spec.get("address"))
        return
    rendered = default_object(resource, "defaultVaultConnection")
    if rendered is None:
        return
    values, problems = rendered
    yield from problems
    if problems:
        return
    skip = chart_value(values, "defaultVaultConnection", "skipTLSVerify")
    address = chart_value(values, "defaultVaultConnection", "address")
    for found in (skip, address):
        if found.state == "unknown":
            yield cannot_check(found.where)
    if skip.state == "set" and rendered_true(skip.value):
        yield Problem("values.defaultVaultConnection.skipTLSVerify is true: the default VaultConnection skips TLS.")
    if address.state == "set" and insecure_url(address.value):
        yield Problem("values.defaultVaultConnection.address is not an https:// address.")


@resource_rule(
    "vso-connection-ca",
    description="VaultConnections pin Vault's CA (`caCertSecretRef` or `caCertPath`).",
    why=(
        "Without a CA of its own the operator trusts every CA of its image's system pool for the connection "
        "that carries workloads' service-account tokens and secrets; the chart's default VaultConnection takes "
        "its CA from `defaultVaultConnection.caCertSecret`."
    ),
    level=Level.MANDATORY,
    remediation=(
        "put Vault's CA (PEM) in a Secret under `ca.crt` in the connection's namespace and name it in "
        "`caCertSecretRef`: set the stack's `vault.caCert`."
    ),
    source="VSO VaultConnection API (`caCertSecretRef`: a Secret with `ca.crt`; `caCertPath`)",
    types=CONNECTIONS + CHART_TYPES,
    target=f"`VaultConnection`, {CHART_TARGET}",
    severity=Severity.HIGH,
    url=VSO_API,
)
def connection_ca(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if resource.type in CONNECTIONS:
        spec = resource.get("spec")
        if is_unknown(spec):
            yield cannot_check("spec")
        elif not is_set(mapping(spec).get("caCertSecretRef")) and not is_set(mapping(spec).get("caCertPath")):
            yield Problem("spec has neither caCertSecretRef nor caCertPath.")
        return
    rendered = default_object(resource, "defaultVaultConnection")
    if rendered is None:
        return
    values, problems = rendered
    yield from problems
    if problems:
        return
    ca = chart_value(values, "defaultVaultConnection", "caCertSecret")
    if ca.state == "unknown":
        yield cannot_check(ca.where)
    elif not helm_truthy(ca.value):
        yield Problem("values.defaultVaultConnection.caCertSecret is not set: the default VaultConnection pins no CA.")


# --- VaultAuth ------------------------------------------------------------------------------------------


@resource_rule(
    "vso-auth-audience",
    description="VaultAuths request service-account tokens for Vault's audience (`audiences`), not the API server's.",
    why=(
        "VSO requests the token it logs in with from the TokenRequest API with the VaultAuth's `audiences`; "
        "without them the token is for the API server's own audience, which every pod's default token carries "
        "and a Vault role bound to it accepts from any of them. A jwt VaultAuth with `secretRef` logs in with a "
        "JWT stored in a Secret instead, whose audience and lifetime nobody here chose. VaultAuthGlobal "
        "defaults are not read: set the audiences on the VaultAuth."
    ),
    level=Level.MANDATORY,
    remediation=(
        "set `kubernetes.audiences` / `jwt.audiences` to the audience the Vault role binds "
        "(the stack's `cluster.audience`)."
    ),
    source="VSO VaultAuth API (`kubernetes.audiences`, `jwt.audiences`, `jwt.secretRef`); Vault kubernetes auth",
    types=AUTHS + CHART_TYPES,
    target=f"`VaultAuth`, {CHART_TARGET}",
    severity=Severity.HIGH,
    url=VSO_AUTH,
)
def auth_audience(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    for found in vault_auths(resource):
        if isinstance(found, Problem):
            yield found
            continue
        where, method, block = found
        if method == "jwt" and is_set(block.get("secretRef")):
            if is_unknown(block.get("secretRef")):
                yield cannot_check(f"{where}.secretRef")
            else:
                yield Problem(f"{where}.secretRef logs in with a JWT stored in a Secret.")
            continue
        field = f"{where}.tokenAudiences" if where.startswith("values.") else f"{where}.audiences"
        yield from audience_problems(field, block.get("audiences"))


@resource_rule(
    "vso-auth-not-default-service-account",
    description="No VaultAuth logs in as a namespace's `default` service account.",
    why=(
        "VSO requests the token for `serviceAccount` in the namespace of the secret object it syncs: `default` "
        "is the account every pod without a `serviceAccountName` runs as, in every namespace, so the role's "
        "policies go to all of them. The chart's default VaultAuth uses `default` unless told otherwise, and "
        "serves every namespace."
    ),
    level=Level.MANDATORY,
    remediation="give each workload a service account of its own and name it in the VaultAuth's `serviceAccount`.",
    source="VSO Vault auth docs (the service account lives in the consumer's namespace); Kubernetes service accounts",
    types=AUTHS + CHART_TYPES,
    target=f"`VaultAuth`, {CHART_TARGET}",
    severity=Severity.HIGH,
    url=VSO_AUTH,
)
def auth_not_default_service_account(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    for found in vault_auths(resource):
        if isinstance(found, Problem):
            yield found
            continue
        where, _method, block = found
        account = block.get("serviceAccount")
        if is_unknown(account):
            yield cannot_check(f"{where}.serviceAccount")
        elif account == DEFAULT and not is_set(block.get("secretRef")):
            yield Problem(f"{where}.serviceAccount is `default`.")


# --- the default VaultAuth ------------------------------------------------------------------------------


def _auth_ref_problems(resource: Resource) -> Iterator[Problem]:
    ref = resource.get("spec", "vaultAuthRef")
    if is_unknown(ref):
        yield cannot_check("spec.vaultAuthRef")
    elif not is_set(text(ref)):
        yield Problem("spec.vaultAuthRef is not set: the operator logs in with its default VaultAuth.")
    else:
        namespace, slash, name = str(ref).rpartition("/")
        if slash and namespace and name == DEFAULT:
            yield Problem(f"spec.vaultAuthRef names the VaultAuth `default` of namespace {namespace!r}.")


@resource_rule(
    "vso-no-default-vault-auth",
    description=(
        "No default VaultAuth: every VSO secret names its `vaultAuthRef`, no VaultAuth is named `default`, the "
        "chart's `defaultAuthMethod` is off; unless config allows it."
    ),
    why=(
        "A VaultStaticSecret, VaultDynamicSecret or VaultPKISecret without `vaultAuthRef` logs in with the "
        "VaultAuth named `default` in the operator's namespace, and VSO lets every namespace use that one, "
        "whatever its `allowedNamespaces` say: anyone who may create a secret object in any namespace reads "
        "whatever the default's Vault role may read. The chart's `defaultAuthMethod.enabled` (Go template "
        "truth) creates it; the pack does not know the operator's namespace, so any VaultAuth named `default` "
        "counts."
    ),
    level=Level.MANDATORY,
    remediation=(
        "give each workload its own VaultAuth and name it in every secret's `vaultAuthRef`; keep "
        "`defaultAuthMethod.enabled` false; set `allowDefaultVaultAuth` only after review."
    ),
    source="VSO API reference (`vaultAuthRef`: the `default` VaultAuth in the operator's namespace); VSO common.go",
    types=SECRETS + AUTHS + CHART_TYPES,
    target=f"`VaultStaticSecret`, `VaultDynamicSecret`, `VaultPKISecret`, `VaultAuth`, {CHART_TARGET}",
    params=(bool_param("allowDefaultVaultAuth", False, "Allow a default VaultAuth and secrets that fall back to it."),),
    severity=Severity.HIGH,
    url=VSO_API,
)
def no_default_vault_auth(resource: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    if config["allowDefaultVaultAuth"]:
        return
    if resource.type in SECRETS:
        yield from _auth_ref_problems(resource)
    elif resource.type in AUTHS:
        name = resource.get("metadata", "name")
        if is_unknown(name):
            yield cannot_check("metadata.name")
        elif name == DEFAULT:
            yield Problem("is named `default`: in the operator's namespace it serves every namespace.")
    else:
        rendered = default_object(resource, "defaultAuthMethod")
        if rendered is not None:
            _values, problems = rendered
            yield from problems or [
                Problem("values.defaultAuthMethod.enabled creates a VaultAuth for every namespace.")
            ]


# --- VaultDynamicSecret -----------------------------------------------------------------------------------


@resource_rule(
    "vso-dynamic-secret-revoke",
    description="VaultDynamicSecrets of dynamic credentials (`creds/`) revoke their lease when deleted (`revoke`).",
    why=(
        "VSO keeps one lease per VaultDynamicSecret and renews it; deleted without `revoke`, the lease (a "
        "database user, cloud key, ...) stays valid until its TTL runs out, with nobody holding it. Static "
        "credentials (`static-creds/`, `allowStaticCreds`) have no lease to revoke."
    ),
    level=Level.ADVISORY,
    remediation="set `revoke: true` (the role's policy needs `update` on `sys/leases/revoke`).",
    source="VSO VaultDynamicSecret API (`revoke`: revoke the existing lease on deletion)",
    types=DYNAMIC_SECRETS,
    severity=Severity.MEDIUM,
    url=VSO_API,
)
def dynamic_secret_revoke(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    spec = resource.get("spec")
    if is_unknown(spec):
        yield cannot_check("spec")
        return
    spec = mapping(spec)
    path, static, revoke = spec.get("path"), spec.get("allowStaticCreds"), spec.get("revoke")
    if is_unknown(path) or is_unknown(static):
        yield cannot_check("spec.path and spec.allowStaticCreds")
        return
    if go_bool(static) or "creds" not in (text(path) or "").strip("/").split("/"):
        return
    if is_unknown(revoke):
        yield cannot_check("spec.revoke")
    elif go_bool(revoke) is not True:
        yield Problem("spec.revoke is not true: the lease outlives the object until its TTL ends.")


RULES = (
    connection_tls,
    connection_ca,
    auth_audience,
    auth_not_default_service_account,
    no_default_vault_auth,
    dynamic_secret_revoke,
)
