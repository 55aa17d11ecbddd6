"""Delivery plane: the pure builders (ESO, CSI, agent injector) and the install components under mocks."""

from __future__ import annotations

import base64
import re
import textwrap
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from components import agent_injector as injector
from components import csi
from components import external_secrets as eso
from components.args import AuthMethod, Delivery, InstallMethod
from components.charts import EXTERNAL_SECRETS, SECRETS_STORE_CSI, VAULT
from components.durations import format_duration
from components.model import (
    AgentInjectorInstall,
    Cluster,
    CsiSettings,
    ExternalSecretsSettings,
    PlatformSpec,
    VaultServer,
    Workload,
)
from components.spec import (
    from_config,
    validate_cluster,
    validate_external_secrets_operator,
    validate_platform,
    validate_vault,
    validate_workload,
)
from components.validation import SpecError
from planner.engine import Capture, run_program
from tests.prerequisites import missing

PROJECT = Path(__file__).resolve().parents[1]
SEED = PROJECT.parent / "shared" / "seed" / "000_76db7d8be7deb8eb.txt"
PEM = "-----BEGIN CERTIFICATE-----\nMIIBbzCCARagAwIBAgIBATAK\n-----END CERTIFICATE-----\n"
VAULT_ADDRESS = "https://vault.example.com"

CHART = "kubernetes:helm.sh/v4:Chart"
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"


# --- samples ---------------------------------------------------------------------


def kube_cluster() -> Cluster:
    return validate_cluster(
        "cluster",
        {"name": "dev", "api_host": "https://k8s.example.com:6443", "ca_cert": PEM, "auth_mount": "clusters/dev"},
    )


def jwt_cluster() -> Cluster:
    return validate_cluster(
        "cluster",
        {
            "name": "dev",
            "api_host": "https://k8s.example.com:6443",
            "issuer": "https://oidc.example.com",
            "auth_method": AuthMethod.JWT,
            "jwt_validation_pubkeys": [PEM],
            "audience": "vault.example.com",
        },
    )


def vault_server(ca: bool = True) -> VaultServer:
    return validate_vault("vault", {"address": VAULT_ADDRESS, **({"ca_cert": PEM} if ca else {})})


def app(delivery: Delivery = Delivery.EXTERNAL_SECRETS, **extra: Any) -> Workload:
    return validate_workload(
        "workload",
        {
            "name": "app",
            "namespace": "team-a",
            "service_account": "app-sa",
            "role": "app-role",
            "secrets": [
                {"path": "secret/data/app/config", "key": "api_key", "name": "api-key", "delivery": delivery},
                {"path": "secret/data/app/db", "key": "pass-word", "name": "db-password", "delivery": delivery},
            ],
            **extra,
        },
    )


def multi_mount() -> Workload:
    return validate_workload(
        "workload",
        {
            "name": "multi",
            "namespace": "team-b",
            "service_account": "multi",
            "refresh_interval": "30m",
            "secrets": [
                {"path": "secret/data/one", "key": "a", "delivery": "external-secrets"},
                {"path": "team_b/kv/data/two", "key": "b", "delivery": "external-secrets"},
                {"path": "secret/data/three", "key": "c", "delivery": "external-secrets"},
            ],
        },
    )


def dev_spec() -> PlatformSpec:
    """The dev stack (Pulumi.dev.yaml): the seed document's two examples as workloads."""
    return validate_platform(dev_args())


def seed_object(kind: str, api_version: str) -> dict[str, Any]:
    """The one ```yaml block of the seed document with this kind and apiVersion."""
    if not SEED.is_file():
        missing(f"the seed document ({SEED})", "it belongs in ../shared/seed beside the project")
    blocks = re.findall(r"```yaml\n(.*?)```", SEED.read_text(), flags=re.S)
    docs = [yaml.safe_load(textwrap.dedent(b)) for b in blocks]
    found = [d for d in docs if d.get("kind") == kind and d.get("apiVersion") == api_version]
    assert len(found) == 1, f"expected one {kind} {api_version} in the seed, found {len(found)}"
    return found[0]


def dev_args() -> dict[str, Any]:
    config = yaml.safe_load((PROJECT / "Pulumi.dev.yaml").read_text())["config"]
    prefix = "secrets-platform:"
    return from_config({k[len(prefix) :]: x for k, x in config.items() if k.startswith(prefix)})


