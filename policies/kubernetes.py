"""Rules over Kubernetes objects the stack defines: pods (wherever a pod template is), Secrets, ConfigMaps, charts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .core import (
    Level,
    Problem,
    Resource,
    Severity,
    credential_entry,
    dig,
    falsy,
    is_set,
    is_unknown,
    items,
    mapping,
    resource_rule,
    strings_param,
    truthy,
)

SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
HELM_CHART = "kubernetes:helm.sh/v4:Chart"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
CHART_TYPES = (HELM_CHART, HELM_RELEASE)
SA_TOKEN_TYPE = "kubernetes.io/service-account-token"

# Where each workload kind keeps its pod template (path to the pod's metadata and spec).
POD_TEMPLATES: Mapping[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": (),
    "kubernetes:core/v1:ReplicationController": ("spec", "template"),
    "kubernetes:apps/v1:Deployment": ("spec", "template"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template"),
    "kubernetes:batch/v1:Job": ("spec", "template"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
    "kubernetes:core/v1:PodTemplate": ("template",),
}
WORKLOAD_TYPES = tuple(POD_TEMPLATES)
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
AGENT = "vault.hashicorp.com/"

CIS_URL = "https://www.cisecurity.org/benchmark/kubernetes"


# --- shared readers ------------------------------------------------------------------------------


def pod_template(resource: Resource) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(pod metadata, pod spec) of a workload resource; empty mappings for other kinds."""
    path = POD_TEMPLATES.get(resource.type)
    if path is None:
        return {}, {}
    template = mapping(dig(resource.props, *path)) if path else resource.props
    return mapping(template.get("metadata")), mapping(template.get("spec"))


def pod_annotations(resource: Resource) -> Mapping[str, Any]:
    return mapping(pod_template(resource)[0].get("annotations"))


def containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for kind in CONTAINER_LISTS:
        for container in items(spec.get(kind)):
            if isinstance(container, Mapping):
                yield str(container.get("name", "?")), container


def namespace_of(resource: Resource) -> str:
    namespace = resource.get("metadata", "namespace")
    return namespace if isinstance(namespace, str) and not is_unknown(namespace) else "default"


def object_name(resource: Resource) -> str:
    name = resource.get("metadata", "name")
    return name if isinstance(name, str) and not is_unknown(name) else resource.name


def chart_name(resource: Resource) -> str:
    """The chart a Chart/Release installs, without repository or OCI prefix (``repo/name`` -> ``name``)."""
    chart = resource.get("chart")
    if not isinstance(chart, str) or is_unknown(chart):
        return ""
    return chart.rstrip("/").rsplit("/", 1)[-1].split(":", 1)[0]


def chart_values(resource: Resource) -> Mapping[str, Any]:
    return mapping(resource.get("values"))


# --- rules -----------------------------------------------------------------------------------------


