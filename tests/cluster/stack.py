"""What the stack creates, for the cluster tests: one place to get it, so the engine can take its place.

- ``cluster_stack(...)`` points a stack's config at this test's cluster and OpenBao, with every workload
  namespace prefixed by the test's namespace (one session cluster, isolated tests).
- ``rendered_objects(config)``: the Kubernetes objects the stack declares, as ``python -m planner --out``
  renders them (the CLI's entry point, called in-process).
- ``stack_outputs(config)``: the stack's outputs (``podAnnotations``, ``podVolumes``) from the planner's JSON.
- ``deploy(cluster, bao, config)``: what ``pulumi up`` would do to both servers: apply those objects to the
  API server, then configure OpenBao (auth mount, policies, roles, database engines) through hvac from the
  components' own pure builders.

Swap points for the engine tier (issue 9): ``deploy`` becomes ``pulumi up`` of the same config (and returns
what the engine created), ``stack_outputs`` becomes ``pulumi stack output --json``; the tests stay as they are.
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

import hvac
import yaml

from components.args import AuthMethod, ReviewerMode
from components.database_secrets import connection_inputs, static_role_inputs
from components.database_secrets import role_inputs as database_role_inputs
from components.spec import from_config, validate_platform
from components.vault_auth import (
    REVIEWER_NAME,
    jwt_auth_inputs,
    jwt_role_inputs,
    kubernetes_auth_config,
    kubernetes_role_inputs,
    reviewer_token,
)
from components.workload_access import workload_policy
from planner.__main__ import main as planner_main
from planner.engine import PROJECT_ROOT
from planner.stack_file import load_stack_config
from tests.cluster.kube import Cluster, wait_until
from tests.cluster.openbao_tls import TlsOpenBaoDevServer
from tests.live.openbao import OpenBaoDevServer
from tests.live.postgres import PostgresServer

__all__ = [
    "ALLOW_REVIEWER_TOKEN",
    "Deployment",
    "apply_stack_objects",
    "cluster_stack",
    "deploy",
    "ensure_crds",
    "full_stack",
    "hvac_client",
    "rendered_objects",
    "stack_config",
    "stack_outputs",
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


PolicyConfig = Path | Mapping[str, Any] | None
# reviewer-service-account mode is refused by the pack unless the stack's policy config allows it.
ALLOW_REVIEWER_TOKEN = {"vault-auth-no-long-lived-reviewer-token": {"allowLongLivedReviewerToken": True}}


def _run_planner(config: Mapping[str, Any], policy_config: PolicyConfig, tmp: Path, *extra: str) -> str:
    """``python -m planner --config-file <config> [--policy-config ...] EXTRA`` through the CLI's entry point,
    in-process (no second interpreter start); its stdout."""
    stack = tmp / "Pulumi.cluster-test.yaml"
    stack.write_text(yaml.safe_dump({"config": {PREFIX + k: v for k, v in config.items()}}))
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
    cluster: Cluster, bao: TlsOpenBaoDevServer, prefix: str, pg: PostgresServer, **cluster_overrides: Any
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


def stack_outputs(config: Mapping[str, Any], policy_config: PolicyConfig = None) -> dict[str, Any]:
    """The stack's outputs (``podAnnotations``, ``podVolumes``, ...) as the planner's JSON shows them.

    Swap point for the engine: ``pulumi stack output --json``.
    """
    with tempfile.TemporaryDirectory(prefix="vaultk8s-plan-") as tmp:
        return dict(json.loads(_run_planner(config, policy_config, Path(tmp), "--format", "json"))["outputs"])


def crd_documents() -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted(CRD_DIR.glob("*.yaml"))]


def hvac_client(bao: OpenBaoDevServer, token: str | None = None) -> hvac.Client:
    verify = str(bao.ca_file) if isinstance(bao, TlsOpenBaoDevServer) else True
    return hvac.Client(url=bao.address, token=token if token is not None else bao.root_token, verify=verify)


@dataclass
class Deployment:
    """What ``deploy`` created: the stack's config and objects, the namespaces it made for the workloads."""

    config: dict[str, Any]
    objects: list[dict[str, Any]]
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
    """The stack's Kubernetes objects, created in the cluster (after the CRDs and the teams' namespaces)."""
    ensure_crds(cluster)
    namespaces = prepare_workloads(cluster, config)
    objects = rendered_objects(config, policy_config)
    for obj in sorted(objects, key=_apply_order):
        cluster.apply(obj, namespace=obj["metadata"].get("namespace"))
    return Deployment(dict(config), objects, namespaces)


