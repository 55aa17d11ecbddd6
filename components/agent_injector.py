"""Vault Agent injector: its install (the vault chart, injector only) and the pod annotations of each workload.

Login token. The Vault roles this stack creates bind an audience (``cluster.audience``), and the
pod's default service-account token carries the API server's audience, so an agent logging in
with it is refused. ``pod_annotations`` therefore points the agent at a projected token volume,
``vault-token`` (``vault_token_volume``), which the team's pod spec must declare in ``volumes``
and should NOT mount into the application's containers: the injector then mounts it into the agent
containers only, at ``/var/run/secrets/vault.hashicorp.com/serviceaccount`` (vault-k8s'
``DefaultServiceAccountMount``), and the application cannot log in to Vault itself. A pod naming a
volume it does not have is refused by the injector ("failed to find service account volume").

Annotation names. ../shared/reference has no file for them; they were read from vault-k8s' source
(``agent-inject/agent/annotations.go`` and ``agent.go``), not from a pinned release:
``agent-service-account-token-volume-name``, ``auth-type``, ``auth-path`` and the ``auth-config-<key>``
prefix (``-`` in the key becomes ``_``; ``role`` is always overwritten by ``vault.hashicorp.com/role``).
With the volume named, the injector itself sets the kubernetes method's ``token_path`` to
``<mount>/<projected path>``. Less sure: the jwt auto-auth parameters behind ``auth-config-path``
(``path``), ``auth-config-role`` (``role``) and ``auth-config-remove-jwt-after-reading``
(``remove_jwt_after_reading``; Vault's changelog, GH-11969: "defaults to true", so without it the
agent tries to delete the read-only projected token after each read) are Vault Agent's, seen in
its changelog and in third-party configs, not in a pinned source; that the agent accepts the
annotation's string "false" for that boolean is likewise unverified. Check them on a live injector.

Database credentials render to ``/vault/secrets/<name>`` as two lines, ``username=<user>`` and
``password=<password>`` (a dotenv file; Vault's default password policy yields only letters, digits
and ``-``, so the values need no quoting). Both come from one read, so they belong to one lease. The
sidecar renews a dynamic lease and, when it can no longer renew (max TTL), reads a new one and
re-renders the file before the old one ends; the application must re-read the file (or be signalled
with ``agent-inject-command-<name>``). With ``pre_populate_only`` nothing renews: the credentials
expire with their first lease.
"""

import re
from typing import Any

import pulumi

from .args import AuthMethod, Delivery, VaultAgentInjectorArgs
from .charts import VAULT, ChartInstall, install_operator
from .component import Component
from .model import AgentInjectorInstall, Cluster, DatabaseCredential, SecretRef, Workload
from .spec import validate_vault_agent_injector

ANNOTATION_PREFIX = "vault.hashicorp.com/"
INJECTOR_RELEASE = "vault-injector"
TOKEN_VOLUME = "vault-token"
TOKEN_FILE = "token"
TOKEN_EXPIRATION_SECONDS = 3600
# vault-k8s DefaultServiceAccountMount: where the injector mounts the named token volume into its agent
# containers when no application container mounts it.
TOKEN_MOUNT_PATH = "/var/run/secrets/vault.hashicorp.com/serviceaccount"
# A Go template field name; any other key is read with `index`.
_GO_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# --- pure builders -------------------------------------------------------------


def injector_values(install: AgentInjectorInstall) -> dict[str, Any]:
    """vault chart values: only the injector webhook, pointed at an external Vault and its auth mount."""
    return {
        "global": {"externalVaultAddr": install.vault_address},
        "server": {"enabled": False},
        "csi": {"enabled": False},
        "injector": {"enabled": True, "authPath": f"auth/{install.auth_path}"},
    }


def secret_template(secret: SecretRef) -> str:
    """A Consul template rendering exactly one key of a KV v2 secret, nothing around it."""
    field = f".Data.data.{secret.key}" if _GO_IDENTIFIER.match(secret.key) else f'index .Data.data "{secret.key}"'
    return f'{{{{- with secret "{secret.api_path}" -}}}}{{{{ {field} }}}}{{{{- end -}}}}'


def credential_template(credential: DatabaseCredential) -> str:
    """A Consul template rendering a database credential as two lines, ``username=...`` and ``password=...``.

    One ``with secret`` block: both values come from the same read, hence the same lease.
    """
    return (
        f'{{{{- with secret "{credential.api_path}" -}}}}'
        "username={{ .Data.username }}\n"
        "password={{ .Data.password }}\n"
        "{{ end -}}"
    )


