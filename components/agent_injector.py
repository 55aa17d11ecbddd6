"""Vault Agent injector: its install (the vault chart, injector only) and the pod annotations of each workload."""

import re
from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi

from . import validation as v
from .charts import VAULT, InstallMethod, ensure_namespace, install_chart, namespace_output, parse_install_method
from .spec import SecretRef, Workload

ANNOTATION_PREFIX = "vault.hashicorp.com/"
INJECTOR_RELEASE = "vault-injector"
# A Go template field name; any other key is read with `index`.
_GO_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The name part of a Kubernetes qualified name (annotation key after the prefix).
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

# --- pure builders -------------------------------------------------------------


def injector_values(vault_address: str, auth_path: str) -> dict[str, Any]:
    """vault chart values: only the injector webhook, pointed at an external Vault and its auth mount."""
    return {
        "global": {"externalVaultAddr": v.url("vaultAddress", vault_address)},
        "server": {"enabled": False},
        "csi": {"enabled": False},
        "injector": {"enabled": True, "authPath": f"auth/{v.mount_path('authPath', auth_path)}"},
    }


def secret_template(secret: SecretRef) -> str:
    """A Consul template rendering exactly one key of a KV v2 secret, nothing around it."""
    field = f".Data.data.{secret.key}" if _GO_IDENTIFIER.match(secret.key) else f'index .Data.data "{secret.key}"'
    return f'{{{{- with secret "{secret.api_path}" -}}}}{{{{ {field} }}}}{{{{- end -}}}}'


def pod_annotations(
    workload: Workload, secrets: Sequence[SecretRef], pre_populate_only: bool = False
) -> dict[str, str]:
    """Pod annotations that make the injector write each secret's key to ``/vault/secrets/<name>``.

    ``pre_populate_only`` runs the agent as an init container only (no sidecar, so no renewal).
    """
    if not secrets:
        raise v.SpecError("secrets", [], "at least one secret")
    annotations = {f"{ANNOTATION_PREFIX}agent-inject": "true", f"{ANNOTATION_PREFIX}role": workload.role}
    for i, secret in enumerate(secrets):
        if secret not in workload.secrets:
            raise v.SpecError(
                f"secrets[{i}]", secret.api_path, f"a secret of workload {workload.name!r} (its policy grants no other)"
            )
        template_key = f"agent-inject-template-{secret.name}"
        if len(template_key) > 63 or not _QUALIFIED_NAME.match(template_key):
            raise v.SpecError(
                f"secrets[{i}].name",
                secret.name,
                "at most 41 characters, ending alphanumeric (it names the annotation agent-inject-template-<name>)",
            )
        annotations[f"{ANNOTATION_PREFIX}agent-inject-secret-{secret.name}"] = secret.api_path
        annotations[f"{ANNOTATION_PREFIX}{template_key}"] = secret_template(secret)
    if v.boolean("prePopulateOnly", pre_populate_only):
        annotations[f"{ANNOTATION_PREFIX}agent-pre-populate-only"] = "true"
    return annotations


# --- component -----------------------------------------------------------------


class VaultAgentInjectorArgs(TypedDict):
    """The Vault Agent injector webhook for an external Vault."""

    vault_address: str
    """The Vault address agents use."""
    auth_path: str
    """The Vault auth mount agents log in on, without `auth/` (e.g. `kubernetes`)."""
    namespace: NotRequired[str]
    """The namespace the injector runs in (default `vault`)."""
    install_method: NotRequired[InstallMethod]
    """`helm-chart` (default) or `helm-release`."""


class VaultAgentInjector(pulumi.ComponentResource):
    """The pinned vault chart with only its injector enabled.

    ``install`` is the chart resource: workloads annotated for injection should ``depends_on`` it.
    """

    namespace: pulumi.Output[str]
    """The namespace the injector runs in."""

    def __init__(self, name: str, args: VaultAgentInjectorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        namespace = v.dns_label("namespace", args.get("namespace", "vault"))
        values = injector_values(args.get("vault_address"), args.get("auth_path"))  # type: ignore[arg-type]
        method = parse_install_method("installMethod", args.get("install_method", InstallMethod.HELM_CHART))
        super().__init__("vaultk8s:index:VaultAgentInjector", name, {}, opts)

        created = ensure_namespace(f"{name}-namespace", namespace, self)
        self.install = install_chart(
            f"{name}-chart",
            VAULT,
            namespace,
            values,
            method,
            self,
            release_name=INJECTOR_RELEASE,
            depends_on=[created] if created else None,
        )
        self.namespace = namespace_output(created, namespace)
        self.register_outputs({"namespace": self.namespace})
