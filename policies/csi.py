"""Rules over the Secrets Store CSI driver: SecretProviderClasses (Vault provider parameters) and the driver's chart."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from .core import (
    Level,
    Problem,
    Resource,
    Severity,
    bool_param,
    crd_types,
    dig,
    int_param,
    is_set,
    is_unknown,
    items,
    mapping,
    resource_rule,
    truthy,
)
from .kubernetes import CHART_TYPES, chart_name, chart_values
from .vault import insecure_url

SECRET_PROVIDER_CLASSES = crd_types("secrets-store.csi.x-k8s.io", "SecretProviderClass", versions=("v1", "v1alpha1"))
DRIVER_CHART = "secrets-store-csi-driver"
VAULT_PROVIDER = "vault"
# Keys of the provider's `objects` entries that name a file in the pod's mount.
FILE_NAME_KEYS = ("objectName", "fileName", "objectAlias")
_DRIVE = re.compile(r"^[A-Za-z]:")

CHART_TARGET = "`kubernetes:helm.sh/v4:Chart`, `kubernetes:helm.sh/v3:Release` of chart `secrets-store-csi-driver`"
VAULT_CSI = "https://developer.hashicorp.com/vault/docs/platform/k8s/csi/configurations"
CSI_DOCS = "https://secrets-store-csi-driver.sigs.k8s.io/"


def parameters(spc: Resource) -> Mapping[str, Any]:
    return mapping(spc.get("spec", "parameters"))


def is_vault(spc: Resource) -> bool:
    return spc.get("spec", "provider") == VAULT_PROVIDER


def unsafe_file_name(name: Any) -> bool:
    """An absolute path or one that climbs out of the mount (a ``..`` segment), as CVE-2020-8567 exploited."""
    if not isinstance(name, str) or is_unknown(name):
        return False
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return True
    return ".." in re.split(r"[/\\]", name)


def driver_chart(resource: Resource) -> bool:
    return chart_name(resource) == DRIVER_CHART


@resource_rule(
    "csi-no-skip-tls-verify",
    description="The Vault CSI provider verifies Vault's certificate (`vaultSkipTLSVerify` false, https address).",
    level=Level.MANDATORY,
    remediation='remove `vaultSkipTLSVerify` (or set "false"), use an https:// `vaultAddress` and `vaultCACertPath`.',
    source="Vault CSI provider configuration (`vaultSkipTLSVerify`)",
    types=SECRET_PROVIDER_CLASSES,
    severity=Severity.CRITICAL,
    url=VAULT_CSI,
)
def no_skip_tls_verify(spc: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if not is_vault(spc):
        return
    params = parameters(spc)
    if truthy(params.get("vaultSkipTLSVerify")):
        yield Problem("parameters.vaultSkipTLSVerify is true.")
    if insecure_url(params.get("vaultAddress")):
        yield Problem("parameters.vaultAddress is not https.")


@resource_rule(
    "csi-audience-set",
    description="The Vault CSI provider requests a token for Vault's audience (`audience`), not the API server's.",
    level=Level.MANDATORY,
    remediation="set `parameters.audience` to the audience the Vault role binds (the stack's `cluster.audience`).",
    source="Vault CSI provider configuration (`audience`); Vault kubernetes auth (`audience`)",
    types=SECRET_PROVIDER_CLASSES,
    severity=Severity.HIGH,
    url=VAULT_CSI,
)
def audience_set(spc: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if is_vault(spc) and not is_set(parameters(spc).get("audience")):
        yield Problem("parameters.audience is not set.")


@resource_rule(
    "csi-object-paths-safe",
    description=(
        "SecretProviderClass file names stay inside the mount: no `..` segment, no absolute path (CVE-2020-8567)."
    ),
    level=Level.MANDATORY,
    remediation="name each object with a plain relative file name (e.g. `api-key`).",
    source="CVE-2020-8567 (Secrets Store CSI driver path traversal)",
    types=SECRET_PROVIDER_CLASSES,
    severity=Severity.CRITICAL,
    url="https://nvd.nist.gov/vuln/detail/CVE-2020-8567",
)
def object_paths_safe(spc: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    raw = parameters(spc).get("objects")
    if isinstance(raw, str) and not is_unknown(raw):
        try:
            objects = yaml.safe_load(raw)
        except yaml.YAMLError:
            yield Problem("parameters.objects is not YAML.")
            return
        if isinstance(objects, Mapping) and "array" in objects:  # the Azure provider's `array: [ |yaml ]` form
            objects = [yaml.safe_load(o) if isinstance(o, str) else o for o in items(objects["array"])]
        for i, entry in enumerate(items(objects)):
            for key in FILE_NAME_KEYS:
                if unsafe_file_name(mapping(entry).get(key)):
                    yield Problem(f"parameters.objects[{i}].{key} leaves the mount.")
    for i, synced in enumerate(items(spc.get("spec", "secretObjects"))):
        for j, data in enumerate(items(mapping(synced).get("data"))):
            if unsafe_file_name(mapping(data).get("objectName")):
                yield Problem(f"spec.secretObjects[{i}].data[{j}].objectName leaves the mount.")


@resource_rule(
    "csi-sync-secret-allowed",
    description=(
        "Mounted secrets are not copied into Kubernetes Secrets (`secretObjects`, chart `syncSecret`) unless allowed."
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
        if is_set(resource.get("spec", "secretObjects")):
            yield Problem("spec.secretObjects syncs the mount into a Kubernetes Secret.")
    elif driver_chart(resource) and truthy(dig(chart_values(resource), "syncSecret", "enabled")):
        yield Problem("values.syncSecret.enabled grants the driver the RBAC to write Secrets.")


@resource_rule(
    "csi-rotation-enabled",
    description="The CSI driver re-reads mounted secrets (`enableSecretRotation`), so a rotated secret reaches pods.",
    level=Level.ADVISORY,
    remediation="set `enableSecretRotation: true` and a `rotationPollInterval` (the stack's default is 2m).",
    source="Secrets Store CSI driver docs (Secret Auto Rotation; chart default false)",
    types=CHART_TYPES,
    target=CHART_TARGET,
    severity=Severity.MEDIUM,
    url="https://secrets-store-csi-driver.sigs.k8s.io/topics/secret-auto-rotation.html",
)
def rotation_enabled(chart: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if driver_chart(chart) and not truthy(chart_values(chart).get("enableSecretRotation")):
        yield Problem("values.enableSecretRotation is not true.")


@resource_rule(
    "csi-driver-log-verbosity",
    description="The CSI driver logs below verbosity 2, where it writes service-account tokens (CVE-2023-2878).",
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
    if not driver_chart(chart):
        return
    level = chart_values(chart).get("logVerbosity", 0)
    if is_unknown(level):
        return
    try:
        verbosity = int(level)
    except (TypeError, ValueError):
        yield Problem("values.logVerbosity is not a number.")
        return
    if verbosity > int(config["maxLogVerbosity"]):
        yield Problem(f"values.logVerbosity is {verbosity}, above {int(config['maxLogVerbosity'])}.")


RULES = (
    no_skip_tls_verify,
    audience_set,
    object_paths_safe,
    sync_secret_allowed,
    rotation_enabled,
    driver_log_verbosity,
)
