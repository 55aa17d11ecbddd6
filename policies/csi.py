"""Rules over the Secrets Store CSI driver: SecretProviderClasses (Vault provider parameters) and the driver's chart."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from .charts import CHART_TYPES, CHARTS_TARGET, chart_name, chart_unknown, enabled, layers, setting
from .core import Level, Problem, Resource, Severity, bool_param, cannot_check, crd_types, int_param, resource_rule
from .values import go_bool, has_unknown, helm_truthy, is_set, is_unknown, items, load_yaml, mapping, whole_number
from .vault import audience_problems, url_problems

SECRET_PROVIDER_CLASSES = crd_types("secrets-store.csi.x-k8s.io", "SecretProviderClass", versions=("v1", "v1alpha1"))
DRIVER_CHART = "secrets-store-csi-driver"
VAULT_PROVIDER = "vault"
# Keys of the provider's `objects` entries that name a file in the pod's mount.
FILE_NAME_KEYS = ("objectName", "fileName", "objectAlias")
_DRIVE = re.compile(r"^[A-Za-z]:")
# The driver chart's defaults (values.yaml), checked against the reference by a test.
DRIVER_DEFAULTS: Mapping[str, Any] = {"enableSecretRotation": False, "syncSecret.enabled": False, "logVerbosity": 0}

CHART_TARGET = f"{CHARTS_TARGET} of chart `{DRIVER_CHART}`"
VAULT_CSI = "https://developer.hashicorp.com/vault/docs/platform/k8s/csi/configurations"


def parameters(spc: Resource) -> Any:
    """``spec.parameters`` (``UNKNOWN`` while unknown)."""
    params = spc.get("spec", "parameters")
    return params if is_unknown(params) else mapping(params)


def vault_class(spc: Resource) -> bool | None:
    """Whether the class uses the Vault provider; None while ``spec.provider`` is unknown."""
    provider = spc.get("spec", "provider")
    return None if is_unknown(provider) else provider == VAULT_PROVIDER


def vault_parameter_problems(spc: Resource, check: Any) -> Iterator[Problem]:
    """``check(parameters)`` for a Vault class; its findings become cannot-checks while the provider is unknown.

    A class whose provider is not known yet is judged as if it were Vault's: only what would be a
    violation needs the provider to be known.
    """
    is_vault = vault_class(spc)
    if is_vault is False:
        return
    params = parameters(spc)
    if is_unknown(params):
        yield cannot_check("spec.parameters")
        return
    for problem in check(params):
        yield problem if is_vault or problem.unknown else cannot_check(f"spec.provider (if vault: {problem.what})")


def unsafe_file_name(name: Any) -> bool:
    """An absolute path or one that climbs out of the mount (a ``..`` segment), as CVE-2020-8567 exploited."""
    if not isinstance(name, str):
        return False
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return True
    return ".." in re.split(r"[/\\]", name)


def driver_chart(resource: Resource) -> bool:
    return chart_name(resource) == DRIVER_CHART


def _tls_problems(params: Mapping[str, Any]) -> Iterator[Problem]:
    skip = params.get("vaultSkipTLSVerify")
    if is_unknown(skip):
        yield cannot_check("parameters.vaultSkipTLSVerify")
    elif go_bool(skip):
        yield Problem("parameters.vaultSkipTLSVerify is true.")
    yield from url_problems("parameters.vaultAddress", params.get("vaultAddress"))


@resource_rule(
    "csi-no-skip-tls-verify",
    description="The Vault CSI provider verifies Vault's certificate (`vaultSkipTLSVerify` false, https address).",
    why=(
        "The provider parses `vaultSkipTLSVerify` with Go's `strconv.ParseBool`, so `true`, `t`, `T`, `1` and "
        "`TRUE` all turn verification off, and then sends each pod's service-account token to whoever answers "
        "`vaultAddress`; an http address does the same in clear text."
    ),
    level=Level.MANDATORY,
    remediation='remove `vaultSkipTLSVerify` (or set "false"), use an https:// `vaultAddress` and `vaultCACertPath`.',
    source="Vault CSI provider configuration (`vaultSkipTLSVerify`)",
    types=SECRET_PROVIDER_CLASSES,
    severity=Severity.CRITICAL,
    url=VAULT_CSI,
)
def no_skip_tls_verify(spc: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    yield from vault_parameter_problems(spc, _tls_problems)


@resource_rule(
    "csi-audience-set",
    description="The Vault CSI provider requests a token for Vault's audience (`audience`), not the API server's.",
    why=(
        "Without `audience` the provider logs in with a token for the API server's default audience, which "
        "every pod's default token carries; an audience equal to the API server's is the same."
    ),
    level=Level.MANDATORY,
    remediation="set `parameters.audience` to the audience the Vault role binds (the stack's `cluster.audience`).",
    source="Vault CSI provider configuration (`audience`); Vault kubernetes auth (`audience`)",
    types=SECRET_PROVIDER_CLASSES,
    severity=Severity.HIGH,
    url=VAULT_CSI,
)
def audience_set(spc: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    yield from vault_parameter_problems(spc, lambda p: audience_problems("parameters.audience", p.get("audience")))


def _objects(raw: str) -> tuple[list[Any], bool]:
    """The provider's ``objects`` entries, and whether the text parsed."""
    try:
        objects = load_yaml(raw)
    except (yaml.YAMLError, ValueError, RecursionError):
        return [], False
    if isinstance(objects, Mapping) and "array" in objects:  # the Azure provider's `array: [ |yaml ]` form
        parsed = []
        for entry in items(objects["array"]):
            try:
                parsed.append(load_yaml(entry) if isinstance(entry, str) else entry)
            except (yaml.YAMLError, ValueError, RecursionError):
                return [], False
        return parsed, True
    return items(objects), True


