"""The policy pack in the offline plan: violations in text, JSON and markdown; exit 1 on a mandatory one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.__main__ import main
from planner.engine import PROJECT_ROOT
from tests.conftest import DEV_STACK

# Each setting breaks the rule(s) named beside it (all through the stack file: the components stay as they are).
BROKEN_RULES = {
    "vault-audit-device-present": "mandatory",  # no auditDevices
    "vault-audit-devices-redundant": "advisory",  # no auditDevices
    "eso-store-https-ca": "mandatory",  # no vault.caCert: SecretStores cannot pin Vault's CA
    "vault-auth-no-long-lived-reviewer-token": "mandatory",  # reviewer-service-account: a token Secret
    "eso-chart-cluster-wide-off": "mandatory",  # externalSecrets.clusterWide
    "csi-sync-secret-allowed": "mandatory",  # csi.syncSecret
    "vault-role-token-ttl-cap": "mandatory",  # tokenTtl 4h
    "eso-refresh-interval-bounds": "advisory",  # refreshInterval 10s
}


def broken_stack(tmp_path: Path) -> Path:
    """The dev stack, changed to break many rules at once."""
    document = yaml.safe_load(DEV_STACK.read_text())
    config = document["config"]
    del config["secrets-platform:vault"]["caCert"]
    del config["secrets-platform:auditDevices"]
    config["secrets-platform:cluster"]["reviewer"] = "reviewer-service-account"
    config["secrets-platform:delivery"] = {"externalSecrets": {"clusterWide": True}, "csi": {"syncSecret": True}}
    myapp = config["secrets-platform:workloads"][0]
    myapp.update(tokenTtl="4h", tokenMaxTtl="8h", refreshInterval="10s")
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_stack_breaking_many_rules_exits_1_and_names_each_rule(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stack = broken_stack(tmp_path)
    code, out, _ = run(capsys, "--config-file", str(stack), "--format", "json")
    assert code == 1
    violations = json.loads(out)["violations"]
    assert {v["rule"]: v["level"] for v in violations} == BROKEN_RULES
    for v in violations:
        assert set(v) >= {"rule", "level", "resource", "type", "urn", "message", "detail"}
        assert v["message"].startswith(f"[{v['rule']}] ") and "Fix: " in v["message"]
    # Mandatory first, as the pack orders them.
    levels = [v["level"] for v in violations]
    assert levels == sorted(levels, key=lambda level: level != "mandatory")
    # A violation of a workload's own resource names the workload.
    ttl = next(v for v in violations if v["rule"] == "vault-role-token-ttl-cap")
    assert (ttl["resource"], ttl["workload"]) == ("platform-myapp-role", "myapp")

    code, text, _ = run(capsys, "--config-file", str(stack))
    assert code == 1
    mandatory = sum(v["level"] == "mandatory" for v in violations)
    summary = (
        f"Policy pack secrets-platform: {mandatory} mandatory and {len(violations) - mandatory} advisory violation(s)."
    )
    assert summary in text
    for rule, level in BROKEN_RULES.items():
        assert re.search(rf"^  {level.upper()} +\[{re.escape(rule)}\] .+ Fix: ", text, re.MULTILINE), rule


def test_the_broken_stack_exits_1_as_a_process(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "planner", "--config-file", str(broken_stack(tmp_path))],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr
    assert "[vault-audit-device-present]" in result.stdout


def test_the_dev_stack_plans_with_exit_0_and_no_violation(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--stack", "dev", "--format", "json")
    assert code == 0
    assert json.loads(out)["violations"] == []
    code, text, _ = run(capsys, "--stack", "dev")
    assert code == 0
    assert text.rstrip().endswith("Policy pack secrets-platform: no violations.")


def table_rows(line: str) -> list[str]:
    """The cells of a GFM table row: split on pipes not escaped by a backslash."""
    assert line.startswith("|") and line.endswith("|"), line
    return [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every table of a markdown document, checked: a header, a delimiter row, rows of the header's width."""
    tables: list[list[list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            header, delimiter, *rows = (table_rows(line) for line in block)
            assert all(re.fullmatch(r":?-{3,}:?", c) for c in delimiter), block[1]
            assert len(delimiter) == len(header)
            for row in rows:
                assert len(row) == len(header), row
            tables.append([header, *rows])
        else:
            i += 1
    return tables


def test_markdown_is_a_valid_table_of_access_and_violations(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "--stack", "dev", "--format", "markdown")
    assert code == 0
    (access,) = markdown_tables(out)
    header, *rows = access
    assert header == [
        "workload",
        "namespace/service account",
        "Vault role",
        "path",
        "capabilities",
        "delivery",
        "lifetime",
    ]
    assert {(r[0], r[3], r[4], r[5]) for r in rows} == {
        ("`myapp`", "`secret/data/myapp`", "read", "api-key via external-secrets"),
        ("`db-client`", "`secret/data/db`", "read", "database-creds via csi"),
    }
    assert "no violations" in out

    code, out, _ = run(capsys, "--config-file", str(broken_stack(tmp_path)), "--format", "markdown")
    assert code == 1
    access, violations = markdown_tables(out)
    header, *rows = violations
    assert header == ["level", "rule", "resource", "problem and fix"]
    assert {r[1].strip("`") for r in rows} == set(BROKEN_RULES)
    assert all("Fix: " in r[3] for r in rows)


def test_markdown_cells_cannot_break_the_table() -> None:
    from planner.markdown import plan_markdown

    hostile: dict[str, Any] = {
        "stack": "x|y",
        "workloads": [
            {
                "name": "a|b",
                "namespace": "n",
                "serviceAccount": "s",
                "role": "r`|",
                "access": {"p|q\nr": ["read"]},
                "deliveries": [{"path": "p|q\nr", "name": "x|\\|y", "delivery": "csi", "stalenessSeconds": 60}],
            }
        ],
        "violations": [
            {"rule": "r", "level": "mandatory", "resource": "a|b", "type": "t", "message": "m", "detail": "a|b\nc<d>"}
        ],
        "resources": [],
    }
    text = plan_markdown(hostile)
    access, violations = markdown_tables(text)
    assert len(access) == 2 and len(violations) == 2
    assert "<d>" not in text


def test_policy_config_overrides_rules_json_and_yaml(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    stack = str(broken_stack(tmp_path))
    mandatory = [rule for rule, level in BROKEN_RULES.items() if level == "mandatory"]
    as_json = tmp_path / "policy.json"
    as_json.write_text(json.dumps({rule: "advisory" for rule in mandatory}))
    code, out, _ = run(capsys, "--config-file", stack, "--format", "json", "--policy-config", str(as_json))
    assert code == 0
    assert {v["level"] for v in json.loads(out)["violations"]} == {"advisory"}

    as_yaml = tmp_path / "policy.yaml"
    as_yaml.write_text(
        yaml.safe_dump(
            {
                "all": "advisory",
                "vault-role-token-ttl-cap": {"enforcementLevel": "mandatory", "maxTokenTtlSeconds": 4 * 3600},
            }
        )
    )
    code, out, _ = run(capsys, "--config-file", stack, "--format", "json", "--policy-config", str(as_yaml))
    assert code == 0
    rules = {v["rule"] for v in json.loads(out)["violations"]}
    assert "vault-role-token-ttl-cap" not in rules  # 4h is within the raised cap
    assert "vault-audit-device-present" in rules


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"no-such-rule": "advisory"}', "unknown rule(s) no-such-rule"),
        ('{"vault-role-token-ttl-cap": {"maxTokenTtlSeconds": "1h"}}', "expected integer"),
        ("[1, 2]", "not a mapping"),
        ("{", "not valid JSON or YAML"),
    ],
)
def test_bad_policy_config_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "policy.json"
    path.write_text(content)
    code, out, err = run(capsys, "--stack", "dev", "--policy-config", str(path))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: --policy-config")
    assert message in err


def test_the_offline_plan_analyzes_what_the_engine_sends_for_the_stack(tmp_path: Path) -> None:
    """AnalyzeStack gets each resource's outputs: a RandomPassword's result exported under an innocent name is
    caught offline as `pulumi preview` on an existing stack catches it (its inputs hold no result at all)."""
    from planner.plan import build_plan

    program = tmp_path / "__main__.py"
    program.write_text(
        "import pulumi, pulumi_random as random\n"
        "password = random.RandomPassword('build', length=24)\n"
        "pulumi.export('buildInfo', {'revision': 'abc123', 'seed': password.result})\n"
    )
    stack = tmp_path / "Pulumi.outputs.yaml"
    stack.write_text("config: {}\n")
    plan = build_plan(stack, program=program)
    (password,) = plan.capture.of_type("random:index/randomPassword:RandomPassword")
    assert "result" not in password.inputs and "result" in (password.outputs or {})
    (found,) = [v for v in plan.violations if v.rule == "no-secret-in-stack-outputs"]
    assert found.mandatory and "output 'buildInfo' at 'seed' carries a secret value" in found.message
    assert str(password.outputs["result"]) not in found.message
