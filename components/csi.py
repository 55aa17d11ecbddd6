"""Secrets Store CSI driver with Vault's CSI provider, and the SecretProviderClass of each workload.

Parameter names of the Vault CSI provider (``vaultAddress``, ``roleName``,
``vaultAuthMountPath``, ``audience``, ``objects``) are not in any CRD: the
SecretProviderClass schema types ``spec.parameters`` as a free string map, so no
schema test can catch a misspelt one. They are taken from vault-csi-provider's
documentation as recalled, NOT checked against a file here: for the provider the
pinned vault chart ships (``csi.image.tag`` 1.7.4), ``vaultAuthMountPath`` replaced
the deprecated ``vaultKubernetesMountPath`` and serves kubernetes and jwt mounts alike
(both take the same ``{role, jwt}`` login). Verify against a live provider.

Database credentials are mounted as two files per credential, ``<name>-username`` and
``<name>-password``. Within one mount request the provider caches Vault's response per
``(secretPath, method)``, so both files come from ONE read (one lease). The provider never
renews or revokes a lease: it reads ``creds/<role>`` again at every mount and at every
rotation poll of the driver (``rotationPollInterval``, cluster-wide, default 2m), and each
read is a NEW lease, i.e. a new database user that lives until its TTL. Set the poll interval
below the roles' TTL (so the files are replaced before the user expires) and not far below it
(each poll of each pod creates a user). The rotation gives the pod new credentials without a
restart, but only an application that re-reads the files uses them. ``static-creds/<role>``
reads create no lease; the files follow a password rotation at the next poll. (Read from
vault-csi-provider's source, not a pinned release: ``server.go`` builds a provider with a fresh
response cache for every Mount call, and a rotation poll is a Mount call.)
"""

from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import yaml

from . import validation as v
from .charts import (
    SECRETS_STORE_CSI,
    VAULT,
    InstallMethod,
    ensure_namespace,
    install_chart,
    namespace_output,
    parse_install_method,
)
from .external_secrets import go_duration
from .model import Cluster, DatabaseCredential, SecretRef, VaultServer, Workload

API_VERSION = "secrets-store.csi.x-k8s.io/v1"
PROVIDER = "vault"
DEFAULT_ROTATION_POLL_INTERVAL = "2m"
# The keys of a database engine's creds/<role> and static-creds/<role> response.
CREDENTIAL_KEYS = ("username", "password")
MIN_ROTATION_POLL_SECONDS = 10
# Release names: the vault chart is installed twice on a cluster that runs both the CSI provider and the injector.
DRIVER_RELEASE = "csi-secrets-store"
PROVIDER_RELEASE = "vault-csi"

# --- pure builders -------------------------------------------------------------


def driver_values(rotation_poll_interval: str, sync_secret: bool) -> dict[str, Any]:
    """secrets-store-csi-driver chart values: rotation on, quiet logs, Secret sync RBAC only when asked."""
    interval = go_duration("rotationPollInterval", rotation_poll_interval)
    if v.duration_seconds("rotationPollInterval", interval) < MIN_ROTATION_POLL_SECONDS:
        raise v.SpecError(
            "rotationPollInterval", interval, f"at least {MIN_ROTATION_POLL_SECONDS}s (every poll is a Vault login)"
        )
    return {
        "enableSecretRotation": True,
        "rotationPollInterval": interval,
        "syncSecret": {"enabled": v.boolean("syncSecret", sync_secret)},
        "logVerbosity": 0,
        # The node registrar's chart default is 5 (debug).
        "linux": {"registrar": {"logVerbosity": 2}},
    }


def vault_csi_provider_values(vault_address: str) -> dict[str, Any]:
    """vault chart values: only the CSI provider DaemonSet, pointed at an external Vault."""
    return {
        "global": {"externalVaultAddr": v.url("vaultAddress", vault_address)},
        "server": {"enabled": False},
        "injector": {"enabled": False},
        "csi": {"enabled": True},
    }


def credential_object_names(credential: DatabaseCredential) -> list[str]:
    """The files of one database credential: ``<name>-username`` and ``<name>-password``."""
    return [f"{credential.name}-{key}" for key in CREDENTIAL_KEYS]


def provider_objects(secrets: Sequence[SecretRef], credentials: Sequence[DatabaseCredential] = ()) -> str:
    """The ``objects`` parameter: a YAML list, one file per secret (one key each) and two per credential."""
    objects = [{"objectName": s.name, "secretPath": s.api_path, "secretKey": s.key} for s in secrets]
    objects += [
        {"objectName": f"{c.name}-{key}", "secretPath": c.api_path, "secretKey": key}
        for c in credentials
        for key in CREDENTIAL_KEYS
    ]
    return yaml.safe_dump(objects, sort_keys=False, default_flow_style=False)


