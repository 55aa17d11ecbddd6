"""Vault Secrets Operator: the pure builders' semantics, and every object strictly against VSO 1.4.1's CRDs.

The schema part reuses the schema tier's validators (``tests/reference.py``): an undeclared field is an
error, the reference folder missing is a failure (a skip only with ``--allow-missing``, never under CI).
The misspelling tests rename every key of every object in turn and require the validator to catch it.
"""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pytest

from components import vault_secrets_operator as vso
from components.args import Delivery, InstallMethod
from components.model import (
    Cluster,
    DatabaseCredential,
    JwtAuthSpec,
    KubernetesAuthSpec,
    SecretRef,
    VaultSecretsOperatorSettings,
    VaultServer,
    Workload,
)
from planner.engine import run_program
from tests.reference import check_chart_values, validate_core_object, validate_custom_resource
from tests.test_delivery_schema import key_paths, misspell

PEM = "-----BEGIN CERTIFICATE-----\nMIIBbzCCARagAwIBAgIBATAK\n-----END CERTIFICATE-----\n"
VSO = Delivery.VAULT_SECRETS_OPERATOR
CHART = "vault-secrets-operator"
SETTINGS = VaultSecretsOperatorSettings()


# --- samples ---------------------------------------------------------------------------------------


def kube_cluster() -> Cluster:
    return Cluster(
        name="dev",
        api_host="https://k8s.example.com:6443",
        auth=KubernetesAuthSpec(kubernetes_host="https://k8s.example.com:6443", path="clusters/dev"),
    )


def jwt_cluster() -> Cluster:
    return Cluster(
        name="dev",
        api_host="https://k8s.example.com:6443",
        auth=JwtAuthSpec(issuer="https://oidc.example.com", path="jwt-dev"),
        audience="vault.example.com",
    )


def vault_server(ca: bool = True) -> VaultServer:
    return VaultServer(address="https://vault.example.com", ca_cert=PEM if ca else None)


def secret(key_path: str, key: str, name: str = "", mount: str = "secret", delivery: Delivery = VSO) -> SecretRef:
    return SecretRef(mount=mount, key_path=key_path, key=key, name=name, delivery=delivery)


def one_path(deployment: str = "") -> Workload:
    """Two keys of one KV secret, renamed in the pod, and a secret delivered another way."""
    return Workload(
        name="app",
        namespace="team-a",
        service_account="app-sa",
        role="app-role",
        deployment=deployment,
        secrets=(
            secret("app/config", "api_key", "api-key"),
            secret("app/config", "pass-word", "db-password"),
            secret("app/other", "x", delivery=Delivery.EXTERNAL_SECRETS),
        ),
    )


def many_paths(deployment: str = "web") -> Workload:
    """Three KV secrets on two mounts, and a dynamic and a static database credential."""
    return Workload(
        name="multi",
        namespace="team-b",
        service_account="multi",
        deployment=deployment,
        refresh_interval=5400,
        secrets=(
            secret("one", "a"),
            secret("two", "b", mount="team_b/kv"),
            secret("one", "c"),
            secret("three", "d"),
        ),
        database_credentials=(
            DatabaseCredential(mount="database", role="reader", name="db", delivery=VSO),
            DatabaseCredential(mount="pg", role="report", static=True, delivery=VSO),
            DatabaseCredential(mount="pg", role="elsewhere", delivery=Delivery.CSI),
        ),
    )


def credentials_only() -> Workload:
    return Workload(
        name="job",
        namespace="team-c",
        service_account="job",
        database_credentials=(DatabaseCredential(mount="database", role="reader", delivery=VSO),),
    )


def builder_objects() -> dict[str, dict[str, Any]]:
    """Every shape: kubernetes and jwt auth, with and without CA and Deployment, 1 and 3 paths, 2 mounts."""
    objects: dict[str, dict[str, Any]] = {}
    for cluster_id, cluster in (("kubernetes", kube_cluster()), ("jwt", jwt_cluster())):
        for ca in (True, False):
            for w in (one_path(), one_path("app"), many_paths(), many_paths(""), credentials_only()):
                tag = f"{cluster_id}{'-ca' if ca else ''}{'-restart' if w.deployment else ''}"
                for o in vso.workload_objects(w, vault_server(ca), cluster, SETTINGS):
                    objects[f"{o['kind']}-{o['metadata']['name']}-{tag}"] = o
    return objects


