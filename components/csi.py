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
from typing import Any

import pulumi
import yaml

from .args import Delivery, SecretsStoreCsiArgs
from .charts import SECRETS_STORE_CSI, VAULT, ChartInstall, install_operator
from .component import Component
from .durations import format_duration
from .model import Cluster, CsiInstall, CsiSettings, DatabaseCredential, SecretRef, Text, VaultServer, Workload
from .spec import CREDENTIAL_KEYS, validate_secrets_store_csi

API_VERSION = "secrets-store.csi.x-k8s.io/v1"
# libyaml's emitter where PyYAML has it (its wheels do): 10x faster, and the same text for these flat string maps.
OBJECTS_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
PROVIDER = "vault"
# Release names: the vault chart is installed twice on a cluster that runs both the CSI provider and the injector.
DRIVER_RELEASE = "csi-secrets-store"
PROVIDER_RELEASE = "vault-csi"


# --- pure builders -------------------------------------------------------------


def driver_values(settings: CsiSettings) -> dict[str, Any]:
    """secrets-store-csi-driver chart values: rotation on, quiet logs, Secret sync RBAC only when asked."""
    return {
        "enableSecretRotation": True,
        "rotationPollInterval": format_duration(settings.rotation_poll_interval),
        "syncSecret": {"enabled": settings.sync_secret},
        "logVerbosity": 0,
        # The node registrar's chart default is 5 (debug).
        "linux": {"registrar": {"logVerbosity": 2}},
    }


def vault_csi_provider_values(vault_address: Text) -> dict[str, Any]:
    """vault chart values: only the CSI provider DaemonSet, pointed at an external Vault."""
    return {
        "global": {"externalVaultAddr": vault_address},
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
    return yaml.dump(objects, Dumper=OBJECTS_DUMPER, sort_keys=False, default_flow_style=False)


def secret_provider_class(
    workload: Workload, vault: VaultServer, cluster: Cluster, sync_secret: bool
) -> dict[str, Any]:
    """The SecretProviderClass of the workload's CSI deliveries, logging in as the pod's service account.

    Each database credential adds two files (see the module notes: a dynamic role's path is read,
    creating a new lease, at every mount and every rotation poll). With ``sync_secret`` the mounted
    files are also synced into an Opaque Secret named like the class (one key per file); the driver
    only syncs while a pod mounts the volume, and needs ``syncSecret`` in its values. The Vault CA is
    not a parameter here: the provider takes ``vaultCACertPath``, a path on its own pod.
    """
    secrets, credentials = workload.secrets_for(Delivery.CSI), workload.credentials_for(Delivery.CSI)
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
    if sync_secret:
        names = [s.name for s in secrets] + [n for c in credentials for n in credential_object_names(c)]
        spec["secretObjects"] = [
            {
                "secretName": workload.secret_provider_class,
                "type": "Opaque",
                "data": [{"objectName": n, "key": n} for n in names],
            }
        ]
    return {
        "apiVersion": API_VERSION,
        "kind": "SecretProviderClass",
        "metadata": {"name": workload.secret_provider_class, "namespace": workload.namespace},
        "spec": spec,
    }


# --- component -----------------------------------------------------------------


class SecretsStoreCsi(Component):
    """The pinned secrets-store-csi-driver chart and the vault chart's CSI provider (server and injector off).

    ``install`` holds both installs: SecretProviderClasses must ``depends_on`` it (the driver brings the CRD).
    """

    namespace: pulumi.Output[str]
    """The namespace both DaemonSets run in."""

    def __init__(self, name: str, args: SecretsStoreCsiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        self._build(name, validate_secrets_store_csi(args), opts)

    def _build(self, name: str, model: CsiInstall, opts: pulumi.ResourceOptions | None) -> None:
        super().__init__("vaultk8s:index:SecretsStoreCsi", name, {}, opts)
        settings = model.settings
        charts = [
            ChartInstall("driver", SECRETS_STORE_CSI, driver_values(settings), DRIVER_RELEASE),
            ChartInstall("vault-provider", VAULT, vault_csi_provider_values(model.vault_address), PROVIDER_RELEASE),
        ]
        self.install: list[pulumi.Resource]
        self.install, self.namespace = install_operator(self, name, settings.namespace, settings.install_method, charts)
        self.register_outputs({"namespace": self.namespace})
