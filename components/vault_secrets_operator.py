"""HashiCorp's Vault Secrets Operator (VSO): its chart values, and the custom resources of each workload.

``delivery.delivery_plan`` collects the per-workload objects and ``SecretsPlatform`` registers what it returns;
the ``VaultSecretsOperator`` component only installs the chart with ``operator_values``.

Every workload gets its own ``VaultConnection`` and ``VaultAuth`` (both ``<workload>-vault``) in its own
namespace: the operator requests a token for the workload's service account (TokenRequest, audience
``cluster.audience``) and logs in with the workload's role, never as itself. The chart creates no default
connection or auth: a ``VaultStaticSecret`` without ``vaultAuthRef`` falls back to the VaultAuth named
``default`` in the operator's namespace, which VSO lets every namespace use whatever its
``allowedNamespaces`` say. So every object here names its ``vaultAuthRef``. Vault's CA goes into a Secret
``<workload>-vault-ca`` (key ``ca.crt``): ``caCertSecretRef`` reads a Secret in the connection's namespace.

KV: one ``VaultStaticSecret`` per KV v2 secret (``(mount, key_path)``), owning a Secret with exactly the
delivered names: a template per name (``get .Secrets "<key>"``), ``excludes: [".*"]`` for the raw fields
(the CRD: excludes "are never applied to templated fields") and ``excludeRaw``. The operator re-reads it
at 80-90% of ``refreshAfter`` (its jitter), so a change reaches the Secret within ``refresh_interval``.

Database credentials: one ``VaultDynamicSecret`` per credential, owning a Secret with ``username`` and
``password``. Unlike External Secrets' generator, VSO keeps one lease and renews it (``renewalPercent``),
so the database user stays the same until the lease can no longer be extended; ``revoke`` drops the user
when the object is deleted. For a static role (``allowStaticCreds``) VSO re-reads just after each rotation.
``credential_freshness`` gives the numbers, read from VSO's ``vaultdynamicsecret_controller.go``.

Both kinds restart ``rolloutRestartTargets`` (the workload's ``deployment``) when the synced data changes:
VSO detects the change with the Secret's HMAC (``hmacSecretData``, on by default; the targets are
ignored without it).
"""

import json
from collections.abc import Sequence
from typing import Any

import pulumi

from .args import AuthMethod, Delivery, VaultSecretsOperatorArgs
from .charts import VAULT_SECRETS_OPERATOR, ChartInstall, install_operator
from .component import Component
from .model import (
    Cluster,
    DatabaseCredential,
    SecretRef,
    VaultSecretsOperatorSettings,
    VaultServer,
    Workload,
)
from .spec import CREDENTIAL_KEYS, validate_vault_secrets_operator

API_VERSION = "secrets.hashicorp.com/v1beta1"
KV_TYPE = "kv-v2"
CA_KEY = "ca.crt"
"""The key ``caCertSecretRef`` reads (VaultConnection CRD: "the trusted PEM encoded CA certificate chain as ca.crt")."""
TOKEN_EXPIRATION_SECONDS = 600
"""The service-account token of each login: the CRD's minimum (and default). VSO requests a fresh token for
every login and uses it only for that login, so a longer life would only widen the window to replay it."""
STATIC_CREDS_RESYNC_SECONDS = 1
"""After a static role's TTL ends VSO waits 0.5s for Vault's rotation, plus up to 0.15s jitter (5% of 3s)."""
DYNAMIC_JITTER_PERCENT = 10
"""VSO renews a lease between ``renewalPercent`` and ``renewalPercent + 10`` percent of its duration."""
RENEWAL_PERCENT_CAP = 90
"""VSO caps ``renewalPercent`` at 90."""


# --- pure builders -------------------------------------------------------------------------------


def operator_values(settings: VaultSecretsOperatorSettings) -> dict[str, Any]:
    """``vault-secrets-operator`` chart values: no default VaultConnection or VaultAuth, no ``_raw`` anywhere.

    ``defaultVaultConnection`` / ``defaultAuthMethod`` are off in the chart's values.yaml already; they are
    set here because the stack's design depends on it (a chart upgrade that turned one on would give every
    namespace a fallback identity). The global ``excludeRaw`` keeps the whole Vault response (every key of
    a KV secret, its metadata) out of every synced Secret, also those of objects the stack did not write.
    ``settings`` (namespace, install method) shape the install, not the values.
    """
    return {
        "defaultVaultConnection": {"enabled": False},
        "defaultAuthMethod": {"enabled": False},
        "controller": {"manager": {"globalTransformationOptions": {"excludeRaw": True}}},
    }


def _metadata(name: str, w: Workload) -> dict[str, str]:
    return {"name": name, "namespace": w.namespace}