def workload_named(spec: PlatformSpec, role: str) -> Workload:
    return next(w for w in spec.workloads if w.role == role)


# --- charts ----------------------------------------------------------------------


def test_pinned_charts() -> None:
    assert (EXTERNAL_SECRETS.name, EXTERNAL_SECRETS.repo_url, EXTERNAL_SECRETS.version) == (
        "external-secrets",
        "https://charts.external-secrets.io",
        "2.9.0",
    )
    assert (SECRETS_STORE_CSI.name, SECRETS_STORE_CSI.version) == ("secrets-store-csi-driver", "1.6.0")
    assert SECRETS_STORE_CSI.repo_url == "https://kubernetes-sigs.github.io/secrets-store-csi-driver/charts"
    assert (VAULT.name, VAULT.repo_url, VAULT.version) == ("vault", "https://helm.releases.hashicorp.com", "0.34.1")


def test_install_method_accepts_enum_and_string_and_refuses_others() -> None:
    operator = validate_external_secrets_operator
    assert operator({"install_method": InstallMethod.HELM_RELEASE}).install_method is InstallMethod.HELM_RELEASE
    assert operator({"install_method": "helm-chart"}).install_method is InstallMethod.HELM_CHART  # type: ignore[typeddict-item]
    with pytest.raises(SpecError, match="installMethod: 'helm' is not allowed: one of helm-chart, helm-release"):
        operator({"install_method": "helm"})  # type: ignore[typeddict-item]


# --- External Secrets Operator ----------------------------------------------------------

CLUSTER_WIDE_KEYS = {
    "processClusterExternalSecret": "createClusterExternalSecret",
    "processClusterStore": "createClusterSecretStore",
    "processClusterGenerator": "createClusterGenerator",
    "processClusterPushSecret": "createClusterPushSecret",
    "processPushSecret": "createPushSecret",
}


@pytest.mark.parametrize("cluster_wide", [False, True])
def test_operator_values_switch_cluster_wide_kinds_and_their_crds_together(cluster_wide: bool) -> None:
    values = eso.operator_values(ExternalSecretsSettings(cluster_wide=cluster_wide))
    assert values == {
        "installCRDs": True,
        **dict.fromkeys(CLUSTER_WIDE_KEYS, cluster_wide),
        "crds": dict.fromkeys(CLUSTER_WIDE_KEYS.values(), cluster_wide),
    }


def test_operator_settings_refuse_a_non_boolean_at_the_edge() -> None:
    with pytest.raises(SpecError, match="^clusterWide: 'yes' is not allowed: true or false"):
        validate_external_secrets_operator({"cluster_wide": "yes"})  # type: ignore[typeddict-item]


def test_secret_store_kubernetes_auth_logs_in_as_the_workload() -> None:
    store = eso.secret_store(app(), vault_server(), kube_cluster(), "secret")
    assert store == {
        "apiVersion": "external-secrets.io/v1",
        "kind": "SecretStore",
        "metadata": {"name": "app-secret", "namespace": "team-a"},
        "spec": {
            "provider": {
                "vault": {
                    "server": VAULT_ADDRESS,
                    "path": "secret",
                    "version": "v2",
                    "caBundle": base64.b64encode(PEM.encode()).decode(),
                    "auth": {
                        "kubernetes": {
                            "mountPath": "clusters/dev",
                            "role": "app-role",
                            "serviceAccountRef": {"name": "app-sa", "audiences": ["vault"]},
                        }
                    },
                }
            }
        },
    }
    assert base64.b64decode(store["spec"]["provider"]["vault"]["caBundle"]).decode() == PEM


def test_secret_store_jwt_auth_requests_a_token_for_the_workload_with_the_audience() -> None:
    store = eso.secret_store(app(), vault_server(ca=False), jwt_cluster(), "secret")
    provider = store["spec"]["provider"]["vault"]
    assert "caBundle" not in provider
    assert provider["auth"] == {
        "jwt": {
            "path": "jwt",
            "role": "app-role",
            # audiences on serviceAccountRef: the CRD marks kubernetesServiceAccountToken.audiences deprecated.
            "kubernetesServiceAccountToken": {
                "serviceAccountRef": {"name": "app-sa", "audiences": ["vault.example.com"]}
            },
        }
    }


