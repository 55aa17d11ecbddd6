"""`pulumi up`, `preview` and `destroy` of the project's own stacks through the real engine and
terraform-provider-vault, against a production-like OpenBao: what the server holds is what the
stack declares, a second preview is empty, changes reach the server exactly, destroy leaves nothing.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.policy_document import parse_policy
from tests.engine import stacks
from tests.engine.pulumi_cli import PulumiCli, Stack
from tests.engine.vault_state import left_by_stack, policy, role
from tests.live.jwt_issuer import ServiceAccountIssuer
from tests.live.openbao_server import OpenBaoServer

DEV_ROLES = {"my-role": ("myapp", "myapp"), "k8s-role": ("db", "db-client")}


@pytest.fixture
def issuer() -> ServiceAccountIssuer:
    return ServiceAccountIssuer()


def dev_jwt(openbao: OpenBaoServer, issuer: ServiceAccountIssuer) -> dict[str, Any]:
    config = stacks.with_jwt_issuer(stacks.against(stacks.dev_stack(), openbao), issuer)
    config.pop(stacks.key("auditDevices"), None)  # declared in the server's configuration (see conftest)
    for workload in stacks.workloads(config):
        for secret in workload["secrets"]:
            secret["delivery"] = "none"
    return config


@pytest.fixture
def deployed(cli: PulumiCli, openbao: OpenBaoServer, issuer: ServiceAccountIssuer) -> Stack:
    stack = cli.stack("dev", dev_jwt(openbao, issuer))
    stack.cli.extra_env["VAULT_TOKEN"] = openbao.root_token
    stack.up()
    return stack


def test_up_creates_what_the_stack_declares_and_a_second_preview_is_empty(
    deployed: Stack, openbao: OpenBaoServer
) -> None:
    root = openbao.client()
    held = left_by_stack(root)
    assert held["auth"] == {"jwt/": {"type": "jwt", "roles": sorted(DEV_ROLES)}}
    assert held["policies"] == {"workload-myapp-myapp", "workload-db-db-client"}
    assert held["mounts"] == {"secret/": "kv"}
    for name, (namespace, account) in DEV_ROLES.items():
        bound = role(root, "jwt", name)
        assert bound["bound_subject"] == f"system:serviceaccount:{namespace}:{account}"
        assert bound["bound_audiences"] == ["vault"]
    assert {(r.path, r.capabilities) for r in parse_policy(policy(root, "workload-myapp-myapp"))} == {
        ("secret/data/myapp", ("read",))
    }
    deployed.preview("--expect-no-changes")


def test_destroy_leaves_nothing_the_stack_created(deployed: Stack, openbao: OpenBaoServer) -> None:
    deployed.destroy()
    assert left_by_stack(openbao.client()) == {"auth": {}, "policies": set(), "mounts": {}}


def test_changes_reach_the_server_exactly(deployed: Stack, openbao: OpenBaoServer) -> None:
    root = openbao.client()
    config = yaml_config(deployed)
    workloads = config[stacks.key("workloads")]

    # Add a workload: its role and policy appear, nothing else changes.
    workloads.append(
        {
            "name": "reports",
            "namespace": "reports",
            "serviceAccount": "reports",
            "secrets": [{"path": "secret/data/reports", "key": "token"}],
        }
    )
    before = left_by_stack(root)
    apply(deployed, config)
    after = left_by_stack(root)
    assert after["policies"] - before["policies"] == {"workload-reports-reports"}
    assert after["auth"]["jwt/"]["roles"] == sorted([*DEV_ROLES, "reports"])

    # Widen a workload's access: the policy now names both paths.
    workloads[-1]["secrets"].append({"path": "secret/data/reports-archive", "key": "token", "name": "archive-token"})
    apply(deployed, config)
    assert {r.path for r in parse_policy(policy(root, "workload-reports-reports"))} == {
        "secret/data/reports",
        "secret/data/reports-archive",
    }

    # Change a TTL: the role's token lifetime follows.
    workloads[-1]["tokenTtl"] = "5m"
    apply(deployed, config)
    assert role(root, "jwt", "reports")["token_ttl"] == 300

    # Change a rotation period: the next rotation moves and the generated value is rotated now
    # (a new KV version), the mount and every other path untouched.
    rotations = deployed.outputs()["nextRotations"]
    version = root.secrets.kv.v2.read_secret_metadata("myapp", mount_point="secret")["data"]["current_version"]
    config[stacks.key("kv")][0]["generated"][0]["rotateEvery"] = "1d"
    apply(deployed, config)
    assert deployed.outputs()["nextRotations"]["secret/myapp"] != rotations["secret/myapp"]
    metadata = root.secrets.kv.v2.read_secret_metadata("myapp", mount_point="secret")["data"]
    assert metadata["current_version"] == version + 1

    # Remove the workload: its role and policy are gone from the server.
    workloads.pop()
    apply(deployed, config)
    after = left_by_stack(root)
    assert "workload-reports-reports" not in after["policies"]
    assert after["auth"]["jwt/"]["roles"] == sorted(DEV_ROLES)
    assert root.read("auth/jwt/role/reports") is None


def yaml_config(stack: Stack) -> dict[str, Any]:
    import yaml

    return copy.deepcopy(yaml.safe_load(stack.config_file.read_text())["config"])


def apply(stack: Stack, config: dict[str, Any]) -> None:
    stack.write_config(config)
    stack.up()
    stack.preview("--expect-no-changes")
