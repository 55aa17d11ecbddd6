"""Schema tier over whole stacks: every object the dev, full and clusters stacks register, against upstream schemas.

And the seed's two examples: the dev stack's plan writes, in the current APIs, an
ExternalSecret and a SecretProviderClass that read exactly what the seed's read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.__main__ import main
from planner.engine import PROJECT_ROOT, Capture
from planner.stack_file import load_stack_config
from tests.conftest import plan
from tests.reference import check_chart_values, require_reference, validate_core_object, validate_custom_resource

STACKS = {
    "dev": PROJECT_ROOT / "Pulumi.dev.yaml",
    "full": PROJECT_ROOT / "examples" / "Pulumi.full.yaml",
    "clusters": PROJECT_ROOT / "examples" / "Pulumi.clusters.yaml",
}
SEED = PROJECT_ROOT.parent / "shared" / "seed" / "000_76db7d8be7deb8eb.txt"
CORE_GROUPS = ("v1", "rbac.authorization.k8s.io/v1", "apps/v1")
CHART_TYPES = ("kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Release")


def capture_of(stack: str) -> Capture:
    config, secret_keys = load_stack_config(STACKS[stack])
    return plan(config, stack=stack, secret_keys=secret_keys)


def kubernetes_objects(capture: Capture) -> list[dict[str, Any]]:
    """Each object's inputs, masked; a Secret's unmasked (the SDK makes all of `stringData` secret, and the only
    Secret with data the stacks write is Vault's CA certificate for the Vault Secrets Operator)."""
    return [
        r.plain_inputs if r.type == "kubernetes:core/v1:Secret" else r.masked_inputs
        for r in capture.resources
        if r.custom and r.type.startswith("kubernetes:") and "kind" in r.inputs and r.type not in CHART_TYPES
    ]


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_every_kubernetes_object_validates_against_its_schema(stack: str) -> None:
    require_reference()
    objects = kubernetes_objects(capture_of(stack))
    assert objects
    for obj in objects:
        if obj["apiVersion"] in CORE_GROUPS:
            validate_core_object(obj)
        else:
            validate_custom_resource(obj)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_every_chart_value_exists_in_its_chart(stack: str) -> None:
    require_reference()
    charts = [r.inputs for r in capture_of(stack).resources if r.type in CHART_TYPES]
    assert charts
    for chart in charts:
        check_chart_values(chart["chart"], chart.get("values") or {})


def test_custom_resources_wait_for_the_install_that_brings_their_crd() -> None:
    """pulumi-kubernetes#3035: a custom resource applied before its CRD exists fails the first `pulumi up`."""
    capture = capture_of("full")
    by_urn = capture.by_urn()
    crds = [
        r for r in capture.resources if r.type.split(":")[1].split("/")[0].endswith(("external-secrets.io", "x-k8s.io"))
    ]
    assert {r.inputs["kind"] for r in crds} >= {
        "SecretStore",
        "ExternalSecret",
        "SecretProviderClass",
        "VaultDynamicSecret",
    }
    for resource in crds:
        installs = [by_urn[d] for d in resource.dependencies if d in by_urn and by_urn[d].type in CHART_TYPES]
        expected = "secrets-store-csi-driver" if "csi" in resource.type else "external-secrets"
        assert expected in {i.inputs["chart"] for i in installs}, resource.name


def test_only_the_operators_in_use_are_installed() -> None:
    dev = {r.inputs.get("chart") for r in capture_of("dev").resources if r.type in CHART_TYPES}
    assert dev == {"external-secrets", "secrets-store-csi-driver", "vault"}  # the vault chart: the CSI provider only
    dev_vault = [r.inputs["values"] for r in capture_of("dev").resources if r.inputs.get("chart") == "vault"]
    assert dev_vault == [
        {
            "global": {"externalVaultAddr": "https://vault.example.com"},
            "server": {"enabled": False},
            "injector": {"enabled": False},
            "csi": {"enabled": True},
        }
    ]
    full = [r.inputs for r in capture_of("full").resources if r.type in CHART_TYPES]
    assert sorted(c["chart"] for c in full) == ["external-secrets", "secrets-store-csi-driver", "vault", "vault"]
    assert {r.type for r in capture_of("full").resources if r.inputs.get("chart") == "secrets-store-csi-driver"} == {
        "kubernetes:helm.sh/v3:Release"
    }


def seed_examples() -> dict[str, dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", SEED.read_text(), flags=re.S)
    return {doc["kind"]: doc for doc in (yaml.safe_load(b) for b in blocks)}


def test_dev_plan_writes_the_seeds_two_examples_in_current_apis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_reference()
    if not SEED.is_file():
        pytest.fail(f"the seed document is missing: {SEED}")
    seed = seed_examples()
    assert main(["--stack", "dev", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    written = {p.name: yaml.safe_load(p.read_text()) for p in (tmp_path / "kubernetes").glob("*.yaml")}

    spc = written["SecretProviderClass_db_vault-secret-provider.yaml"]
    old_spc = seed["SecretProviderClass"]
    assert spc["apiVersion"] == old_spc["apiVersion"] and spc["metadata"]["name"] == old_spc["metadata"]["name"]
    assert spc["spec"]["provider"] == old_spc["spec"]["provider"] == "vault"
    for key in ("vaultAddress", "roleName"):
        assert spc["spec"]["parameters"][key] == old_spc["spec"]["parameters"][key]
    assert yaml.safe_load(spc["spec"]["parameters"]["objects"]) == yaml.safe_load(
        old_spc["spec"]["parameters"]["objects"]
    )
    validate_custom_resource(spc)

    old_es = seed["ExternalSecret"]  # kubernetes-client.io/v1: retired; its current form is ESO's
    es = written["ExternalSecret_myapp_my-secret.yaml"]
    store = written[f"SecretStore_myapp_{es['spec']['secretStoreRef']['name']}.yaml"]
    assert es["apiVersion"] == "external-secrets.io/v1" and es["metadata"]["name"] == old_es["metadata"]["name"]
    (old_item,) = old_es["spec"]["data"]
    (item,) = es["spec"]["data"]
    vault = store["spec"]["provider"]["vault"]
    # secret/data/myapp = mount "secret" (KV v2) + key "myapp"
    assert f"{vault['path']}/data/{item['remoteRef']['key']}" == old_item["key"] and vault["version"] == "v2"
    assert item["remoteRef"]["property"] == old_item["property"] and item["secretKey"] == old_item["name"]
    assert vault["auth"]["kubernetes"]["mountPath"] == old_es["spec"]["vaultMountPoint"]
    assert vault["auth"]["kubernetes"]["role"] == old_es["spec"]["vaultRole"]
    assert es["spec"]["target"] == {"name": "my-secret", "creationPolicy": "Owner"}
    for obj in (es, store):
        validate_custom_resource(obj)


def test_legacy_stack_emits_the_seeds_kubernetes_client_object_and_no_eso(tmp_path: Path) -> None:
    require_reference()
    config, _ = load_stack_config(STACKS["dev"])
    config["secrets-platform:delivery"] = {"externalSecrets": {"legacy": "kubernetes-external-secrets"}}
    capture = plan(config)
    legacy = [o for o in kubernetes_objects(capture) if o["apiVersion"] == "kubernetes-client.io/v1"]
    assert len(legacy) == 1
    validate_custom_resource(legacy[0])
    old = seed_examples()["ExternalSecret"]
    assert legacy[0]["spec"] == old["spec"] and legacy[0]["metadata"]["name"] == old["metadata"]["name"]
    assert "external-secrets" not in {r.inputs.get("chart") for r in capture.resources}
    assert not [o for o in kubernetes_objects(capture) if o["apiVersion"] == "external-secrets.io/v1"]


def test_a_cluster_secret_store_only_when_asked_and_always_limited_to_namespaces() -> None:
    require_reference()
    config, _ = load_stack_config(STACKS["dev"])
    config["secrets-platform:workloads"][0]["clusterStoreNamespaces"] = ["team-a", "team-b"]
    with pytest.raises(ValueError, match=r"^workloads\[0\]\.clusterStoreNamespaces: .*clusterWide"):
        plan(config)
    config["secrets-platform:delivery"] = {"externalSecrets": {"clusterWide": True}}
    stores = [o for o in kubernetes_objects(plan(config)) if o["kind"] == "ClusterSecretStore"]
    assert len(stores) == 1
    assert stores[0]["spec"]["conditions"] == [{"namespaces": ["team-a", "team-b"]}]
    assert stores[0]["spec"]["provider"]["vault"]["auth"]["kubernetes"]["serviceAccountRef"]["namespace"] == "myapp"
    validate_custom_resource(stores[0])
    assert not [o for o in kubernetes_objects(capture_of("dev")) if o["kind"] == "ClusterSecretStore"]


def test_the_dev_stacks_workloads_through_the_vault_secrets_operator_validate_strictly() -> None:
    """The dev stack with every secret delivered by the Vault Secrets Operator: its objects against the VSO CRDs
    (unknown fields fatal), one connection, auth and static secret per workload, its CA Secret as a core object."""
    require_reference()
    config, secret_keys = load_stack_config(STACKS["dev"])
    for workload in config["secrets-platform:workloads"]:
        for secret in workload["secrets"]:
            secret["delivery"] = "vault-secrets-operator"
    objects = kubernetes_objects(plan(config, stack="dev", secret_keys=secret_keys))
    vso = [o for o in objects if o["apiVersion"] == "secrets.hashicorp.com/v1beta1"]
    assert sorted((o["kind"], o["metadata"]["name"]) for o in vso) == [
        ("VaultAuth", "db-client-vault"),
        ("VaultAuth", "myapp-vault"),
        ("VaultConnection", "db-client-vault"),
        ("VaultConnection", "myapp-vault"),
        ("VaultStaticSecret", "db-client"),
        ("VaultStaticSecret", "my-secret"),
    ]
    for obj in vso:
        validate_custom_resource(obj)
    cas = [o for o in objects if o["kind"] == "Secret"]
    assert {o["metadata"]["name"] for o in cas} == {"myapp-vault-ca", "db-client-vault-ca"}
    for obj in cas:
        validate_core_object(obj)
    assert not [o for o in objects if o["apiVersion"].startswith(("external-secrets.io", "secrets-store.csi"))]