def test_one_store_and_one_external_secret_per_mount() -> None:
    objects = eso.workload_external_secrets(multi_mount(), vault_server(), kube_cluster())
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("SecretStore", "multi-secret"),
        ("ExternalSecret", "multi-secret"),
        ("SecretStore", "multi-team-b-kv"),
        ("ExternalSecret", "multi-team-b-kv"),
    ]
    assert objects[0]["spec"]["provider"]["vault"]["path"] == "secret"
    assert objects[2]["spec"]["provider"]["vault"]["path"] == "team_b/kv"
    assert [d["remoteRef"]["key"] for d in objects[1]["spec"]["data"]] == ["one", "three"]
    assert [d["remoteRef"]["key"] for d in objects[3]["spec"]["data"]] == ["two"]
    assert objects[3]["spec"]["secretStoreRef"] == {"name": "multi-team-b-kv", "kind": "SecretStore"}
    assert {o["spec"]["target"]["name"] for o in objects[1::2]} == {"multi-secret", "multi-team-b-kv"}
    assert {o["spec"]["refreshInterval"] for o in objects[1::2]} == {"30m"}


def test_single_mount_workload_gets_a_secret_named_after_it_refreshed_at_the_models_default() -> None:
    objects = eso.workload_external_secrets(app(), vault_server(), kube_cluster())
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("SecretStore", "app-secret"),
        ("ExternalSecret", "app"),
    ]
    assert objects[1]["spec"]["refreshInterval"] == format_duration(Workload.refresh_interval)  # type: ignore[arg-type]
    assert objects[1]["spec"]["refreshInterval"] == "5m"


def test_only_external_secrets_deliveries_get_objects() -> None:
    assert eso.workload_external_secrets(app(Delivery.CSI), vault_server(), kube_cluster()) == []


def test_external_secret_maps_each_secret_to_one_key() -> None:
    workload = app(refresh_interval="15m")
    assert eso.external_secret(workload, list(workload.secrets), "app-secret", "app") == {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "app", "namespace": "team-a"},
        "spec": {
            "refreshInterval": "15m",
            "secretStoreRef": {"name": "app-secret", "kind": "SecretStore"},
            "target": {"name": "app", "creationPolicy": "Owner"},
            "data": [
                {"secretKey": "api-key", "remoteRef": {"key": "app/config", "property": "api_key"}},
                {"secretKey": "db-password", "remoteRef": {"key": "app/db", "property": "pass-word"}},
            ],
        },
    }


@pytest.mark.parametrize("interval", ["", "15 m", "5s", "2d", True])
def test_a_bad_refresh_interval_is_refused_at_the_edge(interval: object) -> None:
    with pytest.raises(SpecError, match=r"^workload\.refreshInterval: "):
        app(refresh_interval=interval)


def test_mounts_that_would_name_the_same_store_are_refused_at_the_edge() -> None:
    with pytest.raises(SpecError, match="KV mounts whose names differ"):
        validate_workload(
            "workload",
            {
                "name": "w",
                "namespace": "n",
                "service_account": "s",
                "secrets": [
                    {"path": "team_a/data/x", "key": "k", "delivery": "external-secrets"},
                    {"path": "team-a/data/y", "key": "k", "name": "k2", "delivery": "external-secrets"},
                ],
            },
        )


def test_cluster_secret_store_is_limited_to_the_workloads_namespaces() -> None:
    workload = app(cluster_store_namespaces=["team-a", "team-c"])
    store = eso.cluster_secret_store(workload, vault_server(), kube_cluster(), "secret")
    assert store["kind"] == "ClusterSecretStore"
    assert store["metadata"] == {"name": "team-a-app-secret"}
    assert store["spec"]["conditions"] == [{"namespaces": ["team-a", "team-c"]}]
    ref = store["spec"]["provider"]["vault"]["auth"]["kubernetes"]["serviceAccountRef"]
    assert ref == {"name": "app-sa", "namespace": "team-a", "audiences": ["vault"]}