def ca_secret_name(w: Workload) -> str:
    return f"{w.vault_connection_name}-ca"


def ca_secret(w: Workload, vault: VaultServer) -> dict[str, Any] | None:
    """The Secret holding Vault's CA (PEM, under ``ca.crt``) for the workload's VaultConnection; None without a CA.

    ``stringData``: the CA may be another resource's output, which stays a ``Text`` (no base64 here).
    """
    if vault.ca_cert is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(ca_secret_name(w), w),
        "type": "Opaque",
        "stringData": {CA_KEY: vault.ca_cert},
    }


def vault_connection(w: Workload, vault: VaultServer) -> dict[str, Any]:
    """The workload's VaultConnection: Vault's address, TLS verified against the CA Secret when there is one."""
    spec: dict[str, Any] = {"address": vault.address, "skipTLSVerify": False}
    if vault.ca_cert is not None:
        spec["caCertSecretRef"] = ca_secret_name(w)
    return {
        "apiVersion": API_VERSION,
        "kind": "VaultConnection",
        "metadata": _metadata(w.vault_connection_name, w),
        "spec": spec,
    }


def vault_auth(w: Workload, cluster: Cluster) -> dict[str, Any]:
    """The workload's VaultAuth: the workload's role on the cluster's auth mount, as its service account.

    ``kubernetes`` and ``jwt`` take the same block (``role``, ``serviceAccount``, ``audiences``,
    ``tokenExpirationSeconds``); VSO requests the token for ``serviceAccount`` in the namespace of the
    object being synced, here the workload's own.
    """
    method = "kubernetes" if cluster.auth_method is AuthMethod.KUBERNETES else "jwt"
    return {
        "apiVersion": API_VERSION,
        "kind": "VaultAuth",
        "metadata": _metadata(w.vault_connection_name, w),
        "spec": {
            "vaultConnectionRef": w.vault_connection_name,
            "method": method,
            "mount": cluster.auth_mount,
            method: {
                "role": w.role,
                "serviceAccount": w.service_account,
                "audiences": [cluster.audience],
                "tokenExpirationSeconds": TOKEN_EXPIRATION_SECONDS,
            },
        },
    }


def refresh_after(seconds: int) -> str:
    """A duration in the one-unit form ``refreshAfter`` takes (CRD pattern ``^([0-9]+(\\.[0-9]+)?(s|m|h))$``).

    ``5400`` -> ``90m``, ``4806`` -> ``4806s``: the CRD refuses ``1h30m``, so ``format_duration`` cannot serve.
    """
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _restart_targets(w: Workload) -> dict[str, Any]:
    return {"rolloutRestartTargets": [{"kind": "Deployment", "name": w.deployment}]} if w.deployment else {}


def template(key: str) -> dict[str, str]:
    """A Go template of one field of the source data (``key`` quoted as a Go string: JSON's escapes are Go's)."""
    return {"text": f"{{{{ get .Secrets {json.dumps(key)} }}}}"}