@resource_rule(
    "csi-object-paths-safe",
    description=(
        "SecretProviderClass file names stay inside the mount: no `..` segment, no absolute path (CVE-2020-8567)."
    ),
    why=(
        "The driver writes each object to `<mount>/<objectName>`: a `..` segment or an absolute name wrote "
        "outside the volume on the node (CVE-2020-8567), and synced Secret objects name files the same way."
    ),
    level=Level.MANDATORY,
    remediation="name each object with a plain relative file name (e.g. `api-key`).",
    source="CVE-2020-8567 (Secrets Store CSI driver path traversal)",
    types=SECRET_PROVIDER_CLASSES,
    severity=Severity.CRITICAL,
    url="https://nvd.nist.gov/vuln/detail/CVE-2020-8567",
)
def object_paths_safe(spc: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    params = parameters(spc)
    raw = params if is_unknown(params) else params.get("objects")
    if is_unknown(raw):
        yield cannot_check("parameters.objects")
    elif isinstance(raw, str):
        objects, parsed = _objects(raw)
        if not parsed:
            yield Problem("parameters.objects is not YAML.")
        for i, entry in enumerate(objects):
            for key in FILE_NAME_KEYS:
                if unsafe_file_name(mapping(entry).get(key)):
                    yield Problem(f"parameters.objects[{i}].{key} leaves the mount.")
    synced = spc.get("spec", "secretObjects")
    if has_unknown(synced):
        yield cannot_check("spec.secretObjects")
    for i, secret in enumerate(items(synced)):
        for j, data in enumerate(items(mapping(secret).get("data"))):
            if unsafe_file_name(mapping(data).get("objectName")):
                yield Problem(f"spec.secretObjects[{i}].data[{j}].objectName leaves the mount.")


@resource_rule(
    "csi-sync-secret-allowed",
    description=(
        "Mounted secrets are not copied into Kubernetes Secrets (`secretObjects`, chart `syncSecret`) unless allowed."
    ),
    why=(
        "`secretObjects` copies the mounted values into a Kubernetes Secret, stored in etcd and readable by anyone "
        "who may read Secrets in the namespace; the chart's `syncSecret.enabled` (Go template truth) gives the "
        "driver the RBAC to write them."
    ),
    level=Level.MANDATORY,
    remediation=(
        "read the mounted file; set `allowSyncSecret` only for consumers that need a Secret (e.g. an ingress TLS)."
    ),
    source="Secrets Store CSI driver docs (Sync as Kubernetes Secret: the copy lives in etcd)",
    types=SECRET_PROVIDER_CLASSES + CHART_TYPES,
    target=f"SecretProviderClass, {CHART_TARGET}",
    params=(bool_param("allowSyncSecret", False, "Allow syncing mounted secrets into Kubernetes Secrets."),),
    severity=Severity.HIGH,
    url="https://secrets-store-csi-driver.sigs.k8s.io/topics/sync-as-kubernetes-secret.html",
)
def sync_secret_allowed(resource: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    if config["allowSyncSecret"]:
        return
    if resource.type in SECRET_PROVIDER_CLASSES:
        synced = resource.get("spec", "secretObjects")
        if is_unknown(synced):
            yield cannot_check("spec.secretObjects")
        elif is_set(synced):
            yield Problem("spec.secretObjects syncs the mount into a Kubernetes Secret.")
        return
    yield from chart_unknown(resource)
    if driver_chart(resource):
        on = enabled(layers(resource), ("syncSecret", "enabled"), DRIVER_DEFAULTS["syncSecret.enabled"])
        if on is None:
            yield cannot_check("values.syncSecret.enabled")
        elif on:
            yield Problem("values.syncSecret.enabled grants the driver the RBAC to write Secrets.")


@resource_rule(
    "csi-rotation-enabled",
    description="The CSI driver re-reads mounted secrets (`enableSecretRotation`), so a rotated secret reaches pods.",
    why="Without rotation the driver writes a secret once, at mount time: a rotated or revoked value stays in pods.",
    level=Level.ADVISORY,
    remediation="set `enableSecretRotation: true` and a `rotationPollInterval` (the stack's default is 2m).",
    source="Secrets Store CSI driver docs (Secret Auto Rotation; chart default false)",
    types=CHART_TYPES,
    target=CHART_TARGET,
    severity=Severity.MEDIUM,
    url="https://secrets-store-csi-driver.sigs.k8s.io/topics/secret-auto-rotation.html",
)
def rotation_enabled(chart: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    yield from chart_unknown(chart)
    if driver_chart(chart):
        on = enabled(layers(chart), ("enableSecretRotation",), DRIVER_DEFAULTS["enableSecretRotation"], helm_truthy)
        if on is None:
            yield cannot_check("values.enableSecretRotation")
        elif not on:
            yield Problem("values.enableSecretRotation is not true.")


@resource_rule(
    "csi-driver-log-verbosity",
    description="The CSI driver logs below verbosity 2, where it writes service-account tokens (CVE-2023-2878).",
    why="At `-v=2` and above the driver logged the service-account tokens it passed to providers (CVE-2023-2878).",
    level=Level.MANDATORY,
    remediation="set the chart's `logVerbosity` to at most `maxLogVerbosity` (0 by default).",
    source="CVE-2023-2878 (Secrets Store CSI driver logs service-account tokens)",
    types=CHART_TYPES,
    target=CHART_TARGET,
    params=(int_param("maxLogVerbosity", 1, "The highest driver log verbosity (`-v`) allowed."),),
    severity=Severity.HIGH,
    url="https://nvd.nist.gov/vuln/detail/CVE-2023-2878",
)
def driver_log_verbosity(chart: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    yield from chart_unknown(chart)
    if not driver_chart(chart):
        return
    found = setting(layers(chart), "logVerbosity")
    if found.state == "unknown":
        yield cannot_check(found.where)
        return
    level = DRIVER_DEFAULTS["logVerbosity"] if found.state == "default" or found.value is None else found.value
    verbosity = whole_number(level)
    if verbosity is None:
        yield Problem("values.logVerbosity is not a number.")
    elif verbosity > int(config["maxLogVerbosity"]):
        yield Problem(f"values.logVerbosity is {verbosity}, above {int(config['maxLogVerbosity'])}.")


RULES = (
    no_skip_tls_verify,
    audience_set,
    object_paths_safe,
    sync_secret_allowed,
    rotation_enabled,
    driver_log_verbosity,
)
