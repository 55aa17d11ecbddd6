"""Rules over Kubernetes objects the stack defines: pods (wherever a pod template is), Secrets, ConfigMaps."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .core import Level, Problem, Resource, Severity, cannot_check, int_param, resource_rule, strings_param
from .credentials import argument_entries, b64decode_text, carries_credential, credential_entry
from .values import (
    UNKNOWN,
    dig,
    go_bool,
    has_unknown,
    insecure_url,
    is_set,
    is_unknown,
    items,
    mapping,
    strings,
    whole_number,
)

SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
SA_TOKEN_TYPE = "kubernetes.io/service-account-token"
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
AGENT = "vault.hashicorp.com/"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# What the API server sets on every namespace, for one nobody has created yet: a selector matching it selects
# every namespace, present and future.
FRESH_NAMESPACE = {NAMESPACE_NAME_LABEL: "a-namespace-created-tomorrow"}
# Kinds whose objects are not workloads even when they carry a `spec.template` (Helm, YAML groups, providers).
NOT_WORKLOADS = ("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize/", "pulumi:providers:")

CIS_URL = "https://www.cisecurity.org/benchmark/kubernetes"
POD_TARGET = "pod templates: Pods, workload kinds and their `*Patch` kinds, any kind with a pod `spec.template`"


# --- shared readers ------------------------------------------------------------------------------


def is_kubernetes_object(type_token: str) -> bool:
    return type_token.startswith("kubernetes:") and not type_token.startswith(NOT_WORKLOADS)


def kind_of(type_token: str) -> str:
    """The object kind of a type token, its server-side-apply ``Patch`` variant folded in."""
    kind = type_token.rsplit(":", 1)[-1]
    return kind.removesuffix("Patch") if kind.endswith("Patch") and kind != "Patch" else kind


@dataclass(frozen=True)
class Pod:
    """A pod template: its metadata and spec (``unknown`` while the template is not known yet)."""

    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]
    unknown: bool = False

    @property
    def annotations(self) -> Mapping[str, Any]:
        return mapping(self.metadata.get("annotations"))


def pod_template(resource: Resource) -> Pod | None:
    """The pod a resource runs: a Pod, a PodTemplate, a CronJob's job template, or any kind's pod ``spec.template``.

    Workload kinds, their ``*Patch`` kinds and custom kinds (an Argo Rollout, a Knative Service) keep the
    pod under ``spec.template``; a template counts as a pod when its spec lists containers.
    """
    if not is_kubernetes_object(resource.type):
        return None
    kind = kind_of(resource.type)
    if kind == "Pod":
        template: Any = {"metadata": resource.get("metadata"), "spec": resource.get("spec")}
    elif kind == "PodTemplate":
        template = resource.get("template")
    elif kind == "CronJob":
        template = resource.get("spec", "jobTemplate", "spec", "template")
    else:
        template = resource.get("spec", "template")
    if is_unknown(template):
        return Pod({}, {}, unknown=True)
    spec = mapping(template).get("spec")
    metadata = mapping(mapping(template).get("metadata"))
    if is_unknown(spec):
        return Pod(metadata, {}, unknown=True)
    if kind not in WORKLOAD_KINDS and kind != "Pod" and not any(k in mapping(spec) for k in CONTAINER_LISTS):
        return None
    return Pod(metadata, mapping(spec))


WORKLOAD_KINDS = frozenset(
    {"ReplicationController", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "PodTemplate"}
)


def pod_annotations(resource: Resource) -> Mapping[str, Any]:
    pod = pod_template(resource)
    return pod.annotations if pod is not None else {}


def containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for kind in CONTAINER_LISTS:
        for container in items(spec.get(kind)):
            if isinstance(container, Mapping):
                name = container.get("name")
                yield (name if isinstance(name, str) else "?"), container


def namespace_of(resource: Resource) -> str:
    namespace = resource.get("metadata", "namespace")
    return namespace if isinstance(namespace, str) else "default"


def object_name(resource: Resource) -> str:
    name = resource.get("metadata", "name")
    return name if isinstance(name, str) else resource.name


def selector_matches(selector: Any, labels: Mapping[str, str]) -> bool | None:
    """Kubernetes ``LabelSelector`` semantics (an empty selector matches everything); None while unknown."""
    if has_unknown(selector):
        return None
    if not isinstance(selector, Mapping):
        return False
    for label, wanted in mapping(selector.get("matchLabels")).items():
        if labels.get(label) != wanted:
            return False
    for expression in items(selector.get("matchExpressions")):
        expression = mapping(expression)
        key, operator, values = expression.get("key"), expression.get("operator"), strings(expression.get("values"))
        present = isinstance(key, str) and key in labels
        if operator == "In":
            matched = present and labels[str(key)] in values
        elif operator == "NotIn":
            matched = not present or labels[str(key)] not in values
        elif operator == "Exists":
            matched = present
        elif operator == "DoesNotExist":
            matched = not present
        else:
            return False  # the API server refuses the selector
        if not matched:
            return False
    return True


def selects_every_namespace(selector: Any) -> bool | None:
    """Whether a namespace selector selects a namespace nobody listed (one created tomorrow): every namespace."""
    return selector_matches(selector, FRESH_NAMESPACE)


# --- rules -----------------------------------------------------------------------------------------


def _pod_or_cannot(resource: Resource) -> tuple[Pod | None, list[Problem]]:
    """The pod template, and a cannot-check for each part of it a preview does not know yet."""
    pod = pod_template(resource)
    if pod is None:
        return None, []
    if pod.unknown:
        return None, [cannot_check("the pod template")]
    unknown = [f"spec.{kind}" for kind in CONTAINER_LISTS if has_unknown(pod.spec.get(kind))]
    return pod, [cannot_check(", ".join(unknown))] if unknown else []


@resource_rule(
    "k8s-secrets-as-files",
    description="Pods read secrets as files, not environment variables (no `secretKeyRef`, no `envFrom.secretRef`).",
    why=(
        "An environment variable is inherited by every child process, shown by `kubectl describe` of the pod's "
        "template, dumped in crash reports and never updated when the secret rotates; a mounted file is none of these."
    ),
    level=Level.MANDATORY,
    remediation="mount the secret as a volume (CSI, a Secret volume or the agent's /vault/secrets) and read the file.",
    source="CIS Kubernetes Benchmark 5.4.1; Checkov CKV_K8S_35",
    types=is_kubernetes_object,
    target=POD_TARGET,
    severity=Severity.HIGH,
    url=CIS_URL,
)
def secrets_as_files(workload: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    pod, problems = _pod_or_cannot(workload)
    yield from problems
    for name, container in containers(pod.spec if pod else {}):
        for env in items(container.get("env")):
            if is_set(dig(env, "valueFrom", "secretKeyRef")) and not has_unknown(env):
                yield Problem(f"container '{name}' reads a secret key into env var '{mapping(env).get('name')}'.")
        for source in items(container.get("envFrom")):
            if is_set(dig(source, "secretRef")) and not has_unknown(source):
                yield Problem(f"container '{name}' loads a Secret into its environment (envFrom.secretRef).")


@resource_rule(
    "k8s-no-automount-sa-token",
    description=(
        "Service-account tokens are not mounted into pods unless Vault login needs them (the agent injector's pods)."
    ),
    why=(
        "A mounted API token lets every process of the pod call the API server as the service account; only the "
        "agent injector's pods log in to Vault with it (annotation `agent-inject`, read with `strconv.ParseBool`)."
    ),
    level=Level.ADVISORY,
    remediation=(
        "set `automountServiceAccountToken: false` on the pod spec and ServiceAccount; pods injected with "
        "`vault.hashicorp.com/agent-inject` set it true on the pod."
    ),
    source="CIS Kubernetes Benchmark 5.1.6; Checkov CKV_K8S_38",
    types=is_kubernetes_object,
    target=f"{POD_TARGET}, `kubernetes:core/v1:ServiceAccount`",
    severity=Severity.MEDIUM,
    url=CIS_URL,
)
def no_automount(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if resource.type == SERVICE_ACCOUNT:
        value = resource.get("automountServiceAccountToken")
        if is_unknown(value):
            yield cannot_check("automountServiceAccountToken")
        elif value is not False:
            yield Problem("automountServiceAccountToken is not false.")
        return
    pod, problems = _pod_or_cannot(resource)
    yield from problems
    if pod is None or go_bool(pod.annotations.get(f"{AGENT}agent-inject")):
        return  # not a pod, or the agent logs in to Vault with the pod's token
    value = pod.spec.get("automountServiceAccountToken")
    if is_unknown(value):
        yield cannot_check("automountServiceAccountToken")
    elif value is not False:
        yield Problem("the pod spec does not set automountServiceAccountToken: false.")


CA_KEY = "ca.crt"
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----[A-Za-z0-9+/=\s]*-----END \1-----")


def certificates_only(pem: str) -> bool:
    """PEM text of one or more ``CERTIFICATE`` blocks and nothing else (no key, no other text)."""
    labels = [m.group(1) for m in _PEM_BLOCK.finditer(pem)]
    return bool(labels) and all(label == "CERTIFICATE" for label in labels) and not _PEM_BLOCK.sub("", pem).strip()


def ca_bundle_only(secret: Resource) -> bool | None:
    """Whether a Secret holds nothing but certificates under ``ca.crt`` (None: its value is not known yet).

    Such a Secret is public data in a Secret's shape: the Vault Secrets Operator's ``caCertSecretRef`` reads
    Vault's CA only from a Secret's ``ca.crt``.
    """
    entries = [(f, k, v) for f in ("data", "stringData") for k, v in mapping(secret.get(f)).items()]
    if not entries or any(key != CA_KEY for _f, key, _v in entries):
        return False
    if any(is_unknown(value) for _f, _k, value in entries):
        return None
    texts = [
        value if f == "stringData" else b64decode_text(value) for f, _k, value in entries if isinstance(value, str)
    ]
    return len(texts) == len(entries) and all(t is not None and certificates_only(t) for t in texts)


@resource_rule(
    "k8s-secret-no-literal-data",
    description="The stack declares no Kubernetes Secret with literal data: secrets come from Vault (ESO, CSI, agent).",
    why=(
        "A Secret's `data` is stored in the stack's state and in etcd, outside Vault's policies, audit and "
        "rotation. A Secret holding only PEM certificates under `ca.crt` is public data (the Vault Secrets "
        "Operator reads Vault's CA from such a Secret) and passes."
    ),
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
    if f"{namespace_of(secret)}/{object_name(secret)}" in set(strings(config["allowedLiteralSecrets"])):
        return
    ca = ca_bundle_only(secret)
    if ca is None:
        yield cannot_check(f"{CA_KEY} (a CA bundle, or a secret?)")
    if ca is not False:
        return
    fields = [f for f in ("data", "stringData") if is_set(secret.get(f))]
    if fields:
        keys = sorted({str(k) for f in fields for k in mapping(secret.get(f))})
        verb = "hold" if len(fields) > 1 else "holds"
        yield Problem(f"{' and '.join(fields)} {verb} literal values (keys: {', '.join(keys) or '?'}).")


def container_credentials(container: Mapping[str, Any]) -> list[str]:
    """Where a container carries a literal credential: an env var's value, an argument or a command."""
    found = []
    for env in items(container.get("env")):
        env = mapping(env)
        value, name = env.get("value"), env.get("name")
        where = carries_credential(str(name or ""), value) if isinstance(value, str) else None
        if where:
            found.append(f"env var '{where}'")
    for field in ("args", "command"):
        flags = sorted({name or "a value" for name, value in argument_entries(strings(container.get(field))) if
                        credential_entry(name, value)})  # fmt: skip
        found += [f"{field} ({flag})" for flag in flags]
    return found


