"""What the stack creates in the cluster tests, through the real engine.

- ``cluster_stack(...)`` points a stack's config at this test's cluster and OpenBao, with every workload
  namespace prefixed by the test's namespace (one session cluster, isolated tests).
- ``deploy(cli, cluster, bao, config)``: `pulumi up` of that config with the toolchain's engine, the vault
  provider against the test's OpenBao and the kubernetes provider against the cluster; returns the objects
  the engine applied and the stack's outputs.
- ``rendered_objects(config)``: the Kubernetes objects as the offline planner renders them (``--out``), for
  the tests that hold the planner's files to the server's validation.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from planner.__main__ import main as planner_main
from planner.engine import PROJECT_ROOT
from planner.stack_file import load_stack_config
from sandbox import stacks
from sandbox.engine import PulumiCli
from sandbox.servers import OpenBaoServer, PostgresServer
from tests.cluster.kube import Cluster

__all__ = [
    "ALLOW_REVIEWER_TOKEN",
    "Deployment",
    "apply_stack_objects",
    "cluster_stack",
    "deploy",
    "ensure_crds",
    "full_stack",
    "rendered_objects",
    "stack_config",
]

PREFIX = "secrets-platform:"
DEV_STACK = PROJECT_ROOT / "Pulumi.dev.yaml"
FULL_STACK = PROJECT_ROOT / "examples" / "Pulumi.full.yaml"
FULL_POLICY_CONFIG = PROJECT_ROOT / "examples" / "Pulumi.full.policy.json"
CRD_DIR = PROJECT_ROOT.parent / "shared" / "reference" / "crds"


def stack_config(path: Path) -> dict[str, Any]:
    """A stack file's project config, keys without the ``secrets-platform:`` prefix."""
    config, _ = load_stack_config(path)
    return {k.removeprefix(PREFIX): copy.deepcopy(v) for k, v in config.items() if k.startswith(PREFIX)}


def cluster_stack(
    base: Mapping[str, Any],
    cluster: Cluster,
    vault_address: str,
    prefix: str,
    *,
    vault_ca: str | None = None,
    **cluster_overrides: Any,
) -> dict[str, Any]:
    """``base`` aimed at this cluster and this OpenBao, each workload namespace ``N`` renamed ``<prefix>-N``."""
    config = copy.deepcopy(dict(base))
    config["vault"] = {"address": vault_address, "caCert": vault_ca or config["vault"].get("caCert")}
    spec_cluster = dict(config["cluster"])
    spec_cluster.update(apiHost=cluster.server, caCert=cluster.ca_pem)
    spec_cluster.update(cluster_overrides)
    if spec_cluster.get("authMethod") == "jwt":
        spec_cluster.setdefault("issuer", cluster.issuer)
    config["cluster"] = spec_cluster
    for workload in config["workloads"]:
        workload["namespace"] = f"{prefix}-{workload['namespace']}"
        workload["clusterStoreNamespaces"] = [f"{prefix}-{n}" for n in workload.get("clusterStoreNamespaces", [])]
        if not workload["clusterStoreNamespaces"]:
            del workload["clusterStoreNamespaces"]
    return config


def dev_with_reviewer(cluster: Cluster, bao: OpenBaoServer, prefix: str) -> dict[str, Any]:
    """The dev stack aimed here with the reviewer ServiceAccount (OpenBao runs outside the cluster)."""
    return cluster_stack(
        stack_config(DEV_STACK), cluster, bao.address, prefix, vault_ca=bao.ca_pem, reviewer="reviewer-service-account"
    )


PolicyConfig = Path | Mapping[str, Any] | None
# A `secure:` value as a stack file holds one (the planner never decrypts it; examples/Pulumi.full.yaml has it).
SECURE_PLACEHOLDER = "v1:cGxhY2Vob2xkZXItY2lwaGVydGV4dA=="
# reviewer-service-account mode is refused by the pack unless the stack's policy config allows it.
ALLOW_REVIEWER_TOKEN = {"vault-auth-no-long-lived-reviewer-token": {"allowLongLivedReviewerToken": True}}


def _run_planner(config: Mapping[str, Any], policy_config: PolicyConfig, tmp: Path, *extra: str) -> str:
    """``python -m planner --config-file <config> [--policy-config ...] EXTRA`` through the CLI's entry point,
    in-process (no second interpreter start); its stdout."""
    stack = tmp / "Pulumi.cluster-test.yaml"
    planned = copy.deepcopy(dict(config))
    for database in planned.get("databases", []):
        database["password"] = {"secure": SECURE_PLACEHOLDER}  # a stack file holds it encrypted
    stack.write_text(yaml.safe_dump({"config": {PREFIX + k: v for k, v in planned.items()}}))
    argv = ["--config-file", str(stack), *extra]
    if isinstance(policy_config, Mapping):
        (tmp / "policy.json").write_text(json.dumps(policy_config))
        policy_config = tmp / "policy.json"
    if policy_config is not None:
        argv += ["--policy-config", str(policy_config)]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = planner_main(argv)
    if code != 0:
        raise AssertionError(f"planner exited {code}:\n{out.getvalue()[-3000:]}\n{err.getvalue()[-3000:]}")
    return out.getvalue()


def full_stack(
    cluster: Cluster, bao: OpenBaoServer, prefix: str, pg: PostgresServer, **cluster_overrides: Any
) -> dict[str, Any]:
    """``examples/Pulumi.full.yaml`` aimed at this cluster, this OpenBao and a live PostgreSQL (admin login kept:
    no rotateRoot, so a test can look at the users Vault creates). Creates the static role's user."""
    pg.query("CREATE ROLE reporting WITH LOGIN PASSWORD 'initial-reporting-password'")
    base = stack_config(FULL_STACK)
    (database,) = base["databases"]
    database.update(connectionUrl=pg.connection_url, username="postgres", password=pg.admin_password)
    database["rotateRoot"] = False
    return cluster_stack(base, cluster, bao.address, prefix, vault_ca=bao.ca_pem, **cluster_overrides)