@pytest.mark.parametrize(
    ("namespaces", "field"),
    [(["Team"], r"workload\.clusterStoreNamespaces\[0\]"), ("a", r"workload\.clusterStoreNamespaces")],
)
def test_a_bad_cluster_store_namespace_list_is_refused_at_the_edge(namespaces: Any, field: str) -> None:
    with pytest.raises(SpecError, match=f"^{field}:"):
        app(cluster_store_namespaces=namespaces)


def test_legacy_external_secret_reproduces_the_seed() -> None:
    spec = dev_spec()
    built = eso.legacy_external_secret(workload_named(spec, "my-role"), spec.clusters[0])
    seed = seed_object("ExternalSecret", "kubernetes-client.io/v1")
    # The seed leaves the namespace to kubectl's context; the stack pins it to the workload's.
    assert built == {**seed, "metadata": {**seed["metadata"], "namespace": "myapp"}}


# --- Secrets Store CSI --------------------------------------------------------------------


def test_driver_values() -> None:
    assert csi.driver_values(CsiSettings()) == {
        "enableSecretRotation": True,
        "rotationPollInterval": "2m",
        "syncSecret": {"enabled": False},
        "logVerbosity": 0,
        "linux": {"registrar": {"logVerbosity": 2}},
    }
    assert csi.driver_values(CsiSettings(rotation_poll_interval=5400, sync_secret=True))["syncSecret"] == {
        "enabled": True
    }
    assert csi.driver_values(CsiSettings(rotation_poll_interval=5400))["rotationPollInterval"] == "1h30m"


@pytest.mark.parametrize("interval", ["5s", "2 m", True])
def test_a_bad_or_too_short_poll_interval_is_refused_at_the_edge(interval: object) -> None:
    with pytest.raises(SpecError, match="rotationPollInterval"):
        validate_platform(
            {**dev_args(), "delivery": {"csi": {"rotation_poll_interval": interval}}}  # type: ignore[typeddict-item]
        )


def test_vault_csi_provider_values_run_only_the_provider() -> None:
    assert csi.vault_csi_provider_values(VAULT_ADDRESS) == {
        "global": {"externalVaultAddr": VAULT_ADDRESS},
        "server": {"enabled": False},
        "injector": {"enabled": False},
        "csi": {"enabled": True},
    }


def test_secret_provider_class_reproduces_the_seed() -> None:
    spec = dev_spec()
    built = csi.secret_provider_class(workload_named(spec, "k8s-role"), spec.vault, spec.clusters[0], sync_secret=False)
    seed = seed_object("SecretProviderClass", "secrets-store.csi.x-k8s.io/v1")

    assert built["apiVersion"] == seed["apiVersion"]
    assert built["kind"] == seed["kind"]
    assert built["metadata"] == {**seed["metadata"], "namespace": "db"}
    assert set(built["spec"]) == set(seed["spec"]) == {"provider", "parameters"}
    assert built["spec"]["provider"] == seed["spec"]["provider"]
    params, seed_params = built["spec"]["parameters"], seed["spec"]["parameters"]
    # objects is YAML in a string: equal once parsed, not byte for byte.
    assert yaml.safe_load(params["objects"]) == yaml.safe_load(seed_params["objects"])
    assert {k: x for k, x in params.items() if k != "objects"} == {
        **{k: x for k, x in seed_params.items() if k != "objects"},
        # What the stack adds: the provider's default mount, said explicitly, and the audience the role binds.
        "vaultAuthMountPath": "kubernetes",
        "audience": "vault",
    }


def test_secret_provider_class_parameters_are_strings_and_objects_one_key_each() -> None:
    spc = csi.secret_provider_class(app(Delivery.CSI), vault_server(), jwt_cluster(), sync_secret=False)
    assert spc["metadata"] == {"name": "app-vault", "namespace": "team-a"}
    params = spc["spec"]["parameters"]
    assert all(isinstance(x, str) for x in params.values())
    assert params["vaultAuthMountPath"] == "jwt"
    assert params["audience"] == "vault.example.com"
    assert params["roleName"] == "app-role"
    assert yaml.safe_load(params["objects"]) == [
        {"objectName": "api-key", "secretPath": "secret/data/app/config", "secretKey": "api_key"},
        {"objectName": "db-password", "secretPath": "secret/data/app/db", "secretKey": "pass-word"},
    ]
    assert "secretObjects" not in spc["spec"]


