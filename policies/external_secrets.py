"""Rules over External Secrets Operator objects (field names per the external-secrets.io CRDs) and its chart."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .charts import CHART_TYPES, CHARTS_TARGET, chart_name, chart_unknown, enabled, layers
from .core import (
    Level,
    Problem,
    Resource,
    Severity,
    bool_param,
    cannot_check,
    crd_types,
    int_param,
    resource_rule,
)
from .kubernetes import selects_every_namespace
from .values import (
    dig,
    duration_seconds,
    has_unknown,
    human_seconds,
    insecure_url,
    is_set,
    is_unknown,
    items,
    mapping,
    text,
)

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
PUSH_SECRETS = crd_types(GROUP, "PushSecret", "ClusterPushSecret", versions=("v1alpha1",))
LEGACY_EXTERNAL_SECRET = "kubernetes:kubernetes-client.io/v1:ExternalSecret"
CHART = "external-secrets"
DEFAULT_REFRESH = "1h"
SA_TOKEN_TYPE = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"

# The chart's switches for cluster-wide (and write-back) kinds: each CRD and its controller. Chart defaults: true
# (checked against the chart's values.yaml by a test). The templates read them with Go template truth.
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
# Names no secret path has in common: a `find` regexp that matches all of them matches every name.
FIND_PROBES = ("a", "zz9-unrelated/Other_Name.1", "team-b/db/config", "Ω")

ESO_VAULT = "https://external-secrets.io/latest/provider/hashicorp-vault/"
ESO_SECURITY = "https://external-secrets.io/latest/guides/security-best-practices/"


def vault_provider(client: Resource) -> Any:
    """The Vault provider block of a (Cluster)SecretStore or a VaultDynamicSecret generator (``UNKNOWN`` if unknown)."""
    if client.type in VAULT_GENERATORS:
        return client.get("spec", "provider")
    return client.get("spec", "provider", "vault")


def store_role(store: Resource) -> tuple[str, str, str | None] | None:
    """(auth mount, role, service-account namespace) a Vault store or generator logs in with, if kubernetes/jwt."""
    auth = mapping(mapping(vault_provider(store)).get("auth"))
    if "kubernetes" in auth:
        k8s = mapping(auth["kubernetes"])
        mount, role, ref = k8s.get("mountPath", "kubernetes"), k8s.get("role"), mapping(k8s.get("serviceAccountRef"))
    elif "jwt" in auth:
        jwt = mapping(auth["jwt"])
        mount, role = jwt.get("path", "jwt"), jwt.get("role")
        ref = mapping(dig(jwt, "kubernetesServiceAccountToken", "serviceAccountRef"))
    else:
        return None
    if not isinstance(role, str) or not isinstance(mount, str):
        return None
    return mount, role, text(ref.get("namespace"))


def external_secret_spec(resource: Resource) -> Any:
    if resource.type in CLUSTER_EXTERNAL_SECRETS:
        return resource.get("spec", "externalSecretSpec")
    return resource.get("spec")


@resource_rule(
    "eso-store-https-ca",
    description="SecretStores and Vault generators reach Vault over https and pin its CA (`caBundle` or `caProvider`).",
    why=(
        "The store sends the workload's service-account token to `server` at every refresh and receives its "
        "secrets back: over http, or against a CA the controller does not pin, whoever answers gets both."
    ),
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
    if is_unknown(vault):
        yield cannot_check("spec.provider")
        return
    if not isinstance(vault, Mapping):
        return
    server = vault.get("server")
    if is_unknown(server):
        yield cannot_check("spec.provider.vault.server")
    elif not isinstance(server, str) or insecure_url(server) or "://" not in server:
        yield Problem("spec.provider.vault.server is not an https:// address.")
    if not is_set(vault.get("caBundle")) and not is_set(vault.get("caProvider")):
        yield Problem("spec.provider.vault has neither caBundle nor caProvider.")


@resource_rule(
    "eso-store-no-static-token",
    description=(
        "SecretStores and Vault generators log in to Vault as the workload's service account, never with "
        "a static token or stored credential."
    ),
    why=(
        "A token, AppRole secret-id, password or client certificate kept in a Kubernetes Secret is a long-lived "
        "credential anyone who can read the Secret can use from anywhere; a service-account login is bound to "
        "the pod's identity and expires with its token."
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
    vault = vault_provider(store)
    auth = vault if is_unknown(vault) else mapping(vault).get("auth")
    if is_unknown(auth):
        yield cannot_check("spec.provider.vault.auth")
        return
    auth = mapping(auth)
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
    why=(
        "Without conditions any namespace's ExternalSecret reads through the store, with the store's Vault "
        "identity. A condition's `namespaceSelector` is a Kubernetes label selector: an empty one, or one every "
        "namespace satisfies (`kubernetes.io/metadata.name` Exists, a NotIn on a label new namespaces lack), "
        "also admits namespaces created later; `namespaceRegexes` likewise admit every future namespace they match."
    ),
    level=Level.MANDATORY,
    remediation=(
        "add `conditions: [{namespaces: [<ns>, ...]}]` (or a selector on a label only reviewed namespaces carry); "
        "no namespaceRegexes."
    ),
    source="External Secrets ClusterSecretStore docs (`conditions`); External Secrets security best practices",
    types=CLUSTER_SECRET_STORES,
    severity=Severity.CRITICAL,
    url=ESO_SECURITY,
)
def cluster_store_conditions(store: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    conditions = store.get("spec", "conditions")
    if is_unknown(conditions):
        yield cannot_check("spec.conditions")
        return
    if not items(conditions):
        yield Problem("spec.conditions is empty: every namespace can read through the store.")
        return
    for i, condition in enumerate(items(conditions)):
        if is_unknown(condition):
            yield cannot_check(f"spec.conditions[{i}]")
            continue
        condition = mapping(condition)
        if is_set(condition.get("namespaceRegexes")):
            yield Problem(f"spec.conditions[{i}] uses namespaceRegexes (a pattern, not a list of namespaces).")
        selector = condition.get("namespaceSelector")
        if selector is not None:
            every = selects_every_namespace(selector)
            if every is None:
                yield cannot_check(f"spec.conditions[{i}].namespaceSelector")
            elif every:
                yield Problem(f"spec.conditions[{i}].namespaceSelector selects every namespace.")
        elif not is_set(condition.get("namespaces")) and not is_set(condition.get("namespaceRegexes")):
            yield Problem(f"spec.conditions[{i}] names no namespace.")


@resource_rule(
    "eso-refresh-interval-bounds",
    description=(
        "ExternalSecrets refresh periodically, between `refreshIntervalMinSeconds` and `refreshIntervalMaxSeconds`."
    ),
    why=(
        "Every refresh is a Vault login and read; `0`, `CreatedOnce` or `OnChange` mean a rotated or revoked "
        "secret is never re-read, and a very long interval keeps a revoked value in the cluster that long."
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
    if is_unknown(spec):
        yield cannot_check("spec")
        return
    spec = mapping(spec)
    policy, raw = spec.get("refreshPolicy"), spec.get("refreshInterval", DEFAULT_REFRESH)
    if is_unknown(policy) or is_unknown(raw):
        yield cannot_check("refreshPolicy and refreshInterval")
        return
    if policy in ("CreatedOnce", "OnChange"):
        yield Problem(f"refreshPolicy is {policy}: a rotated secret is never re-read.")
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
    why=(
        "The token controller fills a Secret of that type (or one annotated with `service-account.name`) with a "
        "long-lived token of the named account, so an ExternalSecret can mint itself any service account's token."
    ),
    level=Level.MANDATORY,
    remediation="template an Opaque Secret; never a service-account-token type or the service-account.name annotation.",
    source="GHSA-fq7h-9x26-6j22 (External Secrets Operator)",
    types=EXTERNAL_SECRETS + CLUSTER_EXTERNAL_SECRETS,
    severity=Severity.CRITICAL,
    url="https://github.com/advisories/GHSA-fq7h-9x26-6j22",
)
def no_service_account_token_target(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    template = dig(external_secret_spec(resource), "target", "template")
    if has_unknown(template):
        yield cannot_check("target.template")
        return
    template = mapping(template)
    if template.get("type") == SA_TOKEN_TYPE:
        yield Problem(f"target.template.type is {SA_TOKEN_TYPE}.")
    if SA_NAME_ANNOTATION in mapping(dig(template, "metadata", "annotations")):
        yield Problem(f"target.template.metadata.annotations sets {SA_NAME_ANNOTATION}.")


def find_matches_every_name(pattern: Any) -> bool:
    """Whether an ESO ``find.name.regexp`` (Go ``regexp.MatchString``: a search, not anchored) matches every name."""
    if not isinstance(pattern, str):
        return False
    try:
        compiled = re.compile(pattern)
        return all(compiled.search(probe) for probe in FIND_PROBES)
    except (re.error, RecursionError, OverflowError):
        return False  # RE2 refuses what Python cannot compile; the controller reports an error and syncs nothing


@resource_rule(
    "eso-find-scoped",
    description="No ExternalSecret `dataFrom.find` copies every secret the store can list into one Secret.",
    why=(
        "`find` lists secrets under `path` (the whole mount when unset) and syncs every one whose name matches "
        "`name.regexp`, read as Go's unanchored `regexp.MatchString`: `.*`, `.+`, `^` or an empty pattern match "
        "every name, so every secret the store's role may list, including those added later, lands in one "
        "Kubernetes Secret. `tags` narrow the match by custom metadata."
    ),
    level=Level.MANDATORY,
    remediation="name the secrets (`data`, `dataFrom.extract`), or scope `find` with a `path` and a specific `regexp`.",
    source="External Secrets ExternalSecret API (`dataFrom.find`: `path`, `name.regexp`, `tags`)",
    types=EXTERNAL_SECRETS + CLUSTER_EXTERNAL_SECRETS,
    severity=Severity.HIGH,
    url="https://external-secrets.io/latest/guides/getallsecrets/",
)
def find_scoped(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    sources = dig(external_secret_spec(resource), "dataFrom")
    if is_unknown(sources):
        yield cannot_check("dataFrom")
        return
    for i, source in enumerate(items(sources)):
        find = source if is_unknown(source) else mapping(source).get("find")
        if find is None:
            continue
        if has_unknown(find):
            yield cannot_check(f"dataFrom[{i}].find")
            continue
        find = mapping(find)
        scoped = is_set((text(find.get("path")) or "").strip("/")) or is_set(find.get("tags"))
        pattern = dig(find, "name", "regexp")
        if not scoped and (pattern is None or find_matches_every_name(pattern)):
            yield Problem(f"dataFrom[{i}].find matches every secret the store can list.")


def every_namespace(selectors: Sequence[Any]) -> bool | None:
    """Whether any of these namespace selectors selects every namespace (None while one is unknown)."""
    verdicts = [selects_every_namespace(s) for s in selectors]
    if any(verdicts):
        return True
    return None if None in verdicts else False


@resource_rule(
    "eso-cluster-external-secret-scoped",
    description="A ClusterExternalSecret lists its namespaces; no selector that selects every namespace.",
    why=(
        "A ClusterExternalSecret creates its ExternalSecret in every namespace its `namespaceSelectors` (or the "
        "deprecated `namespaceSelector`) select: an empty selector, or one a namespace created tomorrow satisfies, "
        "copies the secret into every namespace, present and future, where anyone who may read Secrets there "
        "reads it."
    ),
    level=Level.MANDATORY,
    remediation="list the namespaces in `spec.namespaces`, or select on a label only the intended namespaces carry.",
    source="External Secrets ClusterExternalSecret API (`namespaces`, `namespaceSelectors`)",
    types=CLUSTER_EXTERNAL_SECRETS,
    severity=Severity.HIGH,
    url="https://external-secrets.io/latest/api/clusterexternalsecret/",
)
def cluster_external_secret_scoped(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    spec = resource.get("spec")
    if is_unknown(spec):
        yield cannot_check("spec")
        return
    spec = mapping(spec)
    selectors = [spec["namespaceSelector"]] if spec.get("namespaceSelector") is not None else []
    many = spec.get("namespaceSelectors")
    selectors += [many] if is_unknown(many) else items(many)
    verdict = every_namespace(selectors)
    if verdict is None:
        yield cannot_check("spec.namespaceSelectors")
    elif verdict:
        yield Problem("a namespace selector selects every namespace.")


@resource_rule(
    "eso-no-push-secret",
    description="No PushSecret writes Kubernetes Secrets back into Vault, unless config allows it.",
    why=(
        "A PushSecret copies a Kubernetes Secret's data into the provider through its store: the store's Vault "
        "role then needs write access, and whoever may create PushSecrets in the namespace can overwrite what "
        "Vault serves to every other consumer of that path."
    ),
    level=Level.MANDATORY,
    remediation="write secrets to Vault from the platform's pipeline; set `allowPushSecret` only after review.",
    source="External Secrets PushSecret docs; External Secrets security best practices (disable unused kinds)",
    types=PUSH_SECRETS,
    params=(bool_param("allowPushSecret", False, "Allow PushSecret and ClusterPushSecret objects."),),
    severity=Severity.HIGH,
    url="https://external-secrets.io/latest/api/pushsecret/",
)
def no_push_secret(resource: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    if not config["allowPushSecret"]:
        yield Problem("pushes Kubernetes Secret data into the secret store.")


@resource_rule(
    "eso-chart-cluster-wide-off",
    description=(
        "The External Secrets chart installs no cluster-wide kinds (ClusterSecretStore, ClusterExternalSecret, "
        "ClusterGenerator, ClusterPushSecret) and no PushSecret, unless config allows them."
    ),
    why=(
        "Each `crds.create*` switch installs a CRD and each `process*` switch runs its controller; the chart "
        "defaults all of them to true and its templates read them with Go template truth, so only false, 0, "
        'null or an empty value turns one off (the string "false" does not). Values come from the chart\'s '
        "defaults, then `valueYamlFiles` in order, then `values`; the chart is recognised under any repository, "
        "OCI or archive name."
    ),
    level=Level.MANDATORY,
    remediation=(
        "set each `crds.create*` and `process*` value listed to false, or `allowClusterWideFeatures` after review."
    ),
    source=(
        "External Secrets chart values; External Secrets security best practices (disable unused cluster-wide kinds)"
    ),
    types=CHART_TYPES,
    target=f"{CHARTS_TARGET} of chart `external-secrets`",
    params=(bool_param("allowClusterWideFeatures", False, "Allow the chart's cluster-wide and PushSecret kinds."),),
    severity=Severity.HIGH,
    url=ESO_SECURITY,
)
def chart_cluster_wide_off(chart: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    if config["allowClusterWideFeatures"]:
        return
    yield from chart_unknown(chart)
    if chart_name(chart) != CHART:
        return
    values = layers(chart)
    switches = {".".join(path): enabled(values, path, default=True) for path in CLUSTER_WIDE_VALUES}
    unknown = [name for name, on in switches.items() if on is None]
    if unknown:
        yield cannot_check(f"values {', '.join(unknown)}")
    on = [name for name, value in switches.items() if value]
    if on:
        yield Problem(f"values leave on: {', '.join(on)} (the chart's default is true).")


@resource_rule(
    "eso-no-legacy-external-secret",
    description=(
        "No kubernetes-client.io ExternalSecret: the archived controller logs in as itself, for every namespace."
    ),
    why=(
        "The archived kubernetes-external-secrets controller reads Vault with its own token on behalf of every "
        "namespace, so `vaultRole` binds the controller, not the workload; it gets no security fixes since 2022."
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
    find_scoped,
    cluster_external_secret_scoped,
    no_push_secret,
    chart_cluster_wide_off,
    no_legacy_external_secret,
)
