"""The injector's and the CSI provider's inputs, as the stack exports and renders them, against the real servers.

vault-k8s (the injector) and vault-csi-provider cannot be built here: the Go module proxy refuses every
version of both (403 "This module version is not available", also for their OpenBao forks). So these
tests prove what does not need them, with real programs only, and say what they do not prove:

- injector: a Pod with the stack's exported ``podAnnotations`` and ``podVolumes`` is accepted and stored by
  the API server; the token the kubelet would project into its ``vault-token`` volume (TokenRequest bound to
  the Pod, the volume's audience and expiry) logs in on the annotated auth path as the annotated role; OpenBao
  Agent (``bao agent``, the program the injector injects) with that auto-auth and the annotated template
  renders OpenBao's value; once the Pod is gone the token is refused. Not proven: the injector's mutation.
- CSI: the SecretProviderClass's ``roleName``, ``vaultAuthMountPath``, ``audience`` and ``objects`` as
  rendered, with a real token of the workload's account for that audience, read exactly the file's value;
  another workload's token is refused. Not proven: the provider's own Mount RPC.

Both run in reviewer-service-account mode: their tokens are for `vault` alone, which client-jwt mode
cannot review (see test_vault_kubernetes_auth.py and the README).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from sandbox.engine import PulumiCli
from sandbox.servers import OpenBaoServer
from tests.cluster.kube import ApiException, Cluster, wait_until
from tests.cluster.stack import (
    ALLOW_REVIEWER_TOKEN,
    FULL_POLICY_CONFIG,
    deploy,
    dev_with_reviewer,
    full_stack,
)
from tests.cluster.vault_login import login, refusal, refused
from tests.live.openbao import require_bao
from tests.live.postgres import PostgresServer, require_postgres

PREFIX = "vault.hashicorp.com/"


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    with PostgresServer(require_postgres(), tls=True) as pg:
        yield pg


WEBHOOK_TOKEN = "webhook-token-from-openbao"


def annotation(annotations: dict[str, str], name: str) -> str:
    return annotations[PREFIX + name]


def agent_config(bao: OpenBaoServer, annotations: dict[str, str], token_file: Path, out: Path) -> dict[str, Any]:
    """OpenBao Agent's configuration from the annotations, as the injector writes it: kubernetes auto-auth on
    ``auth-path`` as ``role`` with the token volume's file, one template per ``agent-inject-template-<name>``
    rendered to ``<secrets dir>/<name>``."""
    templates = []
    for key, text in annotations.items():
        name = key.removeprefix(PREFIX + "agent-inject-template-")
        if name != key:
            templates.append({"destination": str(out / name), "contents": text})
    return {
        "vault": {"address": bao.address, "ca_cert": str(bao.ca_file)},
        "auto_auth": {
            "method": [
                {
                    "type": annotation(annotations, "auth-type"),
                    "mount_path": annotation(annotations, "auth-path"),
                    "config": {"role": annotation(annotations, "role"), "token_path": str(token_file)},
                }
            ]
        },
        "template": templates,
        "exit_after_auth": True,  # the injector's init container: render once, then exit
    }


def test_a_pod_with_the_injector_annotations_gets_its_secret_through_openbao_agent(
    cluster_cli: PulumiCli,
    cluster: Cluster,
    cluster_bao: OpenBaoServer,
    namespace: str,
    postgres: PostgresServer,
    tmp_path: Path,
) -> None:
    policy = {**json.loads(FULL_POLICY_CONFIG.read_text()), **ALLOW_REVIEWER_TOKEN}
    pg = postgres
    config = full_stack(cluster, cluster_bao, namespace, pg, reviewer="reviewer-service-account")
    outputs = deploy(cluster_cli, cluster, cluster_bao, config, policy).outputs  # creates the apps mount
    root = cluster_bao.client()
    root.secrets.kv.v2.create_or_update_secret(
        "shop/orders", secret={"webhook-token": WEBHOOK_TOKEN}, mount_point="apps"
    )
    annotations, volumes = outputs["podAnnotations"]["billing"], outputs["podVolumes"]["billing"]
    (billing,) = [w for w in config["workloads"] if w["name"] == "billing"]
    ns, sa = billing["namespace"], billing["serviceAccount"]

    pod = cluster.core.create_namespaced_pod(
        ns,
        {
            "metadata": {"name": "billing", "annotations": annotations},
            "spec": {
                "serviceAccountName": sa,
                "automountServiceAccountToken": False,
                "containers": [{"name": "app", "image": "registry.invalid/billing:1"}],
                "volumes": volumes,
            },
        },
    )
    stored = cluster.core.read_namespaced_pod("billing", ns)
    assert stored.metadata.annotations == annotations
    (token_volume,) = [
        v for v in stored.spec.volumes if v.name == annotation(annotations, "agent-service-account-token-volume-name")
    ]
    source = token_volume.projected.sources[0].service_account_token
    assert (source.audience, source.expiration_seconds, source.path) == ("vault", 3600, "token")

    # What the kubelet writes into that volume: a token bound to this Pod, for the volume's audience.
    token = cluster.token(
        ns,
        sa,
        audiences=[source.audience],
        seconds=source.expiration_seconds,
        bound_to={"apiVersion": "v1", "kind": "Pod", "name": "billing", "uid": pod.metadata.uid},
    )
    mount = annotation(annotations, "auth-path").removeprefix("auth/")
    client = login(cluster_bao, mount, annotation(annotations, "role"), token)
    assert client.read(annotation(annotations, "agent-inject-secret-webhook-token"))["data"]["data"] == {
        "webhook-token": WEBHOOK_TOKEN
    }

    token_file, secrets_dir = tmp_path / "token", tmp_path / "secrets"
    token_file.write_text(token)
    secrets_dir.mkdir()
    config_file = tmp_path / "agent.json"
    config_file.write_text(json.dumps(agent_config(cluster_bao, annotations, token_file, secrets_dir)))
    try:
        agent = subprocess.run(
            [require_bao(), "agent", f"-config={config_file}"],
            capture_output=True,
            text=True,
            timeout=60,
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
            check=False,
        )
    except subprocess.TimeoutExpired as hung:
        raise AssertionError(
            f"bao agent did not finish within 60 s:\n{hung.stdout!s:.3000}\n{hung.stderr!s:.3000}"
        ) from None
    assert agent.returncode == 0, agent.stdout[-3000:] + agent.stderr[-3000:]
    assert (secrets_dir / "webhook-token").read_text() == WEBHOOK_TOKEN
    # The database template: a dotenv file with a user Vault created for this lease, and it logs in.
    lines = (secrets_dir / "billing-db").read_text().splitlines()
    creds = dict(line.split("=", 1) for line in lines)
    assert set(creds) == {"username", "password"} and creds["username"].startswith("v-")
    with psycopg.connect(
        host="127.0.0.1", port=pg.port, dbname="postgres", user=creds["username"], password=creds["password"]
    ) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (creds["username"],)

    cluster.core.delete_namespaced_pod("billing", ns, grace_period_seconds=0)
    wait_until(
        lambda: refused(cluster_bao, mount, annotation(annotations, "role"), token),
        30,
        "the token of a deleted Pod to be refused",
    )


def test_the_secret_provider_class_parameters_read_the_file_value(
    cluster_cli: PulumiCli, cluster: Cluster, cluster_bao: OpenBaoServer, namespace: str
) -> None:
    config = dev_with_reviewer(cluster, cluster_bao, namespace)
    deployment = deploy(cluster_cli, cluster, cluster_bao, config, ALLOW_REVIEWER_TOKEN)
    root = cluster_bao.client()
    root.secrets.kv.v2.create_or_update_secret(
        "db", secret={"username": "db-user", "password": "x"}, mount_point="secret"
    )
    (spc,) = deployment.objects_of("SecretProviderClass")
    params = spc["spec"]["parameters"]
    assert spc["spec"]["provider"] == "vault" and params["vaultAddress"] == cluster_bao.address
    ns = spc["metadata"]["namespace"]
    (db_client,) = [w for w in config["workloads"] if w["namespace"] == ns]
    (myapp,) = [w for w in config["workloads"] if w["name"] == "myapp"]

    token = cluster.token(ns, db_client["serviceAccount"], audiences=[params["audience"]])
    client = login(cluster_bao, params["vaultAuthMountPath"], params["roleName"], token)
    files = {
        o["objectName"]: client.read(o["secretPath"])["data"]["data"][o["secretKey"]]
        for o in yaml.safe_load(params["objects"])
    }
    assert files == {"database-creds": "db-user"}

    other = cluster.token(myapp["namespace"], myapp["serviceAccount"], audiences=[params["audience"]])
    refusal(cluster_bao, params["vaultAuthMountPath"], params["roleName"], other)
    with pytest.raises(ApiException):  # and the API server issues no token for an account the pod lacks
        cluster.token(ns, "no-such-account", audiences=[params["audience"]])
