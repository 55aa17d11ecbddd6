"""The External Secrets controller (built from its Go module) turns the stack's objects into the Secret.

The controller runs out of cluster with the admin kubeconfig. It reads the stack's SecretStore and
ExternalSecret, asks the API server for a token of the workload's own service account (audience `vault`),
logs in to OpenBao's kubernetes auth as the workload's role, and writes Secret `my-secret`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import yaml

from sandbox.engine import PulumiCli
from sandbox.servers import OpenBaoServer
from tests.cluster.agents import AgentProcess, external_secrets_argv, module_dir
from tests.cluster.fixtures import require_toolchain
from tests.cluster.kube import Cluster, wait_until
from tests.cluster.stack import (
    ALLOW_REVIEWER_TOKEN,
    DEV_STACK,
    FULL_POLICY_CONFIG,
    cluster_stack,
    deploy,
    ensure_crds,
    full_stack,
    stack_config,
)
from tests.live.postgres import PostgresServer, require_postgres

ESO_MODULE = "github.com/external-secrets/external-secrets"
REFRESH = 10  # seconds: the shortest refreshInterval the stack allows


def controller_crds(cluster: Cluster) -> None:
    """The CRD the v0.16 controller watches that the 2.9.0 reference set lacks (GeneratorState), from its module."""
    path = (
        module_dir("external-secrets", ESO_MODULE)
        / "config/crds/bases/generators.external-secrets.io_generatorstates.yaml"
    )
    if not path.is_file():
        pytest.fail(f"{path} is missing: `tools/toolchain external-secrets` downloads the module")
    cluster.apply_crds([yaml.safe_load(path.read_text())])


@pytest.fixture
def external_secrets(cluster: Cluster) -> Iterator[AgentProcess]:
    binary = str(require_toolchain(["external-secrets"]) / "external-secrets")
    ensure_crds(cluster)  # the controller watches its kinds from the start
    controller_crds(cluster)
    with AgentProcess(
        "external-secrets", external_secrets_argv(binary), {"KUBECONFIG": str(cluster.kubeconfig)}
    ) as eso:
        yield eso


def secret_value(cluster: Cluster, namespace: str, name: str, key: str) -> str | None:
    try:
        return cluster.secret_data(namespace, name).get(key)
    except Exception:
        return None


def force_sync(cluster: Cluster, external_secret: dict[str, Any]) -> None:
    """Change an annotation, ESO's documented manual refresh: after a failed first sync (the value was not
    written yet) the controller retries with a growing backoff or at the refresh interval, whichever comes."""
    meta = external_secret["metadata"]
    resource = cluster.dynamic.resources.get(api_version=external_secret["apiVersion"], kind="ExternalSecret")
    patch = {"metadata": {"annotations": {"force-sync": str(time.time_ns())}}}
    cluster.dynamic.patch(
        resource,
        body=patch,
        name=meta["name"],
        namespace=meta["namespace"],
        content_type="application/merge-patch+json",
    )


def store_ready(cluster: Cluster, store: dict[str, Any]) -> bool:
    meta = store["metadata"]
    status = cluster.get(store["apiVersion"], store["kind"], meta["name"], meta["namespace"]).get("status") or {}
    return any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))


def test_the_stacks_external_secret_becomes_the_secret_and_follows_openbao(
    cluster_cli: PulumiCli,
    cluster: Cluster,
    cluster_bao: OpenBaoServer,
    namespace: str,
    external_secrets: AgentProcess,
) -> None:
    base = stack_config(DEV_STACK)
    (myapp,) = [w for w in base["workloads"] if w["name"] == "myapp"]
    myapp["refreshInterval"] = f"{REFRESH}s"
    # reviewer-service-account: ESO requests `vault`-only tokens (serviceAccountRef.audiences), which cannot
    # authenticate their own TokenReview in client-jwt mode (test_vault_kubernetes_auth.py shows the 401).
    config = cluster_stack(
        base,
        cluster,
        cluster_bao.address,
        namespace,
        vault_ca=cluster_bao.ca_pem,
        reviewer="reviewer-service-account",
    )
    deployment = deploy(cluster_cli, cluster, cluster_bao, config, ALLOW_REVIEWER_TOKEN)  # creates the mount
    root = cluster_bao.client()
    root.secrets.kv.v2.create_or_update_secret("myapp", secret={"apikey": "first-value"}, mount_point="secret")
    (store,) = deployment.objects_of("SecretStore")
    (external,) = deployment.objects_of("ExternalSecret")
    ns = external["metadata"]["namespace"]
    assert external["spec"]["target"]["name"] == "my-secret"
    assert store["spec"]["provider"]["vault"]["server"] == cluster_bao.address

    def tail() -> str:
        return external_secrets.log_tail()

    try:
        wait_until(lambda: store_ready(cluster, store), 60, "the SecretStore to be Ready")
        wait_until(lambda: secret_value(cluster, ns, "my-secret", "api-key") == "first-value", 60, "Secret my-secret")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- external-secrets log ---\n{tail()}") from None
    secret = cluster.core.read_namespaced_secret("my-secret", ns)
    assert set(secret.data) == {"api-key"}
    (owner,) = secret.metadata.owner_references  # creationPolicy Owner: deleted with the ExternalSecret
    assert (owner.kind, owner.name) == ("ExternalSecret", "my-secret")

    root.secrets.kv.v2.create_or_update_secret("myapp", secret={"apikey": "second-value"}, mount_point="secret")
    wait_until(
        lambda: secret_value(cluster, ns, "my-secret", "api-key") == "second-value",
        REFRESH * 3,
        f"the Secret to follow OpenBao within the refresh interval ({REFRESH}s)",
    )
    assert external_secrets.running(), tail()


def test_the_full_examples_vault_dynamic_secret_becomes_postgresql_credentials_that_log_in(
    cluster_cli: PulumiCli,
    cluster: Cluster,
    cluster_bao: OpenBaoServer,
    namespace: str,
    external_secrets: AgentProcess,
) -> None:
    with PostgresServer(require_postgres(), tls=True) as pg:
        config = full_stack(cluster, cluster_bao, namespace, pg, reviewer="reviewer-service-account")
        policy = {**json.loads(FULL_POLICY_CONFIG.read_text()), **ALLOW_REVIEWER_TOKEN}
        deployment = deploy(cluster_cli, cluster, cluster_bao, config, policy)  # creates the apps mount
        root = cluster_bao.client()
        orders_value = {"apikey": "orders-api-key", "webhook-token": "orders-webhook"}
        root.secrets.kv.v2.create_or_update_secret("shop/orders", secret=orders_value, mount_point="apps")

        (generator,) = deployment.objects_of("VaultDynamicSecret")
        (dynamic,) = [e for e in deployment.objects_of("ExternalSecret") if "dataFrom" in e["spec"]]
        assert dynamic["spec"]["dataFrom"][0]["sourceRef"]["generatorRef"]["name"] == generator["metadata"]["name"]
        ns, name = dynamic["metadata"]["namespace"], dynamic["spec"]["target"]["name"]

        def credentials() -> dict[str, str] | None:
            try:
                data = cluster.secret_data(ns, name)
            except Exception:
                return None
            return data if {"username", "password"} <= set(data) else None

        try:
            creds = wait_until(credentials, 90, f"Secret {name} from the VaultDynamicSecret generator")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- external-secrets log ---\n{external_secrets.log_tail()}") from None
        # A user Vault created for this lease (not the admin, not the static user), and it logs in.
        assert creds["username"].startswith("v-") and creds["username"] not in ("postgres", "reporting")
        with psycopg.connect(
            host="127.0.0.1", port=pg.port, dbname="postgres", user=creds["username"], password=creds["password"]
        ) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (creds["username"],)
        # The other ExternalSecret of the workload (KV) arrived too.
        (kv,) = [e for e in deployment.objects_of("ExternalSecret") if "data" in e["spec"]]
        kv_name = kv["spec"]["target"]["name"]
        force_sync(cluster, kv)  # written after `up` (the stack creates the mount): its first sync may have failed
        wait_until(lambda: secret_value(cluster, ns, kv_name, "apikey") == "orders-api-key", 60, f"Secret {kv_name}")
        assert cluster.secret_data(ns, kv_name) == {"apikey": "orders-api-key"}
