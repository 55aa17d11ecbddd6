"""Delivery plane, schema tier: builder objects against upstream CRDs, install values against the charts.

The mutation tests prove the validators strict: every key of every object (and of
every values map) is misspelt in turn, and each misspelling must be caught.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from components import agent_injector as injector
from components import csi
from components import external_secrets as eso
from components.args import Delivery
from components.charts import PINNED_CHARTS, InstallMethod
from components.model import AgentInjectorInstall, CsiSettings, ExternalSecretsSettings
from planner.engine import run_program
from tests.reference import (
    REFERENCE,
    check_chart_values,
    require_reference,
    validate_core_object,
    validate_custom_resource,
)
from tests.test_delivery_builders import (
    VAULT_ADDRESS,
    app,
    dev_spec,
    jwt_cluster,
    kube_cluster,
    multi_mount,
    vault_server,
)


@pytest.fixture(autouse=True)
def _reference() -> None:
    require_reference()


# --- the objects -------------------------------------------------------------------


def builder_objects() -> dict[str, dict[str, Any]]:
    """One of every object shape the builders make, by a readable id."""
    objects: dict[str, dict[str, Any]] = {}
    w, m = app(cluster_store_namespaces=["team-a", "team-b"]), multi_mount()
    for cluster_id, cluster in (("kubernetes", kube_cluster()), ("jwt", jwt_cluster())):
        for ca in (True, False):
            tag = f"{cluster_id}{'-ca' if ca else ''}"
            for o in eso.workload_external_secrets(m, vault_server(ca), cluster):
                objects[f"{o['kind']}-{o['metadata']['name']}-{tag}"] = o
            objects[f"ClusterSecretStore-{tag}"] = eso.cluster_secret_store(w, vault_server(ca), cluster, "secret")
            objects[f"SecretProviderClass-{tag}"] = csi.secret_provider_class(
                app(Delivery.CSI), vault_server(ca), cluster, sync_secret=ca
            )
    objects["ExternalSecret-app"] = eso.workload_external_secrets(w, vault_server(), kube_cluster())[1]
    objects["legacy-ExternalSecret"] = eso.legacy_external_secret(w, kube_cluster())
    spec = dev_spec()
    for workload in spec.workloads:
        for o in eso.workload_external_secrets(workload, spec.vault, spec.cluster_of(workload)):
            objects[f"dev-{o['kind']}-{workload.name}"] = o
            objects[f"dev-legacy-{workload.name}"] = eso.legacy_external_secret(workload, spec.cluster_of(workload))
        if workload.secrets_for(Delivery.CSI):
            objects[f"dev-SecretProviderClass-{workload.name}"] = csi.secret_provider_class(
                workload, spec.vault, spec.cluster_of(workload), sync_secret=False
            )
    return objects


OBJECTS = builder_objects()


@pytest.mark.parametrize("key", sorted(OBJECTS))
def test_builder_object_matches_its_crd(key: str) -> None:
    validate_custom_resource(OBJECTS[key])


def test_every_crd_kind_of_the_builders_is_covered() -> None:
    kinds = {(o["apiVersion"], o["kind"]) for o in OBJECTS.values()}
    assert kinds == {
        ("external-secrets.io/v1", "SecretStore"),
        ("external-secrets.io/v1", "ClusterSecretStore"),
        ("external-secrets.io/v1", "ExternalSecret"),
        ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"),
        ("kubernetes-client.io/v1", "ExternalSecret"),
    }


@pytest.mark.parametrize("cluster", [kube_cluster(), jwt_cluster()], ids=["kubernetes", "jwt"])
def test_annotated_pod_is_a_valid_core_object(cluster: Any) -> None:
    w = app()
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "app",
            "namespace": w.namespace,
            "annotations": injector.pod_annotations(app(Delivery.AGENT_INJECTOR), cluster),
        },
        "spec": {
            "serviceAccountName": w.service_account,
            "containers": [{"name": "app", "image": "app:1"}],
            "volumes": [injector.vault_token_volume(cluster.audience)],
        },
    }
    validate_core_object(pod)


# --- the installs ------------------------------------------------------------------

INSTALLS: dict[str, Callable[[], Any]] = {
    "eso": lambda: eso.ExternalSecretsOperator("eso", {}),
    "eso-cluster-wide": lambda: eso.ExternalSecretsOperator(
        "eso", {"cluster_wide": True, "install_method": InstallMethod.HELM_RELEASE}
    ),
    "csi": lambda: csi.SecretsStoreCsi(
        "csi", {"vault_address": VAULT_ADDRESS, "namespace": "csi", "sync_secret": True}
    ),
    "csi-release": lambda: csi.SecretsStoreCsi(
        "csi", {"vault_address": VAULT_ADDRESS, "install_method": InstallMethod.HELM_RELEASE}
    ),
    "injector": lambda: injector.VaultAgentInjector("inj", {"vault_address": VAULT_ADDRESS, "auth_path": "kubernetes"}),
}


def registered_installs(program: Callable[[], Any]) -> list[Any]:
    capture = run_program(program)
    return [r for r in capture.resources if r.type in ("kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Release")]


@pytest.mark.parametrize("install", sorted(INSTALLS))
def test_registered_chart_values_pass_the_chart(install: str) -> None:
    charts = registered_installs(INSTALLS[install])
    assert charts
    for chart in charts:
        check_chart_values(chart.inputs["chart"], chart.inputs["values"])


@pytest.mark.parametrize("install", sorted(INSTALLS))
def test_registered_namespaces_are_valid_core_objects(install: str) -> None:
    capture = run_program(INSTALLS[install])
    for namespace in capture.of_type("kubernetes:core/v1:Namespace"):
        validate_core_object(namespace.inputs)


def test_pinned_versions_are_the_reference_charts() -> None:
    for chart in PINNED_CHARTS:
        meta = yaml.safe_load((REFERENCE / "charts" / chart.name / "Chart.yaml").read_text())
        assert (meta["name"], str(meta["version"])) == (chart.name, chart.version)


BUILDER_VALUES: dict[str, tuple[str, dict[str, Any]]] = {
    "eso-namespaced": ("external-secrets", eso.operator_values(ExternalSecretsSettings())),
    "eso-cluster-wide": ("external-secrets", eso.operator_values(ExternalSecretsSettings(cluster_wide=True))),
    "csi-driver": ("secrets-store-csi-driver", csi.driver_values(CsiSettings(sync_secret=True))),
    "vault-csi-provider": ("vault", csi.vault_csi_provider_values(VAULT_ADDRESS)),
    "vault-injector": (
        "vault",
        injector.injector_values(AgentInjectorInstall(vault_address=VAULT_ADDRESS, auth_path="clusters/dev")),
    ),
}


@pytest.mark.parametrize("key", sorted(BUILDER_VALUES))
def test_builder_values_pass_the_chart(key: str) -> None:
    check_chart_values(*BUILDER_VALUES[key])


# --- the validators are strict -------------------------------------------------------


def key_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every mapping key in ``value`` (list items by index)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from key_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from key_paths(item, (*path, i))


def misspell(obj: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    """A copy of ``obj`` with the key at ``path`` renamed (a typo a reviewer could miss)."""
    out = copy.deepcopy(obj)
    parent: Any = out
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    parent[f"{key}s" if not key.endswith("s") else key[:-1]] = parent.pop(key)
    return out


def object_mutations() -> Iterator[Any]:
    for key, obj in sorted(OBJECTS.items()):
        for path in key_paths(obj):
            # metadata is the API server's (labels etc.), spec.parameters a free string map by the CRD's design.
            if path[0] in ("metadata", "apiVersion", "kind") or (path[:2] == ("spec", "parameters") and len(path) > 2):
                continue
            yield pytest.param(key, path, id=f"{key}:{'.'.join(map(str, path))}")


@pytest.mark.parametrize(("key", "path"), list(object_mutations()))
def test_a_misspelt_object_field_fails_its_crd(key: str, path: tuple[Any, ...]) -> None:
    with pytest.raises(AssertionError, match="does not match its schema"):
        validate_custom_resource(misspell(OBJECTS[key], path))


def values_mutations() -> Iterator[Any]:
    for key, (chart, values) in sorted(BUILDER_VALUES.items()):
        for path in key_paths(values):
            yield pytest.param(chart, values, path, id=f"{key}:{'.'.join(map(str, path))}")


@pytest.mark.parametrize(("chart", "values", "path"), list(values_mutations()))
def test_a_misspelt_values_key_fails_the_chart(chart: str, values: dict[str, Any], path: tuple[Any, ...]) -> None:
    with pytest.raises(AssertionError, match="not a key of values.yaml"):
        check_chart_values(chart, misspell(values, path))


def test_a_misspelt_core_field_fails() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "app"},
        "spec": {"containers": [{"name": "app", "image": "app:1", "imagePullPolice": "Always"}]},
    }
    with pytest.raises(AssertionError, match=r"\$\.spec\.containers\[0\]: Additional properties"):
        validate_core_object(pod)


def test_wrong_types_and_formats_fail() -> None:
    store = copy.deepcopy(OBJECTS["SecretStore-multi-secret-kubernetes-ca"])
    store["spec"]["provider"]["vault"]["caBundle"] = "-----BEGIN CERTIFICATE-----"
    with pytest.raises(AssertionError, match=r"caBundle: .* is not a 'byte'"):
        validate_custom_resource(store)
    store["spec"]["provider"]["vault"]["version"] = "v3"
    with pytest.raises(AssertionError, match=r"\$\.spec\.provider\.vault\.version: 'v3' is not one of"):
        validate_custom_resource(store)
    spc = copy.deepcopy(OBJECTS["SecretProviderClass-kubernetes"])
    spc["spec"]["parameters"]["objects"] = [{"objectName": "x"}]
    with pytest.raises(AssertionError, match=r"\$\.spec\.parameters\.objects: .* is not of type 'string'"):
        validate_custom_resource(spc)
    with pytest.raises(AssertionError, match=r"installCRDs: 'yes' is not of type 'boolean'"):
        check_chart_values("external-secrets", {"installCRDs": "yes"})
    with pytest.raises(AssertionError, match="csi.enabled: a map, but values.yaml has bool"):
        check_chart_values("vault", {"csi": {"enabled": {"value": True}}})


def test_unserved_or_unknown_versions_and_kinds_fail() -> None:
    store = copy.deepcopy(OBJECTS["SecretStore-multi-secret-kubernetes"])
    with pytest.raises(AssertionError, match="does not serve version v1beta1"):
        validate_custom_resource({**store, "apiVersion": "external-secrets.io/v1beta1"})
    with pytest.raises(AssertionError, match="no CRD for SecretStor "):
        validate_custom_resource({**store, "kind": "SecretStor"})
    with pytest.raises(AssertionError, match="has no version 'v2'"):
        validate_custom_resource({**store, "apiVersion": "external-secrets.io/v2"})


def test_free_form_values_maps_are_an_explicit_list() -> None:
    check_chart_values("external-secrets", {"podAnnotations": {"example.com/anything": "x"}})
    with pytest.raises(AssertionError, match="strategy.rollingUpdate: not a key of values.yaml"):
        check_chart_values("external-secrets", {"strategy": {"rollingUpdate": {}}})


def test_missing_reference_fails_unless_skipping_is_asked_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import tests.reference as reference
    from tests import prerequisites

    monkeypatch.setattr(reference, "REFERENCE", tmp_path / "absent")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.fail.Exception, match="schema reference data .* is missing: .*shared/reference"):
        reference.require_reference()
    monkeypatch.setattr(prerequisites, "_allowed", True)
    monkeypatch.setattr(prerequisites, "skipped", {})
    with pytest.raises(pytest.skip.Exception, match="schema reference data"):
        reference.require_reference()
    assert list(prerequisites.skipped) == [f"schema reference data ({tmp_path / 'absent'})"]
    monkeypatch.setenv("CI", "true")
    prerequisites.allow_missing(True)  # CI never skips
    with pytest.raises(pytest.fail.Exception):
        reference.require_reference()