OBJECTS = builder_objects()
CUSTOM = {k: o for k, o in OBJECTS.items() if o["apiVersion"] == vso.API_VERSION}
CORE = {k: o for k, o in OBJECTS.items() if o["apiVersion"] == "v1"}


# --- the schema tier ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(CUSTOM))
def test_object_matches_its_crd(key: str) -> None:
    validate_custom_resource(CUSTOM[key])


@pytest.mark.parametrize("key", sorted(CORE))
def test_ca_secret_is_a_valid_core_object(key: str) -> None:
    validate_core_object(CORE[key])


def test_every_kind_is_covered() -> None:
    kinds = {o["kind"] for o in OBJECTS.values()}
    assert kinds == {"Secret", "VaultConnection", "VaultAuth", "VaultStaticSecret", "VaultDynamicSecret"}


def test_chart_values_pass_the_chart() -> None:
    check_chart_values(CHART, vso.operator_values(SETTINGS))


def object_mutations() -> list[Any]:
    return [
        pytest.param(key, path, id=f"{key}:{'.'.join(map(str, path))}")
        for key, obj in sorted(CUSTOM.items())
        if "-kubernetes-ca-restart" in key or "-jwt-ca-restart" in key  # every shape, once per auth method
        for path in key_paths(obj)
        if path[0] not in ("apiVersion", "kind", "metadata")
        # Template names are the Secret's keys, a free map by the CRD's design (additionalProperties).
        and not (path[2:4] == ("transformation", "templates") and len(path) == 5)
    ]


@pytest.mark.parametrize(("key", "path"), object_mutations())
def test_a_misspelt_field_fails_the_crd(key: str, path: tuple[Any, ...]) -> None:
    with pytest.raises(AssertionError, match="does not match its schema"):
        validate_custom_resource(misspell(CUSTOM[key], path))


@pytest.mark.parametrize("key", sorted(CORE))
def test_a_misspelt_ca_secret_field_fails(key: str) -> None:
    for path in key_paths(CORE[key]):
        if path[0] in ("apiVersion", "kind") or (path[0] == "stringData" and len(path) > 1):
            continue
        with pytest.raises(AssertionError, match="does not match its schema"):
            validate_core_object(misspell(CORE[key], path))


def test_a_misspelt_values_key_fails_the_chart() -> None:
    values = vso.operator_values(SETTINGS)
    for path in key_paths(values):
        with pytest.raises(AssertionError, match="not a key of values.yaml"):
            check_chart_values(CHART, misspell(values, path))


def test_wrong_values_fail_the_crd() -> None:
    """The CRD's own constraints: a multi-unit refreshAfter, a too-short token, an unknown method."""
    static = copy.deepcopy(CUSTOM["VaultStaticSecret-multi-secret-one-kubernetes-ca-restart"])
    static["spec"]["refreshAfter"] = "1h30m"
    with pytest.raises(AssertionError, match=r"refreshAfter: '1h30m' does not match"):
        validate_custom_resource(static)
    auth = copy.deepcopy(CUSTOM["VaultAuth-app-vault-kubernetes-ca"])
    auth["spec"]["kubernetes"]["tokenExpirationSeconds"] = 599
    with pytest.raises(AssertionError, match="599 is less than the minimum of 600"):
        validate_custom_resource(auth)
    auth["spec"]["method"] = "token"
    with pytest.raises(AssertionError, match=r"\$\.spec\.method: 'token' is not one of"):
        validate_custom_resource(auth)


# --- semantics ---------------------------------------------------------------------------------------


def objects_of(w: Workload, cluster: Cluster | None = None, ca: bool = True) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for o in vso.workload_objects(w, vault_server(ca), cluster or kube_cluster(), SETTINGS):
        found.setdefault(o["kind"], []).append(o)
    return found