def test_secret_provider_class_syncs_into_a_secret_when_asked() -> None:
    workload = app(Delivery.CSI, secret_provider_class="app-env")
    spc = csi.secret_provider_class(workload, vault_server(), kube_cluster(), sync_secret=True)
    assert spc["spec"]["secretObjects"] == [
        {
            "secretName": "app-env",
            "type": "Opaque",
            "data": [{"objectName": "api-key", "key": "api-key"}, {"objectName": "db-password", "key": "db-password"}],
        }
    ]
    with pytest.raises(SpecError, match="secretProviderClass"):
        app(Delivery.CSI, secret_provider_class="App Env")


# --- Vault Agent injector -----------------------------------------------------------------


def test_injector_values_run_only_the_injector() -> None:
    install = AgentInjectorInstall(vault_address=VAULT_ADDRESS, auth_path="clusters/dev")
    assert injector.injector_values(install) == {
        "global": {"externalVaultAddr": VAULT_ADDRESS},
        "server": {"enabled": False},
        "csi": {"enabled": False},
        "injector": {"enabled": True, "authPath": "auth/clusters/dev"},
    }


def test_pod_annotations_render_exactly_one_key_per_file() -> None:
    assert injector.pod_annotations(app(Delivery.AGENT_INJECTOR), kube_cluster()) == {
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/role": "app-role",
        "vault.hashicorp.com/agent-service-account-token-volume-name": "vault-token",
        "vault.hashicorp.com/auth-type": "kubernetes",
        "vault.hashicorp.com/auth-path": "auth/clusters/dev",
        "vault.hashicorp.com/agent-inject-secret-api-key": "secret/data/app/config",
        "vault.hashicorp.com/agent-inject-template-api-key": (
            '{{- with secret "secret/data/app/config" -}}{{ .Data.data.api_key }}{{- end -}}'
        ),
        "vault.hashicorp.com/agent-inject-secret-db-password": "secret/data/app/db",
        # "pass-word" is no Go identifier: `.Data.data.pass-word` would parse as a subtraction.
        "vault.hashicorp.com/agent-inject-template-db-password": (
            '{{- with secret "secret/data/app/db" -}}{{ index .Data.data "pass-word" }}{{- end -}}'
        ),
    }


def test_pod_annotations_log_in_with_the_projected_token_not_the_default_one() -> None:
    """The roles bind cluster.audience; the default service-account token has the API server's audience."""
    workload = app(Delivery.AGENT_INJECTOR)
    kube = injector.pod_annotations(workload, kube_cluster())
    assert kube["vault.hashicorp.com/agent-service-account-token-volume-name"] == "vault-token"
    assert not any(k.startswith("vault.hashicorp.com/auth-config-") for k in kube)
    jwt = injector.pod_annotations(workload, jwt_cluster())
    assert {k: x for k, x in jwt.items() if not k.startswith("vault.hashicorp.com/agent-inject-")} == {
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/role": "app-role",
        "vault.hashicorp.com/agent-service-account-token-volume-name": "vault-token",
        "vault.hashicorp.com/auth-type": "jwt",
        "vault.hashicorp.com/auth-path": "auth/jwt",
        "vault.hashicorp.com/auth-config-path": "/var/run/secrets/vault.hashicorp.com/serviceaccount/token",
        "vault.hashicorp.com/auth-config-role": "app-role",
        "vault.hashicorp.com/auth-config-remove-jwt-after-reading": "false",
    }


def test_pod_annotations_pre_populate_only() -> None:
    workload = app(Delivery.AGENT_INJECTOR)
    annotations = injector.pod_annotations(workload, kube_cluster(), pre_populate_only=True)
    assert annotations["vault.hashicorp.com/agent-pre-populate-only"] == "true"
    assert "vault.hashicorp.com/agent-pre-populate-only" not in injector.pod_annotations(workload, kube_cluster())