def deploy(
    cluster: Cluster, bao: OpenBaoDevServer, config: Mapping[str, Any], policy_config: PolicyConfig = None
) -> Deployment:
    """Create what the stack declares: its Kubernetes objects in the cluster, its auth and roles in OpenBao.

    Swap point for the engine: ``pulumi up`` of ``config`` against both servers does exactly this.
    """
    deployment = apply_stack_objects(cluster, config, policy_config)
    configure_vault(cluster, hvac_client(bao), config)
    return deployment


_CRDS_APPLIED: set[str] = set()


def ensure_crds(cluster: Cluster) -> None:
    """The reference CRDs (the operators' charts install them; here, once per cluster)."""
    if cluster.server not in _CRDS_APPLIED:
        cluster.apply_crds(crd_documents())
        _CRDS_APPLIED.add(cluster.server)


def _apply_order(obj: Mapping[str, Any]) -> int:
    return {"Namespace": 0, "ServiceAccount": 1, "Secret": 2}.get(str(obj["kind"]), 3)


def configure_vault(cluster: Cluster, client: hvac.Client, config: Mapping[str, Any]) -> None:
    """The stack's auth mount, its config, each workload's policy and role, and its database engines (connection,
    dynamic and static roles), written as the provider would. KV values are the tests' own."""
    spec = validate_platform(from_config(config))
    auth = spec.cluster
    mount = auth.auth_mount
    client.sys.enable_auth_method(auth.auth_method.value, path=mount)
    if auth.auth_method is AuthMethod.KUBERNETES:
        body: dict[str, Any] = kubernetes_auth_config(auth.api_host, auth.reviewer)
        body["kubernetes_ca_cert"] = auth.ca_cert
        if auth.reviewer is ReviewerMode.REVIEWER_SERVICE_ACCOUNT:
            body["token_reviewer_jwt"] = filled_reviewer_token(cluster)
        client.write_data(f"auth/{mount}/config", data=body)
    else:
        issuer = auth.issuer or cluster.issuer
        inputs = jwt_auth_inputs(issuer, auth.ca_cert, auth.jwt_validation_pubkeys)
        inputs.pop("type")
        client.write_data(f"auth/{mount}/config", data=inputs)
    for i, db in enumerate(spec.databases):
        client.sys.enable_secrets_engine("database", path=db.mount)
        connection = connection_inputs(db)
        # The plugin block (components.database_secrets.plugin_block) as the provider sends it: the password unwrapped.
        block = {"connection_url": db.connection_url, "username": db.username}
        block["password"] = config["databases"][i]["password"]
        client.write_data(f"{db.mount}/config/{connection.pop('name')}", data={**connection, **block})
        for dynamic in db.roles:
            inputs = database_role_inputs(db, dynamic)
            client.write_data(f"{db.mount}/roles/{inputs.pop('name')}", data=inputs)
        for static in db.static_roles:
            inputs = static_role_inputs(db, static)
            client.write_data(f"{db.mount}/static-roles/{inputs.pop('name')}", data=inputs)
    # Audit devices are left out: OpenBao creates them only from its server configuration (README).
    role_inputs = kubernetes_role_inputs if auth.auth_method is AuthMethod.KUBERNETES else jwt_role_inputs
    for workload in spec.workloads:
        client.sys.create_or_update_acl_policy(workload.policy_name, workload_policy(workload))
        role = role_inputs(workload, auth.audience, [workload.policy_name])
        client.write_data(f"auth/{mount}/role/{role.pop('role_name')}", data=role)


def filled_reviewer_token(cluster: Cluster, namespace: str = "kube-system") -> str:
    """The reviewer token the controller-manager wrote into the stack's service-account-token Secret."""

    def filled() -> str | None:
        secret = cluster.core.read_namespaced_secret(f"{REVIEWER_NAME}-token", namespace)
        return reviewer_token(secret.data)

    return wait_until(filled, 30, f"the token controller to fill {namespace}/{REVIEWER_NAME}-token")