def vault_token_volume(audience: str) -> dict[str, Any]:
    """The pod ``volumes[]`` entry the agent logs in with: a projected service-account token for ``audience``.

    Pass ``cluster.audience``. The kubelet refreshes the token before it expires (at 80% of its
    lifetime); the agent re-reads it at each login.
    """
    return {
        "name": TOKEN_VOLUME,
        "projected": {
            "sources": [
                {
                    "serviceAccountToken": {
                        "audience": audience,
                        "expirationSeconds": TOKEN_EXPIRATION_SECONDS,
                        "path": TOKEN_FILE,
                    }
                }
            ]
        },
    }


def auth_annotations(workload: Workload, cluster: Cluster) -> dict[str, str]:
    """How the agent logs in: on ``auth/<cluster.auth_mount>`` with the ``vault-token`` volume's token."""
    auth_path = f"auth/{cluster.auth_mount}"
    annotations = {f"{ANNOTATION_PREFIX}agent-service-account-token-volume-name": TOKEN_VOLUME}
    if cluster.auth_method is AuthMethod.JWT:
        annotations |= {
            f"{ANNOTATION_PREFIX}auth-type": "jwt",
            f"{ANNOTATION_PREFIX}auth-path": auth_path,
            # jwt auto-auth reads its token from `path` (kubernetes auto-auth gets `token_path` from the
            # injector itself, derived from the volume above).
            f"{ANNOTATION_PREFIX}auth-config-path": f"{TOKEN_MOUNT_PATH}/{TOKEN_FILE}",
            f"{ANNOTATION_PREFIX}auth-config-role": workload.role,
            # Less sure of this one (see the module notes): the projected volume is read-only.
            f"{ANNOTATION_PREFIX}auth-config-remove-jwt-after-reading": "false",
        }
    else:
        annotations |= {f"{ANNOTATION_PREFIX}auth-type": "kubernetes", f"{ANNOTATION_PREFIX}auth-path": auth_path}
    return annotations


def pod_annotations(workload: Workload, cluster: Cluster, pre_populate_only: bool = False) -> dict[str, str]:
    """Pod annotations that make the injector write each agent-injector delivery to ``/vault/secrets/<name>``.

    A secret's file holds its key's value; a database credential's holds ``username=`` and
    ``password=`` lines (``credential_template``). The agent logs in with the token of the
    ``vault-token`` projected volume, which the pod spec must declare: add
    ``vault_token_volume(cluster.audience)`` to its ``volumes``. ``pre_populate_only`` runs the agent
    as an init container only (no sidecar, so no renewal: a dynamic credential is not replaced when
    its lease ends). File names were checked at the edge (annotation key length, one per pod).
    """
    annotations = {
        f"{ANNOTATION_PREFIX}agent-inject": "true",
        f"{ANNOTATION_PREFIX}role": workload.role,
        **auth_annotations(workload, cluster),
    }
    files = [(s.name, s.api_path, secret_template(s)) for s in workload.secrets_for(Delivery.AGENT_INJECTOR)]
    files += [(c.name, c.api_path, credential_template(c)) for c in workload.credentials_for(Delivery.AGENT_INJECTOR)]
    for name, path, template in files:
        annotations[f"{ANNOTATION_PREFIX}agent-inject-secret-{name}"] = path
        annotations[f"{ANNOTATION_PREFIX}agent-inject-template-{name}"] = template
    if pre_populate_only:
        annotations[f"{ANNOTATION_PREFIX}agent-pre-populate-only"] = "true"
    return annotations


# --- component -----------------------------------------------------------------


class VaultAgentInjector(Component):
    """The pinned vault chart with only its injector enabled.

    ``install`` is the chart resource: workloads annotated for injection should ``depends_on`` it.
    """

    namespace: pulumi.Output[str]
    """The namespace the injector runs in."""

    def __init__(self, name: str, args: VaultAgentInjectorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self._build(name, validate_vault_agent_injector(args), opts)

    def _build(self, name: str, model: AgentInjectorInstall, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__("vaultk8s:index:VaultAgentInjector", name, {}, opts)
        settings = model.settings
        chart = ChartInstall("chart", VAULT, injector_values(model), INJECTOR_RELEASE)
        (self.install,), self.namespace = install_operator(
            self, name, settings.namespace, settings.install_method, [chart]
        )
        self.register_outputs({"namespace": self.namespace})