@pytest.mark.parametrize(
    ("name", "allowed"),
    [("n" * 42, "at most 41 characters"), ("n.", "ending alphanumeric"), ("N", None)],
)
def test_file_names_that_make_bad_annotation_keys_are_refused_at_the_edge(name: str, allowed: str | None) -> None:
    def workload(delivery: str) -> Workload:
        secret = {"path": "s/data/x", "key": "k", "name": name, "delivery": delivery}
        return validate_workload("w", {"name": "a", "namespace": "a", "service_account": "a", "secrets": [secret]})

    if allowed is None:
        assert workload("agent-injector").secrets[0].name == name
        return
    with pytest.raises(SpecError, match=rf"^w\.secrets\[0\]\.name: .*{allowed}"):
        workload("agent-injector")
    assert workload("csi").secrets[0].name == name  # the limit is the injector's annotation key


def test_agent_file_names_are_unique_lowercased_at_the_edge() -> None:
    secrets = [
        {"path": "s/data/x", "key": "k", "name": "Token", "delivery": "agent-injector"},
        {"path": "s/data/y", "key": "k", "name": "token", "delivery": "agent-injector"},
    ]
    with pytest.raises(SpecError, match=r"^w\.secrets\[1\]\.name: 'token' is not allowed: a file name not used"):
        validate_workload("w", {"name": "a", "namespace": "a", "service_account": "a", "secrets": secrets})


# --- components under mocks ---------------------------------------------------------


def run(program: Any) -> Capture:
    return run_program(program)


def only(capture: Capture, type_token: str) -> Any:
    found = capture.of_type(type_token)
    assert len(found) == 1, [r.type for r in capture.resources]
    return found[0]


def test_external_secrets_operator_registers_namespace_then_chart() -> None:
    capture = run(lambda: pulumi.export("ns", eso.ExternalSecretsOperator("eso", {}).namespace))
    component = only(capture, "vaultk8s:index:ExternalSecretsOperator")
    namespace, chart = only(capture, NAMESPACE), only(capture, CHART)
    assert [r.type for r in capture.resources] == ["vaultk8s:index:ExternalSecretsOperator", NAMESPACE, CHART]
    assert namespace.name == "eso-namespace" and namespace.parent == component.urn
    assert namespace.inputs["metadata"] == {"name": "external-secrets"}
    assert chart.name == "eso-chart" and chart.parent == component.urn
    assert chart.dependencies == [namespace.urn]
    assert chart.inputs == {
        "name": "external-secrets",
        "chart": "external-secrets",
        "version": "2.9.0",
        "repositoryOpts": {"repo": "https://charts.external-secrets.io"},
        "namespace": "external-secrets",
        "values": eso.operator_values(ExternalSecretsSettings()),
    }
    assert capture.outputs == {"ns": "external-secrets"}


def test_external_secrets_operator_as_a_release_cluster_wide() -> None:
    capture = run(
        lambda: eso.ExternalSecretsOperator(
            "eso",
            {"namespace": "eso", "cluster_wide": True, "install_method": "helm-release"},  # type: ignore[typeddict-item]
        )
    )
    assert not capture.of_type(CHART)
    release = only(capture, RELEASE)
    assert release.inputs["createNamespace"] is True
    assert release.inputs["namespace"] == "eso"
    assert release.inputs["version"] == "2.9.0"
    assert release.inputs["repositoryOpts"] == {"repo": "https://charts.external-secrets.io"}
    assert release.inputs["values"] == eso.operator_values(ExternalSecretsSettings(cluster_wide=True))


def test_custom_resources_can_depend_on_the_install() -> None:
    def program() -> None:
        operator = eso.ExternalSecretsOperator("eso", {})
        k8s.apiextensions.CustomResource(
            "store",
            api_version="external-secrets.io/v1",
            kind="SecretStore",
            metadata={"name": "s", "namespace": "n"},
            opts=pulumi.ResourceOptions(depends_on=[operator.install]),
        )

    capture = run(program)
    store = only(capture, "kubernetes:external-secrets.io/v1:SecretStore")
    assert store.dependencies == [only(capture, CHART).urn]