def test_templates_map_each_delivered_name_to_its_key_and_nothing_else() -> None:
    (static,) = objects_of(one_path())["VaultStaticSecret"]
    spec = static["spec"]
    assert (spec["mount"], spec["path"], spec["type"]) == ("secret", "app/config", "kv-v2")
    assert spec["destination"]["name"] == "app" and spec["destination"]["create"] is True
    transformation = spec["destination"]["transformation"]
    assert transformation["templates"] == {
        "api-key": {"text": '{{ get .Secrets "api_key" }}'},
        "db-password": {"text": '{{ get .Secrets "pass-word" }}'},
    }
    assert transformation["excludes"] == [".*"] and transformation["excludeRaw"] is True


def test_one_static_secret_per_kv_path_named_per_path_when_several() -> None:
    statics = objects_of(many_paths())["VaultStaticSecret"]
    assert [(s["spec"]["mount"], s["spec"]["path"]) for s in statics] == [
        ("secret", "one"),
        ("team_b/kv", "two"),
        ("secret", "three"),
    ]
    assert [s["metadata"]["name"] for s in statics] == ["multi-secret-one", "multi-team-b-kv-two", "multi-secret-three"]
    assert all(s["metadata"]["name"] == s["spec"]["destination"]["name"] for s in statics)
    assert set(statics[0]["spec"]["destination"]["transformation"]["templates"]) == {"a", "c"}
    assert {s["spec"]["refreshAfter"] for s in statics} == {"90m"}


def test_only_this_delivery_is_built() -> None:
    found = objects_of(one_path())
    assert "VaultDynamicSecret" not in found
    assert all(s["spec"]["path"] != "app/other" for s in found["VaultStaticSecret"])
    eso_only = Workload(
        name="e", namespace="n", service_account="e", secrets=(secret("x", "y", delivery=Delivery.CSI),)
    )
    assert vso.workload_objects(eso_only, vault_server(), kube_cluster(), SETTINGS) == []
    dynamic = objects_of(many_paths())["VaultDynamicSecret"]
    assert [d["metadata"]["name"] for d in dynamic] == ["multi-db", "multi-report"]


def test_revoke_only_for_dynamic_and_allow_static_creds_only_for_static() -> None:
    dynamic, static = objects_of(many_paths())["VaultDynamicSecret"]
    assert (dynamic["spec"]["mount"], dynamic["spec"]["path"]) == ("database", "creds/reader")
    assert dynamic["spec"]["revoke"] is True and "allowStaticCreds" not in dynamic["spec"]
    assert (static["spec"]["mount"], static["spec"]["path"]) == ("pg", "static-creds/report")
    assert static["spec"]["allowStaticCreds"] is True and "revoke" not in static["spec"]
    for d in (dynamic, static):
        assert d["spec"]["renewalPercent"] == SETTINGS.renewal_percent
        assert set(d["spec"]["destination"]["transformation"]["templates"]) == {"username", "password"}
    other = vso.vault_dynamic_secrets(many_paths(), VaultSecretsOperatorSettings(renewal_percent=50))
    assert {d["spec"]["renewalPercent"] for d in other} == {50}


def test_rollout_restart_targets_only_with_a_deployment() -> None:
    for kind in ("VaultStaticSecret", "VaultDynamicSecret"):
        for o in objects_of(many_paths("web"))[kind]:
            assert o["spec"]["rolloutRestartTargets"] == [{"kind": "Deployment", "name": "web"}]
        for o in objects_of(many_paths(""))[kind]:
            assert "rolloutRestartTargets" not in o["spec"]


@pytest.mark.parametrize("cluster", [kube_cluster(), jwt_cluster()], ids=["kubernetes", "jwt"])
def test_auth_logs_in_as_the_workload_on_the_clusters_mount_and_audience(cluster: Cluster) -> None:
    (auth,) = objects_of(one_path(), cluster)["VaultAuth"]
    spec = auth["spec"]
    method = cluster.auth_method.value
    assert spec["method"] == method and spec["mount"] == cluster.auth_mount
    assert spec[method] == {
        "role": "app-role",
        "serviceAccount": "app-sa",
        "audiences": [cluster.audience],
        "tokenExpirationSeconds": 600,
    }
    assert spec["vaultConnectionRef"] == "app-vault" and auth["metadata"] == {
        "name": "app-vault",
        "namespace": "team-a",
    }
    found = objects_of(many_paths(), cluster)
    assert {o["spec"]["vaultAuthRef"] for k in ("VaultStaticSecret", "VaultDynamicSecret") for o in found[k]} == {
        "multi-vault"
    }