def rendered_objects(config: Mapping[str, Any], policy_config: PolicyConfig = None) -> list[dict[str, Any]]:
    """The stack's Kubernetes objects as the offline planner writes them (``--out DIR``)."""
    with tempfile.TemporaryDirectory(prefix="vaultk8s-plan-") as tmp:
        _run_planner(config, policy_config, Path(tmp), "--out", str(Path(tmp) / "out"))
        files = sorted((Path(tmp) / "out" / "kubernetes").glob("*.yaml"))
        return [yaml.safe_load(f.read_text()) for f in files]


def crd_documents() -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted(CRD_DIR.glob("*.yaml"))]


@dataclass
class Deployment:
    """What ``deploy`` created: the stack's config, the Kubernetes objects the engine applied (as stored in its
    state), the stack's outputs, and the namespaces made for the teams' workloads."""

    config: dict[str, Any]
    objects: list[dict[str, Any]]
    outputs: dict[str, Any] = field(default_factory=dict)
    namespaces: list[str] = field(default_factory=list)

    def objects_of(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]


def workload_namespaces(config: Mapping[str, Any]) -> list[str]:
    """The workloads' namespaces and service accounts are the teams' (the stack creates neither by default)."""
    return sorted({w["namespace"] for w in config["workloads"]})


def prepare_workloads(cluster: Cluster, config: Mapping[str, Any]) -> list[str]:
    """Create the namespaces and ServiceAccounts the teams would own (those the stack does not create)."""
    namespaces = workload_namespaces(config)
    for ns in namespaces:
        cluster.namespace(ns)
    for workload in config["workloads"]:
        if not workload.get("createServiceAccount", False):
            cluster.service_account(workload["namespace"], workload["serviceAccount"])
    return namespaces


def apply_stack_objects(cluster: Cluster, config: Mapping[str, Any], policy_config: PolicyConfig = None) -> Deployment:
    """The stack's Kubernetes objects as the offline planner renders them, created in the cluster: the server
    accepts every one (the engine tier's `deploy` applies the same objects through the real provider)."""
    ensure_crds(cluster)
    namespaces = prepare_workloads(cluster, config)
    objects = rendered_objects(config, policy_config)
    for obj in sorted(objects, key=_apply_order):
        cluster.apply(obj, namespace=obj["metadata"].get("namespace"))
    return Deployment(dict(config), objects, namespaces=namespaces)


# The operators run outside the stack here (the cluster tests start them): the stack registers only the
# per-workload objects, after the CRDs the operators' charts would bring.
OPERATORS_INSTALLED_ELSEWHERE = {op: {"install": False} for op in ("externalSecrets", "csi", "agentInjector")}


def deploy(
    cli: PulumiCli,
    cluster: Cluster,
    bao: OpenBaoServer,
    config: Mapping[str, Any],
    policy_config: PolicyConfig = None,
) -> Deployment:
    """`pulumi up` of ``config`` with the real engine: the vault provider against ``bao``, the kubernetes
    provider against the cluster (its kubeconfig). The teams' namespaces and ServiceAccounts and the CRDs
    come first, as they would on a platform; the policy pack (with ``policy_config``) must pass first."""
    ensure_crds(cluster)
    namespaces = prepare_workloads(cluster, config)
    rendered_objects(config, policy_config)  # the offline plan, whose pack run must pass, as a pipeline's would
    delivery = {**OPERATORS_INSTALLED_ELSEWHERE}
    for operator, settings in dict(config.get("delivery", {})).items():
        delivery[operator] = {**settings, "install": False}
    stack_file = {PREFIX + k: copy.deepcopy(v) for k, v in config.items()}
    stack_file[PREFIX + "delivery"] = delivery
    stack_file["vault:address"] = bao.address
    stack_file = stacks.on_openbao(stack_file, bao.declared_audit_devices)
    database_passwords = [db.pop("password") for db in stack_file.get(PREFIX + "databases", [])]
    stack = cli.stack(f"cluster-{len(cli.stacks)}", stack_file)
    for i, password in enumerate(database_passwords):
        stack.set_secret(f"{PREFIX}databases[{i}].password", password, path=True)
    stack.up()  # the CLI carries both servers' credentials (tests/cluster/fixtures.py: cluster_cli)
    objects = [declared(r["outputs"]) for r in stack.resources() if "kind" in r.get("outputs", {})]
    return Deployment(dict(config), objects, stack.outputs(), namespaces)


def declared(stored: Mapping[str, Any]) -> dict[str, Any]:
    """An object as the engine's state holds it, without what the server added (uid, managedFields, status)."""
    metadata = {k: v for k, v in stored["metadata"].items() if k in ("name", "namespace", "labels", "annotations")}
    body = {k: v for k, v in stored.items() if not k.startswith("__") and k not in ("id", "urn", "status", "metadata")}
    return {**body, "metadata": metadata}


_CRDS_APPLIED: set[str] = set()


def ensure_crds(cluster: Cluster) -> None:
    """The reference CRDs (the operators' charts install them; here, once per cluster)."""
    if cluster.server not in _CRDS_APPLIED:
        cluster.apply_crds(crd_documents())
        _CRDS_APPLIED.add(cluster.server)


def _apply_order(obj: Mapping[str, Any]) -> int:
    return {"Namespace": 0, "ServiceAccount": 1, "Secret": 2}.get(str(obj["kind"]), 3)