def only_templates(names_to_keys: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A transformation whose Secret holds exactly ``names``, each the source field ``key``."""
    return {
        "templates": {name: template(key) for name, key in names_to_keys},
        "excludes": [".*"],
        "excludeRaw": True,
    }


def secrets_by_path(secrets: Sequence[SecretRef]) -> dict[tuple[str, str], list[SecretRef]]:
    """The secrets grouped by KV secret ``(mount, key_path)``, in first-use order."""
    groups: dict[tuple[str, str], list[SecretRef]] = {}
    for secret in secrets:
        groups.setdefault((secret.mount, secret.key_path), []).append(secret)
    return groups


def vault_static_secrets(w: Workload) -> list[dict[str, Any]]:
    """One VaultStaticSecret per KV v2 secret the workload gets through VSO, each owning one Secret."""
    groups = secrets_by_path(w.secrets_for(Delivery.VAULT_SECRETS_OPERATOR))
    objects = []
    for (mount, key_path), secrets in groups.items():
        name = w.static_secret_name(secrets[0], len(groups))
        objects.append(
            {
                "apiVersion": API_VERSION,
                "kind": "VaultStaticSecret",
                "metadata": _metadata(name, w),
                "spec": {
                    "vaultAuthRef": w.vault_connection_name,
                    "type": KV_TYPE,
                    "mount": mount,
                    "path": key_path,
                    "refreshAfter": refresh_after(w.refresh_interval),
                    "destination": {
                        "name": name,
                        "create": True,
                        "transformation": only_templates([(s.name, s.key) for s in secrets]),
                    },
                    **_restart_targets(w),
                },
            }
        )
    return objects


def _credential_path(c: DatabaseCredential) -> str:
    """The path relative to the mount: ``creds/<role>`` or ``static-creds/<role>``."""
    return c.api_path.removeprefix(f"{c.mount}/")


def vault_dynamic_secrets(w: Workload, settings: VaultSecretsOperatorSettings) -> list[dict[str, Any]]:
    """One VaultDynamicSecret per database credential the workload gets through VSO, each owning one Secret.

    A dynamic role's lease is renewed at ``renewalPercent`` and revoked when the object goes (``revoke``).
    Revoking needs ``update`` on ``sys/leases/revoke``, which the workload policies here do not grant (the
    pack refuses writes under ``sys/``): VSO logs the denial, and the lease still ends with the Vault token
    that created it (Vault revokes a token's leases with it, by the role's ``token_max_ttl`` at the latest).
    A static role has no lease: ``allowStaticCreds`` makes VSO schedule its reads on the rotation instead,
    and there is nothing to revoke.
    """
    objects = []
    for c in w.credentials_for(Delivery.VAULT_SECRETS_OPERATOR):
        lease: dict[str, Any] = {"allowStaticCreds": True} if c.static else {"revoke": True}
        objects.append(
            {
                "apiVersion": API_VERSION,
                "kind": "VaultDynamicSecret",
                "metadata": _metadata(w.generator_name(c), w),
                "spec": {
                    "vaultAuthRef": w.vault_connection_name,
                    "mount": c.mount,
                    "path": _credential_path(c),
                    **lease,
                    "renewalPercent": settings.renewal_percent,
                    "destination": {
                        "name": w.generator_name(c),
                        "create": True,
                        "transformation": only_templates([(key, key) for key in CREDENTIAL_KEYS]),
                    },
                    **_restart_targets(w),
                },
            }
        )
    return objects


def uses_operator(w: Workload) -> bool:
    delivery = Delivery.VAULT_SECRETS_OPERATOR
    return bool(w.secrets_for(delivery) or w.credentials_for(delivery))


def workload_objects(
    w: Workload, vault: VaultServer, cluster: Cluster, settings: VaultSecretsOperatorSettings
) -> list[dict[str, Any]]:
    """Every VSO object of the workload (CA Secret, connection, auth, secrets); none if it does not use VSO."""
    if not uses_operator(w):
        return []
    ca = ca_secret(w, vault)
    return [
        *([ca] if ca is not None else []),
        vault_connection(w, vault),
        vault_auth(w, cluster),
        *vault_static_secrets(w),
        *vault_dynamic_secrets(w, settings),
    ]


def credential_freshness(ttl_or_period: int, static: bool, settings: VaultSecretsOperatorSettings) -> tuple[int, str]:
    """(worst-case seconds before a changed database credential reaches the Secret, who renews it).

    Dynamic role (``ttl_or_period`` = the lease TTL): VSO renews the lease at ``renewalPercent`` (capped at
    90) plus up to 10% jitter of its duration. A renewal keeps the same user; when it fails (the lease was
    revoked) or comes back short (``max_ttl`` is near), VSO reads new credentials at once. So a change in
    Vault is seen within ``(renewalPercent + 10)%`` of the TTL, rounded up. (A lease also ends with the Vault
    token that created it; how VSO re-reads when it replaces its client token was not checked here.)

    Static role: VSO schedules its next read at the credential's ``ttl`` (the time left to Vault's next
    rotation) plus 0.5s and jitter, so a scheduled rotation reaches the Secret about a second later
    (``ttl_or_period`` does not change that). A manual ``rotate-role`` is seen only at the scheduled time.
    """
    if static:
        return STATIC_CREDS_RESYNC_SECONDS, "the Vault Secrets Operator (it re-reads right after each rotation)"
    percent = min(settings.renewal_percent, RENEWAL_PERCENT_CAP)
    seconds = -(-ttl_or_period * (percent + DYNAMIC_JITTER_PERCENT) // 100)  # rounded up
    return seconds, f"the Vault Secrets Operator (at {percent}% of the lease's TTL)"


# --- component -----------------------------------------------------------------


class VaultSecretsOperator(Component):
    """The Vault Secrets Operator chart, pinned, with no default VaultConnection or VaultAuth.

    ``install`` is the chart resource: the VaultConnections, VaultAuths and secrets must ``depends_on`` it.
    """

    namespace: pulumi.Output[str]
    """The namespace the operator runs in."""

    def __init__(self, name: str, args: VaultSecretsOperatorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self._build(name, validate_vault_secrets_operator(args), opts)

    def _build(self, name: str, model: VaultSecretsOperatorSettings, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__("vaultk8s:index:VaultSecretsOperator", name, {}, opts)
        chart = ChartInstall("chart", VAULT_SECRETS_OPERATOR, operator_values(model))
        (self.install,), self.namespace = install_operator(self, name, model.namespace, model.install_method, [chart])
        self.register_outputs({"namespace": self.namespace})