def test_secrets_store_csi_installs_driver_and_vault_provider_in_kube_system() -> None:
    installs: list[Any] = []

    def program() -> None:
        component = csi.SecretsStoreCsi("csi", {"vault_address": VAULT_ADDRESS, "sync_secret": True})
        installs.extend(component.install)

    capture = run(program)
    assert not capture.of_type(NAMESPACE), "kube-system exists already; the stack must not own it"
    charts = {r.name: r for r in capture.of_type(CHART)}
    assert set(charts) == {"csi-driver", "csi-vault-provider"}
    assert len(installs) == 2
    driver, provider = charts["csi-driver"].inputs, charts["csi-vault-provider"].inputs
    assert (driver["chart"], driver["version"], driver["name"], driver["namespace"]) == (
        "secrets-store-csi-driver",
        "1.6.0",
        "csi-secrets-store",
        "kube-system",
    )
    assert driver["values"] == csi.driver_values(CsiSettings(sync_secret=True))
    assert (provider["chart"], provider["version"], provider["name"], provider["namespace"]) == (
        "vault",
        "0.34.1",
        "vault-csi",
        "kube-system",
    )
    assert provider["values"] == csi.vault_csi_provider_values(VAULT_ADDRESS)
    component = only(capture, "vaultk8s:index:SecretsStoreCsi")
    assert all(r.parent == component.urn for r in charts.values())


def test_secrets_store_csi_in_its_own_namespace_as_releases() -> None:
    capture = run(
        lambda: csi.SecretsStoreCsi(
            "csi",
            {
                "vault_address": VAULT_ADDRESS,
                "namespace": "csi",
                "rotation_poll_interval": "5m",
                "install_method": InstallMethod.HELM_RELEASE,
            },
        )
    )
    namespace = only(capture, NAMESPACE)
    releases = capture.of_type(RELEASE)
    assert len(releases) == 2 and not capture.of_type(CHART)
    assert all(r.dependencies == [namespace.urn] for r in releases)
    assert {r.inputs["values"].get("rotationPollInterval") for r in releases} == {"5m", None}


def test_vault_agent_injector_installs_only_the_injector() -> None:
    capture = run(
        lambda: injector.VaultAgentInjector("inj", {"vault_address": VAULT_ADDRESS, "auth_path": "kubernetes"})
    )
    assert only(capture, NAMESPACE).inputs["metadata"] == {"name": "vault"}
    chart = only(capture, CHART)
    assert chart.inputs["name"] == "vault-injector"
    assert chart.inputs["chart"] == "vault" and chart.inputs["version"] == "0.34.1"
    assert chart.inputs["values"] == injector.injector_values(
        AgentInjectorInstall(vault_address=VAULT_ADDRESS, auth_path="kubernetes")
    )


def test_an_install_takes_the_vault_address_as_another_resources_output() -> None:
    """The address may be an Output (e.g. a Vault service's URL); it is checked once it is known."""
    capture = run(lambda: csi.SecretsStoreCsi("csi", {"vault_address": pulumi.Output.from_input(VAULT_ADDRESS)}))
    provider = next(r for r in capture.of_type(CHART) if r.name == "csi-vault-provider")
    assert provider.inputs["values"]["global"] == {"externalVaultAddr": VAULT_ADDRESS}


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: eso.ExternalSecretsOperator("x", {"namespace": "Bad_NS"}), "namespace"),
        (lambda: eso.ExternalSecretsOperator("x", {"cluster_wide": "yes"}), "clusterWide"),  # type: ignore[typeddict-item]
        (lambda: eso.ExternalSecretsOperator("x", {"install_method": "kubectl"}), "installMethod"),  # type: ignore[typeddict-item]
        (lambda: csi.SecretsStoreCsi("x", {"vault_address": "vault.example.com"}), "vaultAddress"),
        (
            lambda: csi.SecretsStoreCsi("x", {"vault_address": VAULT_ADDRESS, "rotation_poll_interval": "1s"}),
            "rotationPollInterval",
        ),
        (lambda: injector.VaultAgentInjector("x", {"vault_address": VAULT_ADDRESS}), "authPath"),  # type: ignore[typeddict-item]
        (
            lambda: injector.VaultAgentInjector("x", {"vault_address": VAULT_ADDRESS, "auth_path": "auth/kubernetes"}),
            "authPath",
        ),
    ],
)
def test_bad_component_args_raise_before_anything_is_registered(make: Any, field: str) -> None:
    errors: list[SpecError] = []

    def program() -> None:
        try:
            make()
        except SpecError as error:
            errors.append(error)

    capture = run(program)
    assert [e.field for e in errors] == [field]
    assert capture.resources == []