def secret_provider_class(
    workload: Workload,
    secrets: Sequence[SecretRef],
    vault: VaultServer,
    cluster: Cluster,
    name: str,
    sync_secret_name: str | None = None,
    credentials: Sequence[DatabaseCredential] = (),
) -> dict[str, Any]:
    """A SecretProviderClass in the workload's namespace that logs in as the pod's service account.

    ``credentials`` adds two files per database credential (see the module notes: a dynamic role's
    path is read, creating a new lease, at every mount and every rotation poll).
    With ``sync_secret_name`` the mounted files are also synced into an Opaque Secret (one key per
    file); the driver only syncs while a pod mounts the volume, and needs ``syncSecret`` in its values.
    The Vault CA is not a parameter here: the provider takes ``vaultCACertPath``, a path on its own pod.
    """
    if not secrets and not credentials:
        raise v.SpecError("secrets", [], "at least one secret or database credential")
    for i, secret in enumerate(secrets):
        if secret not in workload.secrets:
            raise v.SpecError(
                f"secrets[{i}]", secret.api_path, f"a secret of workload {workload.name!r} (its policy grants no other)"
            )
    for i, credential in enumerate(credentials):
        if credential not in workload.database_credentials:
            raise v.SpecError(
                f"credentials[{i}]",
                credential.api_path,
                f"a database credential of workload {workload.name!r} (its policy grants no other)",
            )
    object_names = [s.name for s in secrets] + [n for c in credentials for n in credential_object_names(c)]
    for file_name in object_names:
        if object_names.count(file_name) > 1:
            raise v.SpecError(
                "objects", file_name, "file names used once (a credential adds <name>-username and <name>-password)"
            )
    spec: dict[str, Any] = {
        "provider": PROVIDER,
        "parameters": {
            "vaultAddress": vault.address,
            "roleName": workload.role,
            "vaultAuthMountPath": cluster.auth_mount,
            "audience": cluster.audience,
            "objects": provider_objects(secrets, credentials),
        },
    }
    if sync_secret_name is not None:
        spec["secretObjects"] = [
            {
                "secretName": v.dns_subdomain("syncSecretName", sync_secret_name),
                "type": "Opaque",
                "data": [{"objectName": n, "key": n} for n in object_names],
            }
        ]
    return {
        "apiVersion": API_VERSION,
        "kind": "SecretProviderClass",
        "metadata": {"name": v.dns_subdomain("name", name), "namespace": workload.namespace},
        "spec": spec,
    }


# --- component -----------------------------------------------------------------


class SecretsStoreCsiArgs(TypedDict):
    """The Secrets Store CSI driver and Vault's CSI provider."""

    vault_address: str
    """The Vault address the provider uses when a SecretProviderClass names none."""
    namespace: NotRequired[str]
    """The namespace of both DaemonSets (default `kube-system`)."""
    rotation_poll_interval: NotRequired[str]
    """How often mounted secrets are re-read, a Go duration (default `2m`, at least `10s`)."""
    sync_secret: NotRequired[bool]
    """Grant the driver the RBAC to sync mounts into Kubernetes Secrets (default false)."""
    install_method: NotRequired[InstallMethod]
    """`helm-chart` (default) or `helm-release`."""


class SecretsStoreCsi(pulumi.ComponentResource):
    """The pinned secrets-store-csi-driver chart and the vault chart's CSI provider (server and injector off).

    ``install`` holds both installs: SecretProviderClasses must ``depends_on`` it (the driver brings the CRD).
    """

    namespace: pulumi.Output[str]
    """The namespace both DaemonSets run in."""

    def __init__(self, name: str, args: SecretsStoreCsiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        namespace = v.dns_label("namespace", args.get("namespace", "kube-system"))
        driver = driver_values(
            args.get("rotation_poll_interval", DEFAULT_ROTATION_POLL_INTERVAL), args.get("sync_secret", False)
        )
        provider = vault_csi_provider_values(args.get("vault_address"))  # type: ignore[arg-type]
        method = parse_install_method("installMethod", args.get("install_method", InstallMethod.HELM_CHART))
        super().__init__("vaultk8s:index:SecretsStoreCsi", name, {}, opts)

        created = ensure_namespace(f"{name}-namespace", namespace, self)
        after = [created] if created else None
        self.install: list[pulumi.Resource] = [
            install_chart(
                f"{name}-driver",
                SECRETS_STORE_CSI,
                namespace,
                driver,
                method,
                self,
                release_name=DRIVER_RELEASE,
                depends_on=after,
            ),
            install_chart(
                f"{name}-vault-provider",
                VAULT,
                namespace,
                provider,
                method,
                self,
                release_name=PROVIDER_RELEASE,
                depends_on=after,
            ),
        ]
        self.namespace = namespace_output(created, namespace)
        self.register_outputs({"namespace": self.namespace})
