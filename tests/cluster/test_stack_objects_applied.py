"""Every Kubernetes object the stack declares, created for real: the API server's validation, not a schema copy.

The operators' CRDs from ../shared/reference are applied first (as their charts would install them); every
request uses server-side apply with ``fieldValidation=Strict``, so an unknown field is an error, not pruned.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from sandbox.engine import PulumiCli
from sandbox.servers import OpenBaoServer, PostgresServer
from tests.cluster.kube import ApiException, Cluster, api_error
from tests.cluster.stack import (
    ALLOW_REVIEWER_TOKEN,
    DEV_STACK,
    FULL_POLICY_CONFIG,
    FULL_STACK,
    apply_stack_objects,
    cluster_stack,
    crd_documents,
    deploy,
    ensure_crds,
    full_stack,
    rendered_objects,
    stack_config,
)
from tests.live.postgres import require_postgres

VAULT = "https://vault.test.invalid:8200"


def test_the_reference_crds_are_established(cluster: Cluster) -> None:
    ensure_crds(cluster)
    for crd in crd_documents():
        served = cluster.apiext.read_custom_resource_definition(crd["metadata"]["name"])
        conditions = {c.type: c.status for c in served.status.conditions}
        assert conditions.get("Established") == "True", crd["metadata"]["name"]
    kinds = {c["spec"]["names"]["kind"] for c in crd_documents()}
    assert {"ExternalSecret", "SecretStore", "SecretProviderClass", "VaultDynamicSecret"} <= kinds


def stored(cluster: Cluster, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    return cluster.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))


def assert_all_stored(cluster: Cluster, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        server = stored(cluster, obj)
        for key in ("spec", "roleRef", "subjects", "type", "automountServiceAccountToken"):
            if key in obj:
                assert server[key] == obj[key] or _subset(obj[key], server[key]), (obj["kind"], key)


def _subset(mine: Any, theirs: Any) -> bool:
    """Everything the stack set is stored as it set it (the server may add defaults)."""
    if isinstance(mine, dict):
        return isinstance(theirs, dict) and all(k in theirs and _subset(v, theirs[k]) for k, v in mine.items())
    if isinstance(mine, list):
        return isinstance(theirs, list) and len(mine) == len(theirs) and all(map(_subset, mine, theirs))
    return bool(mine == theirs)


def test_the_dev_stacks_objects_are_accepted(cluster: Cluster, namespace: str) -> None:
    config = cluster_stack(stack_config(DEV_STACK), cluster, VAULT, namespace)
    deployment = apply_stack_objects(cluster, config)
    kinds = sorted(o["kind"] for o in deployment.objects)
    assert kinds == [  # vault-pod-token: no per-workload auth-delegator bindings
        "ExternalSecret",
        "Namespace",
        "SecretProviderClass",
        "SecretStore",
    ]
    assert_all_stored(cluster, deployment.objects)


def test_the_full_examples_objects_are_accepted(cluster: Cluster, namespace: str) -> None:
    config = cluster_stack(stack_config(FULL_STACK), cluster, VAULT, namespace)
    deployment = apply_stack_objects(cluster, config, FULL_POLICY_CONFIG)
    kinds = {o["kind"] for o in deployment.objects}
    assert {"ExternalSecret", "SecretStore", "SecretProviderClass", "VaultDynamicSecret", "ServiceAccount"} <= kinds
    assert_all_stored(cluster, deployment.objects)


@pytest.mark.parametrize(
    ("kind", "path", "field", "misspelt"),
    [
        ("ExternalSecret", ("spec",), "refreshInterval", "refreshIntervall"),
        ("SecretStore", ("spec", "provider", "vault", "auth", "kubernetes"), "mountPath", "mountpath"),
        ("SecretProviderClass", ("spec",), "parameters", "paramters"),
    ],
)
def test_a_misspelt_field_is_rejected_by_the_crd_schema(
    cluster: Cluster, namespace: str, kind: str, path: tuple[str, ...], field: str, misspelt: str
) -> None:
    ensure_crds(cluster)
    config = cluster_stack(stack_config(DEV_STACK), cluster, VAULT, namespace)
    for ns in {w["namespace"] for w in config["workloads"]}:
        cluster.namespace(ns)
    (obj,) = [o for o in rendered_objects(config) if o["kind"] == kind]
    bad = copy.deepcopy(obj)
    node = bad
    for key in path:
        node = node[key]
    node[misspelt] = node.pop(field)
    ns = bad["metadata"]["namespace"]
    with pytest.raises(ApiException) as refused:
        cluster.create(bad, namespace=ns, field_validation="Strict")
    assert refused.value.status == 400, refused.value.body  # BadRequest: "strict decoding error"
    message = api_error(refused.value)["message"]
    assert f'unknown field "{".".join((*path, misspelt))}"' in message, message
    # Server-side apply (how the stack's objects are applied here) refuses it too: not in the CRD's schema.
    with pytest.raises(ApiException) as applied:
        cluster.apply(bad, namespace=ns)
    assert "field not declared in schema" in api_error(applied.value)["message"]
    # Without strict validation the server prunes the typo silently (the field falls back to the CRD's default,
    # e.g. an ExternalSecret refreshes hourly instead of every 300 s): what Strict is there to catch.
    pruned = cluster.create(bad, namespace=ns, field_validation="Ignore")
    node = pruned
    for key in path:
        node = node[key]
    assert misspelt not in node
    if kind == "ExternalSecret":
        assert node[field] == "1h0m0s" != obj["spec"]["refreshInterval"]
    cluster.delete(bad)
    # The object as the stack renders it is accepted.
    cluster.apply(obj, namespace=ns)
    assert _subset(obj["spec"], stored(cluster, obj)["spec"])


def test_up_of_the_full_example_then_no_changes_then_destroy_removes_every_object(
    cluster_cli: PulumiCli, cluster: Cluster, cluster_bao: OpenBaoServer, namespace: str
) -> None:
    """`pulumi up` of examples/Pulumi.full.yaml through the real kubernetes provider: every object it declares is
    stored; a second preview has nothing to do; `destroy` removes every object it created."""
    with PostgresServer(require_postgres(), tls=True) as pg:
        config = full_stack(cluster, cluster_bao, namespace, pg, reviewer="reviewer-service-account")
        policy = {**json.loads(FULL_POLICY_CONFIG.read_text()), **ALLOW_REVIEWER_TOKEN}
        deployment = deploy(cluster_cli, cluster, cluster_bao, config, policy)
        assert {"ExternalSecret", "SecretStore", "SecretProviderClass", "VaultDynamicSecret", "ServiceAccount"} <= {
            o["kind"] for o in deployment.objects
        }
        assert_all_stored(cluster, deployment.objects)
        (stack,) = cluster_cli.stacks
        stack.preview("--expect-no-changes")
        stack.destroy()
        for obj in deployment.objects:
            with pytest.raises(ApiException) as gone:
                stored(cluster, obj)
            assert gone.value.status == 404, obj["metadata"]


def test_the_full_examples_workloads_through_the_vault_secrets_operator_are_accepted(
    cluster: Cluster, namespace: str
) -> None:
    """Every delivery of the full example switched to the Vault Secrets Operator: its connections, auths, static
    and dynamic secrets created with strict field validation against the VSO CRDs. (Vault's CA Secret is written
    masked by the offline plan, as every Secret's data is; the schema tier validates it as a core object.)"""
    config = cluster_stack(stack_config(FULL_STACK), cluster, VAULT, namespace)
    for workload in config["workloads"]:
        for entry in (*workload["secrets"], *workload.get("databaseCredentials", [])):
            entry["delivery"] = "vault-secrets-operator"
        workload["deployment"] = workload["name"]
    ensure_crds(cluster)
    for ns in {w["namespace"] for w in config["workloads"]}:
        cluster.namespace(ns)
    objects = rendered_objects(config, FULL_POLICY_CONFIG)
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "Secret"} >= {"orders-vault-ca", "billing-vault-ca"}
    assert not [o for o in objects if o["apiVersion"].startswith("external-secrets.io")]
    vso = [o for o in objects if o["apiVersion"] == "secrets.hashicorp.com/v1beta1"]
    assert {o["kind"] for o in vso} == {"VaultConnection", "VaultAuth", "VaultStaticSecret", "VaultDynamicSecret"}
    for obj in vso:
        cluster.apply(obj, namespace=obj["metadata"]["namespace"])
    assert_all_stored(cluster, vso)
    dynamic = next(o for o in vso if o["kind"] == "VaultDynamicSecret")
    bad = copy.deepcopy(dynamic)
    bad["metadata"]["name"] += "-misspelt"
    bad["spec"]["renewalPercentt"] = bad["spec"].pop("renewalPercent")
    with pytest.raises(ApiException) as refused:
        cluster.create(bad, namespace=bad["metadata"]["namespace"], field_validation="Strict")
    assert 'unknown field "spec.renewalPercentt"' in api_error(refused.value)["message"]
