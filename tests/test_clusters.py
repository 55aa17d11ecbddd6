"""Several clusters against one Vault (examples/Pulumi.clusters.yaml): each cluster a trust domain of its own.

The edge places every workload in a cluster and keeps identities apart per cluster; the platform gives each
cluster its auth mount, puts each workload's role on its cluster's mount and sends each cluster's objects to
its own Kubernetes provider; the plan shows the cluster of every grant, and moving a grant to another
cluster widens access. (tests/engine/test_clusters.py logs in for real through two issuers.)
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.spec import from_config, validate_platform
from components.validation import SpecError
from planner.access import workload_access
from planner.diff import diff_plans
from planner.engine import Capture
from planner.plan import build_plan, plan_document
from planner.stack_file import load_stack_config
from tests.conftest import PROJECT_ROOT, dev_config, grants, plan

CLUSTERS_STACK = PROJECT_ROOT / "examples" / "Pulumi.clusters.yaml"
SECRET_KEYS = ("secrets-platform:databases",)
K8S_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
JWT_ROLE = "vault:jwt/authBackendRole:AuthBackendRole"
PROVIDER = "pulumi:providers:kubernetes"


def clusters_config() -> dict[str, Any]:
    config, _ = load_stack_config(CLUSTERS_STACK)
    return copy.deepcopy(config)


def platform_args(config: dict[str, Any]) -> dict[str, Any]:
    namespaced = {k.partition(":")[2]: v for k, v in config.items() if k.startswith("secrets-platform:")}
    return from_config(namespaced, ["databases"])


def validated(config: dict[str, Any]) -> Any:
    return validate_platform(platform_args(config))


@pytest.fixture(scope="module")
def capture() -> Capture:
    return plan(clusters_config(), stack="clusters", secret_keys=SECRET_KEYS)


def workloads(config: dict[str, Any]) -> list[dict[str, Any]]:
    return list(config["secrets-platform:workloads"])


# --- the edge ----------------------------------------------------------------------------------------------


def test_each_listed_cluster_gets_its_own_mount_and_every_workload_a_cluster() -> None:
    spec = validated(clusters_config())
    assert [(c.name, c.auth_mount, c.kubeconfig_context) for c in spec.clusters] == [
        ("east", "kubernetes-east", "east"),
        ("west", "jwt-west", "west"),
    ]
    assert {w.name: w.cluster for w in spec.workloads} == {"orders": "east", "orders-west": "west", "billing": "west"}


def test_the_single_cluster_key_is_a_list_of_one_with_the_names_stacks_already_have() -> None:
    spec = validated(dev_config())
    (cluster,) = spec.clusters
    assert (cluster.auth_mount, cluster.resource_name("platform-auth")) == ("kubernetes", "platform-auth")
    assert {w.cluster for w in spec.workloads} == {"dev"}


def test_the_same_service_account_and_role_are_two_identities_in_two_clusters_and_one_conflict_in_one() -> None:
    config = clusters_config()
    validated(config)  # orders (east) and orders-west (west): shop/orders with role orders in both
    workloads(config)[1]["cluster"] = "east"
    with pytest.raises(
        SpecError, match=r"workloads\[1\]\.role: 'orders' is not allowed: .*workloads\[0\] in cluster east"
    ):
        validated(config)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: workloads(c)[0].pop("cluster"), r"workloads\[0\]\.cluster: is required: one of east, west"),
        (lambda c: workloads(c)[0].update(cluster="north"), r"workloads\[0\]\.cluster: 'north' is not allowed"),
        (
            lambda c: c.update({"secrets-platform:cluster": c["secrets-platform:clusters"][0]}),
            r"clusters: .* either cluster or clusters, not both",
        ),
        (
            lambda c: c["secrets-platform:clusters"][1].update(name="east"),
            r"clusters\[1\]\.name: 'east' is not allowed: a value not already used by clusters\[0\]",
        ),
        (
            lambda c: c["secrets-platform:clusters"][1].update(authMethod="kubernetes", authMount="kubernetes-east"),
            r"clusters\[1\]\.authMount: 'kubernetes-east' is not allowed",
        ),
        (lambda c: c["secrets-platform:clusters"][0].update(kubeconfigContext="my context"), r"kubeconfigContext"),
        (lambda c: c.pop("secrets-platform:clusters"), r"^cluster: is required"),
    ],
)
def test_a_bad_cluster_entry_is_refused_naming_the_field(mutate: Any, message: str) -> None:
    config = clusters_config()
    mutate(config)
    with pytest.raises(SpecError, match=message):
        validated(config)


def test_a_workload_naming_another_cluster_than_the_only_one_is_refused() -> None:
    config = dev_config()
    workloads(config)[0]["cluster"] = "prod"
    with pytest.raises(SpecError, match=r"workloads\[0\]\.cluster: 'prod' is not allowed: one of dev"):
        validated(config)


# --- what the platform registers ---------------------------------------------------------------------------


def test_each_cluster_has_its_auth_mount_and_each_role_lives_on_its_clusters_mount(capture: Capture) -> None:
    mounts = {r.plain_inputs["path"] for r in capture.of_type("vault:index/authBackend:AuthBackend")}
    mounts |= {r.plain_inputs["path"] for r in capture.of_type("vault:jwt/authBackend:AuthBackend")}
    assert mounts == {"kubernetes-east", "jwt-west"}
    roles = {
        (r.type, r.plain_inputs["backend"], r.plain_inputs["roleName"])
        for r in capture.resources
        if r.type in (K8S_ROLE, JWT_ROLE)
    }
    assert {(K8S_ROLE, "kubernetes-east", "orders"), (JWT_ROLE, "jwt-west", "orders")} <= roles
    east = next(r for r in capture.of_type(K8S_ROLE) if r.plain_inputs["roleName"] == "orders").plain_inputs
    west = next(r for r in capture.of_type(JWT_ROLE) if r.plain_inputs["roleName"] == "orders").plain_inputs
    # One service account's names, two identities: each role grants only its own workload's policy.
    assert east["tokenPolicies"] == ["workload-shop-orders"]
    assert west["tokenPolicies"] == ["workload-shop-orders-west"]
    assert west["boundSubject"] == "system:serviceaccount:shop:orders"
    policies = {
        r.plain_inputs["name"]: grants(r.plain_inputs["policy"]) for r in capture.of_type("vault:index/policy:Policy")
    }
    # orders reads a dynamic credential through the Vault Secrets Operator, which revokes its leases on delete:
    # update on sys/leases/revoke for leases of that role only (orders-west's static credential has no lease).
    assert policies["workload-shop-orders"] == {
        "apps/data/shop/orders": ("read",),
        "database/creds/orders-read": ("read",),
        "sys/leases/revoke": ("update",),
    }
    (document,) = [r.plain_inputs["policy"] for r in capture.of_type("vault:index/policy:Policy")
                   if r.plain_inputs["name"] == "workload-shop-orders"]  # fmt: skip
    assert '"lease_id" = ["database/creds/orders-read/*"]' in document
    assert set(policies["workload-shop-orders-west"]) == {
        "apps/data/shop/orders",
        "database/static-creds/orders-reporting",
    }


def test_each_clusters_objects_go_to_the_provider_of_its_kubeconfig_context(capture: Capture) -> None:
    providers = {r.plain_inputs.get("context"): r.urn for r in capture.of_type(PROVIDER)}
    assert set(providers) == {"east", "west"}

    def context_of(resource: Any) -> str:
        (context,) = [c for c, urn in providers.items() if (resource.provider or "").startswith(f"{urn}::")]
        return context

    objects = [r for r in capture.resources if r.type.startswith("kubernetes:") and r.type != PROVIDER]
    custom = [r for r in objects if r.custom]
    assert len(custom) > 10
    for r in custom:  # every Kubernetes object, chart installs' included, goes to one of the two clusters
        context_of(r)
    # The workloads' objects (named <platform>-<cluster>-<kind>-...) go to their own cluster's context.
    delivered = [r for r in custom if r.name.startswith(("platform-east-", "platform-west-"))]
    assert {r.type for r in delivered} >= {
        "kubernetes:external-secrets.io/v1:ExternalSecret",
        "kubernetes:secrets.hashicorp.com/v1beta1:VaultDynamicSecret",
        "kubernetes:secrets.hashicorp.com/v1beta1:VaultStaticSecret",
        "kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass",
    }
    for r in delivered:
        assert context_of(r) == r.name.split("-")[1], r.name


def test_operators_are_installed_only_in_the_clusters_whose_workloads_use_them(capture: Capture) -> None:
    components = {r.name for r in capture.resources if not r.custom}
    assert "platform-east-external-secrets" in components  # orders (east) uses External Secrets
    assert "platform-west-external-secrets" not in components
    assert {"platform-east-vault-secrets-operator", "platform-west-vault-secrets-operator"} <= components
    assert {"platform-west-csi", "platform-west-agent-injector"} <= components
    assert not {"platform-east-csi", "platform-east-agent-injector"} & components


# --- the plan ----------------------------------------------------------------------------------------------


def test_the_access_listing_shows_the_cluster_of_every_grant(capture: Capture) -> None:
    views = {v.name: v for v in workload_access(capture)}
    assert {n: (v.cluster, v.authMount) for n, v in views.items()} == {
        "orders": ("east", "kubernetes-east"),
        "orders-west": ("west", "jwt-west"),
        "billing": ("west", "jwt-west"),
    }


def test_a_grant_moving_to_another_cluster_widens_access(tmp_path: Path) -> None:
    def planned(config: dict[str, Any], name: str) -> dict[str, Any]:
        path = tmp_path / f"Pulumi.{name}.yaml"
        path.write_text(yaml.safe_dump({"config": config}))
        return plan_document(build_plan(path, policy=False))

    written = yaml.safe_load(CLUSTERS_STACK.read_text())["config"]  # `secure:` values as written
    base = planned(written, "base")
    config = copy.deepcopy(written)
    workloads(config)[2]["cluster"] = "east"  # billing moves from west to east: other tokens get its grants
    head = planned(config, "head")
    assert {w["name"]: w["cluster"] for w in head["workloads"]}["billing"] == "east"
    diff = diff_plans(base, head)
    assert diff["widened"]
    assert any(r.startswith("billing: cluster west -> east") for r in diff["reasons"]), diff["reasons"]
    assert diff_plans(base, base)["widened"] is False


def test_out_writes_each_clusters_objects_and_chart_values_into_a_folder_of_its_own(tmp_path: Path) -> None:
    from planner.__main__ import main

    assert main(["--config-file", str(CLUSTERS_STACK), "--out", str(tmp_path), "--format", "json"]) == 0
    written = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    # Both clusters install the Vault Secrets Operator into a namespace of the same name: two files, not one.
    assert {
        "kubernetes/east/Namespace_vault-secrets-operator-system.yaml",
        "kubernetes/west/Namespace_vault-secrets-operator-system.yaml",
        "kubernetes/east/VaultDynamicSecret_shop_orders-orders-db.yaml",
        "kubernetes/west/VaultStaticSecret_shop_orders-west.yaml",
        "charts/east/platform-east-vault-secrets-operator-chart.values.yaml",
        "charts/west/platform-west-csi-driver.values.yaml",
    } <= written
    assert not [p for p in written if p.count("/") == 1 and not p.startswith("policies/")]


def test_several_clusters_with_objects_and_no_context_are_refused_before_anything_is_registered() -> None:
    """The stack's default provider would put both clusters' objects into one cluster."""
    config = clusters_config()
    del config["secrets-platform:clusters"][1]["kubeconfigContext"]
    with pytest.raises(SpecError, match=r"clusters\[1\]\.kubeconfigContext: is required: the kubeconfig context"):
        plan(config, stack="clusters", secret_keys=SECRET_KEYS)
    # Rendering instead gives each cluster a directory (and a provider) of its own.
    config["secrets-platform:renderYamlToDirectory"] = "rendered"
    rendered = plan(config, stack="clusters", secret_keys=SECRET_KEYS)
    providers = {r.name: r.plain_inputs for r in rendered.of_type(PROVIDER)}
    assert providers["render-west"]["renderYamlToDirectory"] == "rendered/west"
    assert providers["render-east"]["renderYamlToDirectory"] == "rendered/east"
    # A cluster the stack puts nothing in needs no context (tests/engine/test_clusters.py: Vault-side only).
    config = clusters_config()
    for cluster in config["secrets-platform:clusters"]:
        del cluster["kubeconfigContext"]
    for workload in workloads(config):
        for entry in (*workload["secrets"], *workload.get("databaseCredentials", [])):
            entry["delivery"] = "none"
    assert not plan(config, stack="clusters", secret_keys=SECRET_KEYS).of_type(PROVIDER)
