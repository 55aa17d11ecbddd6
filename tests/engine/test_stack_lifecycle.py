"""`pulumi up`, `preview` and `destroy` of the project's own stacks through the real engine and
terraform-provider-vault, against a production-like OpenBao: what the server holds is what the
stack declares, a second preview is empty, changes reach the server exactly, destroy leaves nothing.
"""

from __future__ import annotations

import copy
import fnmatch
import json
from pathlib import Path
from typing import Any

import hvac
import pytest
import yaml

from components.deployer_policy import deployer_policy
from policies.vault_hcl import PathRule, parse_policy
from sandbox import stacks
from sandbox.engine import PulumiCli, Stack
from sandbox.issuer import ServiceAccountIssuer
from sandbox.servers import OpenBaoServer
from tests import reference
from tests.engine import access, plans
from tests.engine.vault_state import left_by_stack, policy, role

DEV_ROLES = {"my-role": ("myapp", "myapp"), "k8s-role": ("db", "db-client")}


@pytest.fixture
def issuer() -> ServiceAccountIssuer:
    return ServiceAccountIssuer()


def dev_jwt(
    openbao: OpenBaoServer, issuer: ServiceAccountIssuer, audit_devices: list[dict[str, str]]
) -> dict[str, Any]:
    """The dev stack on this OpenBao (its audit devices in the server's configuration), with jwt auth."""
    config = stacks.with_jwt_issuer(stacks.against(stacks.dev_stack(), openbao), issuer)
    config = stacks.on_openbao(config, audit_devices)
    for workload in stacks.workloads(config):
        for secret in workload["secrets"]:
            secret["delivery"] = "none"
    return config


@pytest.fixture
def deployed(
    cli: PulumiCli, openbao: OpenBaoServer, issuer: ServiceAccountIssuer, audit_devices: list[dict[str, str]]
) -> Stack:
    stack = cli.stack("dev", dev_jwt(openbao, issuer, audit_devices))
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
        ("secret/data/myapp", frozenset({"read"}))
    }
    deployed.preview("--expect-no-changes")


def test_the_dev_stack_with_its_deliveries_renders_manifests_the_upstream_crds_accept(
    cli: PulumiCli,
    openbao: OpenBaoServer,
    issuer: ServiceAccountIssuer,
    audit_devices: list[dict[str, str]],
    tmp_path: Path,
) -> None:
    """The dev stack as written (External Secrets and CSI deliveries; the operators installed elsewhere), its
    manifests rendered by the real kubernetes provider: every object validates against its upstream schema."""
    config = stacks.against(stacks.dev_stack(), openbao, tmp_path / "rendered")
    config = stacks.on_openbao(stacks.with_jwt_issuer(config, issuer), audit_devices)
    config[stacks.key("delivery")] = {op: {"install": False} for op in ("externalSecrets", "csi", "agentInjector")}
    stack = cli.stack("rendered", config)
    stack.cli.extra_env["VAULT_TOKEN"] = openbao.root_token
    stack.up()
    rendered = [yaml.safe_load(f.read_text()) for f in sorted((tmp_path / "rendered").rglob("*.yaml"))]
    kinds = sorted(obj["kind"] for obj in rendered)
    assert kinds == ["ExternalSecret", "SecretProviderClass", "SecretStore"]
    for obj in rendered:
        reference.validate_custom_resource(obj)
    stack.preview("--expect-no-changes")


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
    before = root.secrets.kv.v2.read_secret_version("myapp", mount_point="secret", raise_on_deleted_version=True)
    config[stacks.key("kv")][0]["generated"][0]["rotateEvery"] = "12h"  # (1d and 7d boundaries can meet 30d's)
    apply(deployed, config)
    assert deployed.outputs()["nextRotations"]["secret/myapp"] != rotations["secret/myapp"]
    after = root.secrets.kv.v2.read_secret_version("myapp", mount_point="secret", raise_on_deleted_version=True)
    version = before["data"]["metadata"]["version"]
    assert after["data"]["metadata"]["version"] == version + 1
    assert after["data"]["data"]["apikey"] != before["data"]["data"]["apikey"]
    previous = root.secrets.kv.v2.read_secret_version(
        "myapp", version=version, mount_point="secret", raise_on_deleted_version=True
    )
    assert previous["data"]["data"] == before["data"]["data"]  # a consumer mid-rotation still reads the old one

    # Remove the workload: its role and policy are gone from the server.
    workloads.pop()
    apply(deployed, config)
    after = left_by_stack(root)
    assert "workload-reports-reports" not in after["policies"]
    assert after["auth"]["jwt/"]["roles"] == sorted(DEV_ROLES)
    assert root.read("auth/jwt/role/reports") is None