def test_connection_pins_the_ca_from_a_secret_in_the_workloads_namespace() -> None:
    found = objects_of(one_path())
    (ca,), (connection,) = found["Secret"], found["VaultConnection"]
    assert ca["metadata"] == {"name": "app-vault-ca", "namespace": "team-a"}
    assert ca["stringData"] == {"ca.crt": PEM}
    assert connection["spec"] == {
        "address": "https://vault.example.com",
        "skipTLSVerify": False,
        "caCertSecretRef": "app-vault-ca",
    }
    without = objects_of(one_path(), ca=False)
    assert "Secret" not in without and "caCertSecretRef" not in without["VaultConnection"][0]["spec"]


def test_outputs_are_carried_not_resolved() -> None:
    """A CA or address from another resource stays an Output in the object (registered as it is)."""
    vault = VaultServer(address=pulumi.Output.from_input("https://v"), ca_cert=pulumi.Output.from_input(PEM))
    objects = vso.workload_objects(one_path(), vault, kube_cluster(), SETTINGS)
    assert isinstance(objects[0]["stringData"]["ca.crt"], pulumi.Output)
    assert isinstance(objects[1]["spec"]["address"], pulumi.Output)


def test_chart_values_turn_off_the_default_connection_and_auth() -> None:
    values = vso.operator_values(SETTINGS)
    assert values["defaultVaultConnection"] == {"enabled": False}
    assert values["defaultAuthMethod"] == {"enabled": False}


@pytest.mark.parametrize(
    ("seconds", "text"), [(10, "10s"), (300, "5m"), (3600, "1h"), (5400, "90m"), (4806, "4806s"), (86400, "24h")]
)
def test_refresh_after_is_one_unit(seconds: int, text: str) -> None:
    assert vso.refresh_after(seconds) == text


def test_credential_freshness() -> None:
    assert vso.credential_freshness(3600, False, SETTINGS) == (
        2772,
        "the Vault Secrets Operator (at 67% of the lease's TTL)",
    )
    assert vso.credential_freshness(100, False, VaultSecretsOperatorSettings(renewal_percent=90))[0] == 100
    assert vso.credential_freshness(1, False, SETTINGS)[0] == 1  # rounded up, never 0
    assert vso.credential_freshness(86400, True, SETTINGS) == (
        1,
        "the Vault Secrets Operator (it re-reads right after each rotation)",
    )


def test_missing_reference_fails_these_tests_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import tests.reference as reference
    from tests import prerequisites

    monkeypatch.setattr(reference, "REFERENCE", tmp_path / "absent")
    monkeypatch.setattr(prerequisites, "_allowed", prerequisites._allowed)  # restored after the test
    monkeypatch.setenv("CI", "true")
    prerequisites.allow_missing(True)  # --allow-missing is refused under CI
    key = sorted(CUSTOM)[0]
    with pytest.raises(pytest.fail.Exception, match="schema reference data .* is missing"):
        validate_custom_resource(CUSTOM[key])
    with pytest.raises(pytest.fail.Exception, match="schema reference data .* is missing"):
        check_chart_values(CHART, vso.operator_values(SETTINGS))


@pytest.mark.parametrize("method", list(InstallMethod))
def test_the_install_registers_the_pinned_chart_with_these_values(method: InstallMethod) -> None:
    capture = run_program(lambda: vso.VaultSecretsOperator("vso", {"install_method": method}))
    (chart,) = [
        r for r in capture.resources if r.type in ("kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Release")
    ]
    assert (chart.inputs["chart"], chart.inputs["version"]) == (CHART, "1.4.1")
    assert chart.inputs["namespace"] == SETTINGS.namespace
    check_chart_values(chart.inputs["chart"], chart.inputs["values"])
    assert chart.inputs["values"] == vso.operator_values(SETTINGS)