@resource_rule(
    "k8s-no-plaintext-credentials",
    description="No ConfigMap entry, literal env var, container argument or command carries a credential.",
    why=(
        "ConfigMaps, env values and container arguments are readable by anyone who may read the object (and "
        "arguments by anyone on the node via the process list). A password has no shape, so an entry is judged "
        "by its name (`DB_PASSWORD`, `--db-pass`, `db.password` inside a properties file) and then cleared by a "
        "value that cannot be one (a boolean, a number, a duration, a path, a reference such as `$(VAR)`, a URL "
        "without a password); a value shaped like a credential (a private key, a JWT, a Vault token, a URL with "
        "a password) is one whatever its name. Names that say what they refer to (`TOKEN_HEADER`, "
        "`SECRET_BACKEND`, `*_FILE`, `*_URL`) are not credentials."
    ),
    level=Level.MANDATORY,
    remediation=(
        "move the value to Vault and deliver it as a file; keep only non-secret settings in ConfigMaps and env."
    ),
    source="CIS Kubernetes Benchmark 5.4.1; Checkov CKV_K8S_35",
    types=is_kubernetes_object,
    target=f"`kubernetes:core/v1:ConfigMap`, {POD_TARGET}",
    severity=Severity.CRITICAL,
    url=CIS_URL,
)
def no_plaintext_credentials(resource: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    if resource.type == CONFIG_MAP:
        found = sorted(
            where
            for key, value in mapping(resource.get("data")).items()
            if isinstance(value, str) and (where := carries_credential(str(key), value))
        )
        if found:
            yield Problem(f"data keys {', '.join(repr(k) for k in found)} carry credentials.")
        return
    pod, problems = _pod_or_cannot(resource)
    yield from problems
    for name, container in containers(pod.spec if pod else {}):
        places = container_credentials(container)
        if places:
            yield Problem(f"container '{name}' carries a literal credential in {', '.join(places)}.")


@resource_rule(
    "k8s-vault-agent-tls",
    description="Pods injected with the Vault Agent verify Vault's certificate.",
    why=(
        "The injector reads `vault.hashicorp.com/tls-skip-verify` with Go's `strconv.ParseBool`: `true`, `t`, `T`, "
        "`1`, `TRUE` all make the agent accept any certificate, and an `http://` `vault.hashicorp.com/service` "
        "sends the pod's token and its secrets in clear text."
    ),
    level=Level.MANDATORY,
    remediation=(
        "remove `vault.hashicorp.com/tls-skip-verify` and give the agent Vault's CA (`vault.hashicorp.com/ca-cert`)."
    ),
    source="Vault Agent injector annotations (`tls-skip-verify`)",
    types=is_kubernetes_object,
    target=POD_TARGET,
    severity=Severity.CRITICAL,
    url="https://developer.hashicorp.com/vault/docs/platform/k8s/injector/annotations",
)
def vault_agent_tls(workload: Resource, _config: Mapping[str, Any]) -> Iterator[Problem]:
    pod = pod_template(workload)
    if pod is None:
        return
    annotations = pod.annotations
    skip, service = annotations.get(f"{AGENT}tls-skip-verify"), annotations.get(f"{AGENT}service")
    if pod.unknown or is_unknown(skip) or is_unknown(service):
        yield cannot_check("the pod's annotations")
    if go_bool(skip):
        yield Problem("vault.hashicorp.com/tls-skip-verify is true.")
    if isinstance(service, str) and insecure_url(service):
        yield Problem(
            "vault.hashicorp.com/service is a plain-text address.", fix="point the agent at Vault's https:// address."
        )


def projected_tokens(spec: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """``(volume name, expirationSeconds)`` of every projected service-account token of a pod spec."""
    volumes = spec.get("volumes")
    if is_unknown(volumes):
        yield "?", UNKNOWN
    for volume in items(volumes):
        volume = mapping(volume) if not is_unknown(volume) else {"projected": UNKNOWN}
        name = volume.get("name") if isinstance(volume.get("name"), str) else "?"
        sources = dig(volume, "projected", "sources")
        if is_unknown(sources):
            yield str(name), UNKNOWN
        for source in items(sources):
            token = UNKNOWN if is_unknown(source) else mapping(source).get("serviceAccountToken")
            if is_unknown(token) or isinstance(token, Mapping):
                yield str(name), UNKNOWN if is_unknown(token) else mapping(token).get("expirationSeconds")


@resource_rule(
    "k8s-projected-token-expiry",
    description="Projected service-account tokens expire within `maxTokenExpirationSeconds` (Kubernetes' default 1h).",
    why=(
        "A projected token is valid until `expirationSeconds` (default 3600) after the kubelet mints it: a "
        "leaked token with a day's or a year's expiry logs in to Vault (or the API server) for that long, while "
        "the kubelet refreshes a short-lived one for the pod before it expires."
    ),
    level=Level.MANDATORY,
    remediation="leave `expirationSeconds` unset (1h) or set it at or below the cap; the kubelet refreshes the token.",
    source="Kubernetes projected volumes (`serviceAccountToken.expirationSeconds`, default 3600)",
    types=is_kubernetes_object,
    target=POD_TARGET,
    params=(int_param("maxTokenExpirationSeconds", 3600, "The longest expirationSeconds allowed.", minimum=600),),
    severity=Severity.MEDIUM,
    url="https://kubernetes.io/docs/concepts/storage/projected-volumes/#serviceaccounttoken",
)
def projected_token_expiry(workload: Resource, config: Mapping[str, Any]) -> Iterator[Problem]:
    pod, problems = _pod_or_cannot(workload)
    yield from problems
    cap = int(config["maxTokenExpirationSeconds"])
    for volume, seconds in projected_tokens(pod.spec if pod else {}):
        if is_unknown(seconds):
            yield cannot_check(f"volume '{volume}' expirationSeconds")
        elif (expiry := whole_number(seconds)) is not None and expiry > cap:
            yield Problem(f"volume '{volume}' mints a token valid for {expiry}s, above the cap of {cap}s.")


RULES = (
    secrets_as_files,
    no_automount,
    secret_no_literal_data,
    no_plaintext_credentials,
    vault_agent_tls,
    projected_token_expiry,
)