def yaml_config(stack: Stack) -> dict[str, Any]:
    return copy.deepcopy(stack.config())


def apply(stack: Stack, config: dict[str, Any]) -> None:
    stack.write_config(config)
    stack.up()
    stack.preview("--expect-no-changes")


def jwt_login(openbao: OpenBaoServer, issuer: ServiceAccountIssuer, **claims: Any) -> access.Login:
    def login(role_name: str, namespace: str, account: str) -> str:
        token = issuer.issue(namespace, account, ["vault"], **claims)
        answer = hvac.Client(url=openbao.address).auth.jwt.jwt_login(role_name, token, path="jwt")
        return str(answer["auth"]["client_token"])

    return login


def test_each_workload_reads_exactly_its_own_secret(
    deployed: Stack, openbao: OpenBaoServer, issuer: ServiceAccountIssuer
) -> None:
    root = openbao.client()
    access.seed(root)
    access.assert_least_privilege(openbao.address, root, jwt_login(openbao, issuer))
    access.assert_impostors_refused(jwt_login(openbao, issuer))
    # Signed by another key, issued by another issuer, for another audience, or expired: refused.
    stranger = ServiceAccountIssuer(issuer=issuer.issuer)
    for bad in (
        stranger.issue("myapp", "myapp", ["vault"]),
        issuer.issue("myapp", "myapp", ["vault"], iss="https://attacker.example.com"),
        issuer.issue("myapp", "myapp", ["other-audience"]),
        issuer.issue("myapp", "myapp", ["vault"], ttl=-120),
    ):
        with pytest.raises((hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden)):
            hvac.Client(url=openbao.address).auth.jwt.jwt_login("my-role", bad, path="jwt")


def test_a_deployer_token_with_the_documented_policy_runs_up_and_destroy_and_reads_no_secret(
    cli: PulumiCli,
    openbao: OpenBaoServer,
    issuer: ServiceAccountIssuer,
    audit_devices: list[dict[str, str]],
    audit_log: Path,
) -> None:
    root = openbao.client()
    config = dev_jwt(openbao, issuer, audit_devices)
    deployer = access.deployer_token(root, config)

    stack = cli.stack("dev", config)
    stack.cli.extra_env["VAULT_TOKEN"] = deployer
    stack.up()
    stack.preview("--expect-no-changes")
    access.seed(root)

    # Exactly what up and preview need: every stanza was used, and nothing the deployer did was denied.
    used = deployer_requests(audit_log)
    rules = parse_policy(deployer_policy(stacks.platform(config)))
    assert not [r.path for r in rules if not any(grants(r, path, op) for path, op, _ in used)]
    assert not [(path, op) for path, op, denied in used if denied]

    # The deployer cannot read what the stack generated nor what workloads read.
    as_deployer = hvac.Client(url=openbao.address, token=deployer)
    secret_paths = ("secret/data/myapp", "secret/data/db", "secret/data/other-team")
    for path in secret_paths:
        with pytest.raises(hvac.exceptions.Forbidden):
            as_deployer.adapter.get(f"/v1/{path}")

    destroy_starts = len(used) + len(secret_paths)
    stack.destroy()
    assert left_by_stack(root) == {"auth": {}, "policies": {"deployer"}, "mounts": {}}
    assert not [(p, op) for p, op, denied in deployer_requests(audit_log)[destroy_starts:] if denied]