@resource_rule(
    "k8s-secrets-as-files",
    description="Pods read secrets as files, not environment variables (no `secretKeyRef`, no `envFrom.secretRef`).",
    level=Level.MANDATORY,
    remediation="mount the secret as a volume (CSI, a Secret volume or the agent's /vault/secrets) and read the file.",
    source="CIS Kubernetes Benchmark 5.4.1; Checkov CKV_K8S_35",
    types=WORKLOAD_TYPES,
    target="pod templates (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, ...)",
    severity=Severity.HIGH,
    url=CIS_URL,
)
def secrets_as_files(workload: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    _meta, spec = pod_template(workload)
    for name, container in containers(spec):
        for env in items(container.get("env")):
            ref = dig(env, "valueFrom", "secretKeyRef")
            if ref:
                yield Problem(f"container '{name}' reads secret key into env var '{mapping(env).get('name')}'.")
        for source in items(container.get("envFrom")):
            if dig(source, "secretRef"):
                yield Problem(f"container '{name}' loads a Secret into its environment (envFrom.secretRef).")


@resource_rule(
    "k8s-no-automount-sa-token",
    description=(
        "Service-account tokens are not mounted into pods unless Vault login needs them (the agent injector's pods)."
    ),
    level=Level.ADVISORY,
    remediation=(
        "set `automountServiceAccountToken: false` on the pod spec and ServiceAccount; pods injected with "
        "`vault.hashicorp.com/agent-inject` set it true on the pod."
    ),
    source="CIS Kubernetes Benchmark 5.1.6; Checkov CKV_K8S_38",
    types=(*WORKLOAD_TYPES, SERVICE_ACCOUNT),
    target="pod templates, `kubernetes:core/v1:ServiceAccount`",
    severity=Severity.MEDIUM,
    url=CIS_URL,
)
def no_automount(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if resource.type == SERVICE_ACCOUNT:
        if not falsy(resource.get("automountServiceAccountToken")):
            yield Problem("automountServiceAccountToken is not false.")
        return
    _meta, spec = pod_template(resource)
    if truthy(pod_annotations(resource).get(f"{AGENT}agent-inject")):
        return  # the agent logs in to Vault with the pod's token
    if not falsy(spec.get("automountServiceAccountToken")):
        yield Problem("the pod spec does not set automountServiceAccountToken: false.")


@resource_rule(
    "k8s-secret-no-literal-data",
    description="The stack declares no Kubernetes Secret with literal data: secrets come from Vault (ESO, CSI, agent).",
    level=Level.MANDATORY,
    remediation=(
        "keep the value in Vault and deliver it with an ExternalSecret or a SecretProviderClass; "
        "list a reviewed exception as `namespace/name` in `allowedLiteralSecrets`."
    ),
    source="CIS Kubernetes Benchmark 5.4.2 (external secret storage); Vault Kubernetes integration guide",
    types=(SECRET,),
    params=(strings_param("allowedLiteralSecrets", [], "Secrets (`namespace/name`) allowed to carry literal data."),),
    severity=Severity.HIGH,
    url=CIS_URL,
)
def secret_no_literal_data(secret: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    if f"{namespace_of(secret)}/{object_name(secret)}" in set(config["allowedLiteralSecrets"] or []):
        return
    fields = [f for f in ("data", "stringData") if is_set(secret.get(f))]
    if fields:
        keys = sorted({str(k) for f in fields for k in mapping(secret.get(f))})
        verb = "hold" if len(fields) > 1 else "holds"
        yield Problem(f"{' and '.join(fields)} {verb} literal values (keys: {', '.join(keys) or '?'}).")


@resource_rule(
    "k8s-no-plaintext-credentials",
    description="No ConfigMap entry or literal container env var carries a credential.",
    level=Level.MANDATORY,
    remediation=(
        "move the value to Vault and deliver it as a file; keep only non-secret settings in ConfigMaps and env."
    ),
    source="CIS Kubernetes Benchmark 5.4.1; Checkov CKV_K8S_35",
    types=(CONFIG_MAP, *WORKLOAD_TYPES),
    target="`kubernetes:core/v1:ConfigMap`, pod templates",
    severity=Severity.CRITICAL,
    url=CIS_URL,
)
def no_plaintext_credentials(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if resource.type == CONFIG_MAP:
        keys = [k for k, v in mapping(resource.get("data")).items() if isinstance(v, str) and credential_entry(k, v)]
        if keys:
            yield Problem(f"data keys {', '.join(repr(k) for k in sorted(keys))} carry credentials.")
        return
    _meta, spec = pod_template(resource)
    for name, container in containers(spec):
        for env in items(container.get("env")):
            env = mapping(env)
            value = env.get("value")
            if isinstance(value, str) and credential_entry(str(env.get("name", "")), value):
                yield Problem(f"container '{name}' sets env var '{env.get('name')}' to a literal credential.")


@resource_rule(
    "k8s-vault-agent-tls",
    description="Pods injected with the Vault Agent verify Vault's certificate.",
    level=Level.MANDATORY,
    remediation=(
        "remove `vault.hashicorp.com/tls-skip-verify` and give the agent Vault's CA (`vault.hashicorp.com/ca-cert`)."
    ),
    source="Vault Agent injector annotations (`tls-skip-verify`)",
    types=WORKLOAD_TYPES,
    target="pod templates",
    severity=Severity.CRITICAL,
    url="https://developer.hashicorp.com/vault/docs/platform/k8s/injector/annotations",
)
def vault_agent_tls(workload: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    annotations = pod_annotations(workload)
    if truthy(annotations.get(f"{AGENT}tls-skip-verify")):
        yield Problem("vault.hashicorp.com/tls-skip-verify is true.")
    service = annotations.get(f"{AGENT}service")
    if isinstance(service, str) and service.startswith("http://"):
        yield Problem(
            "vault.hashicorp.com/service is an http:// address.", fix="point the agent at Vault's https:// address."
        )


@resource_rule(
    "k8s-chart-version-pinned",
    description="Helm charts are installed at an exact version.",
    level=Level.ADVISORY,
    remediation="set `version` to an exact chart version (pinned in components/charts.py).",
    source="Pulumi Kubernetes Helm docs (`version`; unpinned charts change under a stack)",
    types=CHART_TYPES,
    severity=Severity.LOW,
)
def chart_version_pinned(chart: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    version = chart.get("version")
    if is_unknown(version):
        return
    if not isinstance(version, str) or not version or any(c in version for c in "^~*<>=x| "):
        yield Problem("version is not an exact chart version.")


RULES = (
    secrets_as_files,
    no_automount,
    secret_no_literal_data,
    no_plaintext_credentials,
    vault_agent_tls,
    chart_version_pinned,
)
