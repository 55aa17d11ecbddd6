"""Rules over External Secrets Operator objects (field names per the external-secrets.io CRDs) and its chart."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .core import (
    Level,
    Problem,
    Resource,
    Severity,
    bool_param,
    crd_types,
    dig,
    duration_seconds,
    human_seconds,
    int_param,
    is_set,
    is_unknown,
    items,
    mapping,
    resource_rule,
)
from .kubernetes import CHART_TYPES, chart_name, chart_values
from .vault import insecure_url

GROUP = "external-secrets.io"
VERSIONS = ("v1", "v1beta1")
SECRET_STORES = crd_types(GROUP, "SecretStore", versions=VERSIONS)
CLUSTER_SECRET_STORES = crd_types(GROUP, "ClusterSecretStore", versions=VERSIONS)
STORES = SECRET_STORES + CLUSTER_SECRET_STORES
# Generators that log in to Vault themselves: their spec.provider is a Vault provider block.
VAULT_GENERATORS = crd_types("generators.external-secrets.io", "VaultDynamicSecret", versions=("v1alpha1",))
VAULT_CLIENTS = STORES + VAULT_GENERATORS
EXTERNAL_SECRETS = crd_types(GROUP, "ExternalSecret", versions=VERSIONS)
CLUSTER_EXTERNAL_SECRETS = crd_types(GROUP, "ClusterExternalSecret", versions=VERSIONS)
LEGACY_EXTERNAL_SECRET = "kubernetes:kubernetes-client.io/v1:ExternalSecret"
CHART = "external-secrets"
DEFAULT_REFRESH = "1h"
SA_TOKEN_TYPE = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"

# The chart's switches for cluster-wide (and write-back) kinds: each CRD and its controller. Chart defaults: true.
CLUSTER_WIDE_VALUES = (
    ("crds", "createClusterSecretStore"),
    ("crds", "createClusterExternalSecret"),
    ("crds", "createClusterGenerator"),
    ("crds", "createClusterPushSecret"),
    ("crds", "createPushSecret"),
    ("processClusterStore",),
    ("processClusterExternalSecret",),
    ("processClusterGenerator",),
    ("processClusterPushSecret",),
    ("processPushSecret",),
)
# Vault provider auth methods that log in with a credential stored in a Kubernetes Secret.
STATIC_AUTH = {
    "tokenSecretRef": "a static Vault token",
    "appRole": "an AppRole secret-id stored in a Secret",
    "userPass": "a password stored in a Secret",
    "ldap": "an LDAP password stored in a Secret",
    "cert": "a client certificate stored in a Secret",
}

ESO_VAULT = "https://external-secrets.io/latest/provider/hashicorp-vault/"
ESO_SECURITY = "https://external-secrets.io/latest/guides/security-best-practices/"


def vault_provider(client: Resource) -> Mapping[str, Any]:
    """The Vault provider block of a (Cluster)SecretStore or a VaultDynamicSecret generator."""
    if client.type in VAULT_GENERATORS:
        return mapping(client.get("spec", "provider"))
    return mapping(client.get("spec", "provider", "vault"))


def store_role(store: Resource) -> tuple[str, str, str | None] | None:
    """(auth mount, role, service-account namespace) a Vault store or generator logs in with, if kubernetes/jwt."""
    auth = mapping(vault_provider(store).get("auth"))
    if "kubernetes" in auth:
        k8s = mapping(auth["kubernetes"])
        mount, role, ref = k8s.get("mountPath", "kubernetes"), k8s.get("role"), mapping(k8s.get("serviceAccountRef"))
    elif "jwt" in auth:
        jwt = mapping(auth["jwt"])
        mount, role = jwt.get("path", "jwt"), jwt.get("role")
        ref = mapping(dig(jwt, "kubernetesServiceAccountToken", "serviceAccountRef"))
    else:
        return None
    if not isinstance(role, str) or not isinstance(mount, str) or is_unknown(role) or is_unknown(mount):
        return None
    namespace = ref.get("namespace")
    return mount, role, namespace if isinstance(namespace, str) else None


def external_secret_spec(resource: Resource) -> Mapping[str, Any]:
    if resource.type in CLUSTER_EXTERNAL_SECRETS:
        return mapping(resource.get("spec", "externalSecretSpec"))
    return mapping(resource.get("spec"))


@resource_rule(
    "eso-store-https-ca",
    description="SecretStores and Vault generators reach Vault over https and pin its CA (`caBundle` or `caProvider`).",
    level=Level.MANDATORY,
    remediation=(
        "set `server` to an https:// address and `caBundle` (base64 PEM) or "
        "`caProvider`: set the stack's `vault.caCert`."
    ),
    source="External Secrets Vault provider docs (`server`, `caBundle`, `caProvider`)",
    types=VAULT_CLIENTS,
    severity=Severity.HIGH,
    url=ESO_VAULT,
)
def store_https_ca(store: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    vault = vault_provider(store)
    if not vault:
        return
    server = vault.get("server")
    if not is_unknown(server) and (not isinstance(server, str) or insecure_url(server) or "://" not in server):
        yield Problem("spec.provider.vault.server is not an https:// address.")
    if not is_set(vault.get("caBundle")) and not is_set(vault.get("caProvider")):
        yield Problem("spec.provider.vault has neither caBundle nor caProvider.")


@resource_rule(
    "eso-store-no-static-token",
    description=(
        "SecretStores and Vault generators log in to Vault as the workload's service account, never with "
        "a static token or stored credential."
    ),
    level=Level.MANDATORY,
    remediation=(
        "use `auth.kubernetes.serviceAccountRef` (or "
        "`auth.jwt.kubernetesServiceAccountToken`) with the workload's role."
    ),
    source="External Secrets Vault provider docs; External Secrets security best practices",
    types=VAULT_CLIENTS,
    severity=Severity.CRITICAL,
    url=ESO_SECURITY,
)
def store_no_static_token(store: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    auth = mapping(vault_provider(store).get("auth"))
    for method, what in STATIC_AUTH.items():
        if is_set(auth.get(method)):
            yield Problem(f"spec.provider.vault.auth.{method} logs in with {what}.")
    if is_set(dig(auth, "kubernetes", "secretRef")):
        yield Problem(
            "spec.provider.vault.auth.kubernetes.secretRef logs in with a long-lived token stored in a Secret."
        )
    if is_set(dig(auth, "jwt", "secretRef")):
        yield Problem("spec.provider.vault.auth.jwt.secretRef logs in with a JWT stored in a Secret.")


@resource_rule(
    "eso-cluster-store-conditions",
    description="A ClusterSecretStore is usable only from namespaces listed in its `conditions`.",
    level=Level.MANDATORY,
    remediation=(
        "add `conditions: [{namespaces: [<ns>, ...]}]` (or a namespaceSelector); no namespaceRegexes, no open store."
    ),
    source="External Secrets ClusterSecretStore docs (`conditions`); External Secrets security best practices",
    types=CLUSTER_SECRET_STORES,
    severity=Severity.CRITICAL,
    url=ESO_SECURITY,
)
def cluster_store_conditions(store: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    conditions = store.get("spec", "conditions")
    if is_unknown(conditions):
        return
    if not items(conditions):
        yield Problem("spec.conditions is empty: every namespace can read through the store.")
        return
    for i, condition in enumerate(items(conditions)):
        condition = mapping(condition)
        if is_set(condition.get("namespaceRegexes")):
            yield Problem(f"spec.conditions[{i}] uses namespaceRegexes (a pattern, not a list of namespaces).")
        selector = mapping(condition.get("namespaceSelector"))
        if not is_set(condition.get("namespaces")) and not (
            is_set(selector.get("matchLabels")) or is_set(selector.get("matchExpressions"))
        ):
            yield Problem(f"spec.conditions[{i}] names no namespace.")


@resource_rule(
    "eso-refresh-interval-bounds",
    description=(
        "ExternalSecrets refresh periodically, between `refreshIntervalMinSeconds` and `refreshIntervalMaxSeconds`."
    ),
    level=Level.ADVISORY,
    remediation="set `refreshInterval` within the bounds (default 1h) and keep `refreshPolicy` Periodic.",
    source="External Secrets ExternalSecret docs (`refreshInterval`, `refreshPolicy`; every refresh is a Vault login)",
    types=EXTERNAL_SECRETS + CLUSTER_EXTERNAL_SECRETS,
    params=(
        int_param("refreshIntervalMinSeconds", 60, "The shortest refreshInterval allowed, in seconds.", minimum=1),
        int_param("refreshIntervalMaxSeconds", 86400, "The longest refreshInterval allowed, in seconds.", minimum=1),
    ),
    severity=Severity.LOW,
    url="https://external-secrets.io/latest/api/externalsecret/",
)
def refresh_interval_bounds(resource: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    spec = external_secret_spec(resource)
    policy = spec.get("refreshPolicy")
    if policy in {"CreatedOnce", "OnChange"}:
        yield Problem(f"refreshPolicy is {policy}: a rotated secret is never re-read.")
        return
    raw = spec.get("refreshInterval", DEFAULT_REFRESH)
    if is_unknown(raw):
        return
    seconds = duration_seconds(raw)
    low, high = int(config["refreshIntervalMinSeconds"]), int(config["refreshIntervalMaxSeconds"])
    if seconds is None:
        yield Problem("refreshInterval is not a duration.")
    elif seconds == 0:
        yield Problem("refreshInterval is 0: the secret is never refreshed.")
    elif seconds < low:
        yield Problem(f"refreshInterval is {human_seconds(seconds)}, below {human_seconds(low)}.")
    elif seconds > high:
        yield Problem(f"refreshInterval is {human_seconds(seconds)}, above {human_seconds(high)}.")


@resource_rule(
    "eso-no-service-account-token-target",
    description="No ExternalSecret templates a `kubernetes.io/service-account-token` Secret (GHSA-fq7h-9x26-6j22).",
    level=Level.MANDATORY,
    remediation="template an Opaque Secret; never a service-account-token type or the service-account.name annotation.",
    source="GHSA-fq7h-9x26-6j22 (External Secrets Operator)",
    types=EXTERNAL_SECRETS + CLUSTER_EXTERNAL_SECRETS,
    severity=Severity.CRITICAL,
    url="https://github.com/advisories/GHSA-fq7h-9x26-6j22",
)
def no_service_account_token_target(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    template = mapping(dig(external_secret_spec(resource), "target", "template"))
    if template.get("type") == SA_TOKEN_TYPE:
        yield Problem(f"target.template.type is {SA_TOKEN_TYPE}.")
    if SA_NAME_ANNOTATION in mapping(dig(template, "metadata", "annotations")):
        yield Problem(f"target.template.metadata.annotations sets {SA_NAME_ANNOTATION}.")


@resource_rule(
    "eso-chart-cluster-wide-off",
    description=(
        "The External Secrets chart installs no cluster-wide kinds (ClusterSecretStore, ClusterExternalSecret, "
        "ClusterGenerator, ClusterPushSecret) and no PushSecret, unless config allows them."
    ),
    level=Level.MANDATORY,
    remediation=(
        "set each `crds.create*` and `process*` value listed to false, or `allowClusterWideFeatures` after review."
    ),
    source=(
        "External Secrets chart values; External Secrets security best practices (disable unused cluster-wide kinds)"
    ),
    types=CHART_TYPES,
    target="`kubernetes:helm.sh/v4:Chart`, `kubernetes:helm.sh/v3:Release` of chart `external-secrets`",
    params=(bool_param("allowClusterWideFeatures", False, "Allow the chart's cluster-wide and PushSecret kinds."),),
    severity=Severity.HIGH,
    url=ESO_SECURITY,
)
def chart_cluster_wide_off(chart: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    if chart_name(chart) != CHART or config["allowClusterWideFeatures"]:
        return
    values = chart_values(chart)
    enabled = [".".join(path) for path in CLUSTER_WIDE_VALUES if dig(values, *path, default=True) is not False]
    if enabled:
        yield Problem(f"values leave on: {', '.join(enabled)} (the chart's default is true).")


@resource_rule(
    "eso-no-legacy-external-secret",
    description=(
        "No kubernetes-client.io ExternalSecret: the archived controller logs in as itself, for every namespace."
    ),
    level=Level.MANDATORY,
    remediation="migrate to an external-secrets.io/v1 ExternalSecret with a SecretStore that logs in as the workload.",
    source="kubernetes-external-secrets deprecation notice (archived 2022); External Secrets migration guide",
    types=(LEGACY_EXTERNAL_SECRET,),
    severity=Severity.HIGH,
    url="https://github.com/external-secrets/kubernetes-external-secrets",
)
def no_legacy_external_secret(_resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    yield Problem("uses the archived kubernetes-external-secrets controller (vaultRole binds the controller).")


RULES = (
    store_https_ca,
    store_no_static_token,
    cluster_store_conditions,
    refresh_interval_bounds,
    no_service_account_token_target,
    chart_cluster_wide_off,
    no_legacy_external_secret,
)