def deployer_requests(audit_log: Path) -> list[tuple[str, str, bool]]:
    """(path, operation, denied) of every request made with a token carrying the deployer policy."""
    requests = []
    for line in audit_log.read_text().splitlines():
        entry = json.loads(line)
        if entry.get("type") == "response" and "deployer" in entry.get("auth", {}).get("policies", []):
            error = entry.get("error", "")
            requests.append((entry["request"]["path"], entry["request"]["operation"], "permission denied" in error))
    return requests


def grants(rule: PathRule, path: str, operation: str) -> bool:
    matches = fnmatch.fnmatchcase(path, rule.path) if rule.path.endswith("*") else path == rule.path
    return matches and operation in rule.capabilities


def test_the_policy_pack_in_the_engines_preview_agrees_with_the_offline_plan(deployed: Stack, tmp_path: Path) -> None:
    # A deployed stack: the pack passes, in the engine as offline.
    verdicts, code = plans.engine_verdicts(deployed)
    assert code == 0
    assert not [v for v in verdicts if v[2] == "mandatory"]
    assert verdicts == plans.offline_verdicts(yaml_config(deployed), deployed.name)

    # A violation: the preview fails naming the rule, and the offline plan says the same.
    config = yaml_config(deployed)
    config[stacks.key("workloads")][0].update(tokenTtl="2h", tokenMaxTtl="4h")  # beyond the pack's 1h cap
    deployed.write_config(config)
    verdicts, code = plans.engine_verdicts(deployed)
    assert code != 0
    assert ("vault-role-token-ttl-cap", "platform-myapp-role", "mandatory") in verdicts
    assert verdicts == plans.offline_verdicts(config, deployed.name)


def test_the_offline_plan_registers_what_the_engine_registers(deployed: Stack) -> None:
    config = yaml_config(deployed)
    assert plans.offline_registrations(config, deployed.name) == plans.engine_registrations(deployed)


@pytest.mark.parametrize("example", ["dev", "full", "violating"])
def test_a_fresh_stacks_preview_has_the_offline_plans_verdicts(
    cli: PulumiCli,
    openbao: OpenBaoServer,
    issuer: ServiceAccountIssuer,
    audit_devices: list[dict[str, str]],
    example: str,
    tmp_path: Path,
) -> None:
    """Before the first `up` every output is unknown to the engine: rules that cannot judge one say so (an
    advisory), and every other verdict is the offline plan's."""
    if example == "full":
        full = stacks.against(stacks.full_stack(), openbao, tmp_path / "rendered")
        config = stacks.on_openbao(full, audit_devices)
        config[stacks.key("databases")][0].pop("password")  # set below, encrypted with this stack's passphrase
        for operator in ("externalSecrets", "csi", "agentInjector"):  # no chart to fetch offline
            config[stacks.key("delivery")].setdefault(operator, {})["install"] = False
        extra: tuple[str, ...] = (
            "--policy-pack-config",
            str(stacks.PROJECT_ROOT / "examples" / "Pulumi.full.policy.json"),
        )
    else:
        config = dev_jwt(openbao, issuer, audit_devices)
        extra = ()
    if example == "violating":
        config[stacks.key("workloads")][0].update(tokenTtl="2h", tokenMaxTtl="4h")
    stack = cli.stack(example, config)
    if example == "full":
        stack.set_secret(f"{stacks.key('databases')}[0].password", "not-used-by-a-preview", path=True)
    stack.cli.extra_env["VAULT_TOKEN"] = openbao.root_token
    verdicts, code = plans.engine_verdicts(stack, *extra)
    offline = plans.offline_verdicts(
        stack.config(),
        stack.name,
        json.loads((stacks.PROJECT_ROOT / "examples" / "Pulumi.full.policy.json").read_text())
        if example == "full"
        else None,
    )
    assert verdicts == offline
    assert (code != 0) == any(level == "mandatory" for _, _, level in offline)
    assert (example == "violating") == (code != 0)
