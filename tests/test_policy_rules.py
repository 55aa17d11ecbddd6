"""Every rule of the policy pack fails its failing fixtures and passes its passing ones, through the SDK's analyzer.

Fixtures are small Pulumi programs captured under the mock engine (``tests/policy_fixtures``);
``policies.runner.run_pack`` feeds them to the policy SDK's own analyzer servicer (``Configure``,
``Analyze`` per resource, ``AnalyzeStack``), as the engine would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy.proxy import unknown_checking_proxy

from policies import catalog
from policies.adapters import plain
from policies.core import UNKNOWN, Resource, credential_name, duration_seconds, evaluate_resource
from policies.runner import render_markdown, render_text, run_pack
from policies.vault_hcl import PolicyParseError, covers, glob_at_mount_root, parse_policy, reaches
from tests.conftest import dev_config, plan
from tests.policy_fixtures import capture, rules_violated, violations
from tests.policy_fixtures.cases import CASES
from tests.policy_fixtures.resources import KNOWN_SECRET, audits

RULES = catalog.by_name()
PROJECT_RULES_MD = "policies/RULES.md"


def _cases(kind: str) -> list[Any]:
    params = []
    for rule, case in CASES.items():
        programs = case.fails if kind == "fails" else case.passes
        params += [pytest.param(rule, p, id=f"{rule}-{kind}-{i}") for i, p in enumerate(programs)]
    return params


def test_every_rule_has_failing_and_passing_fixtures() -> None:
    assert set(CASES) == set(RULES), "a rule without fixtures, or fixtures of a rule that does not exist"
    for rule, case in CASES.items():
        assert case.fails and case.passes, rule


@pytest.mark.parametrize(("rule", "program"), _cases("fails"))
def test_failing_fixture_violates_its_rule(rule: str, program: Callable[[], Any]) -> None:
    found = [v for v in violations(program) if v.rule == rule]
    assert found, f"{rule} did not fire"
    for violation in found:
        assert violation.level == RULES[rule].level.value
        assert violation.message.startswith(f"[{rule}] "), violation.message
        assert "Fix: " in violation.message
        assert violation.name and violation.urn


@pytest.mark.parametrize(("rule", "program"), _cases("passes"))
def test_passing_fixture_satisfies_its_rule(rule: str, program: Callable[[], Any]) -> None:
    assert rule not in rules_violated(program)


def test_a_resource_violation_names_the_resource() -> None:
    from tests.policy_fixtures.resources import k8s_role

    (violation,) = [v for v in violations(lambda: k8s_role("ttl-role", token_ttl=7200)) if v.rule == "vault-role-token-ttl-cap"]
    assert violation.rule == "vault-role-token-ttl-cap"
    assert violation.name == "ttl-role"
    assert violation.type == "vault:kubernetes/authBackendRole:AuthBackendRole"
    assert violation.urn.endswith("::ttl-role")
    assert "'ttl-role'" in violation.message and "2h, above the cap of 1h" in violation.message


# --- secrets never reach a message ------------------------------------------------------------------------


def test_no_violation_message_contains_a_secret_value() -> None:
    """Every failing fixture at once: fixtures put KNOWN_SECRET in Secret data, KV data, a reviewer JWT,
    ConfigMaps, env vars and stack outputs; the rules report where, never what."""

    def everything() -> None:
        for case in CASES.values():
            for program in case.fails:
                try:
                    program()
                except Exception:  # noqa: BLE001 - two fixtures may register the same name; the rest still runs
                    continue

    found = violations(everything)
    fired = {v.rule for v in found}
    assert {
        "k8s-secret-no-literal-data",
        "k8s-no-plaintext-credentials",
        "no-secret-in-stack-outputs",
        "secret-fields-are-pulumi-secrets",
        "vault-auth-no-long-lived-reviewer-token",
    } <= fired
    for text in [v.message for v in found] + [render_text(found), render_markdown(found)]:
        assert KNOWN_SECRET not in text


def test_redaction_backs_up_a_check_that_quotes_a_secret() -> None:
    """Even a (buggy) check that echoes a secret field's value gets it masked by the core."""
    from dataclasses import replace

    from policies.core import Problem

    rule = replace(RULES["k8s-secret-no-literal-data"], check=lambda r, c: [Problem(f"value {r.props['stringData']}")])
    secret = Resource("kubernetes:core/v1:Secret", "s", "urn:s", {"stringData": {"pw": KNOWN_SECRET}})
    (finding,) = evaluate_resource(rule, secret)
    assert KNOWN_SECRET not in finding.message and "[secret]" in finding.message


# --- the dev stack -------------------------------------------------------------------------------------------


def _with_audit_devices() -> Any:
    """The dev stack plus the two audit devices the stack is expected to add (see vault-audit-device-present)."""
    dev = plan(dev_config(), stack="dev")
    extra = capture(audits)
    root = next(r.parent for r in dev.resources if r.parent and "::pulumi:pulumi:Stack::" in r.parent)
    for resource in extra.resources:
        resource.parent = root
    dev.resources.extend(extra.resources)
    return dev


def test_dev_stack_passes_every_mandatory_rule() -> None:
    found = run_pack(_with_audit_devices())
    assert [v for v in found if v.mandatory] == []


def test_dev_stack_without_audit_devices_fails_only_the_audit_rule() -> None:
    found = run_pack(plan(dev_config(), stack="dev"))
    assert {v.rule for v in found if v.mandatory} == {"vault-audit-device-present"}


def test_dev_stack_role_and_policy_are_actually_checked() -> None:
    """The dev stack passes because it is compliant, not because the rules skip it: break its role and see."""
    dev = _with_audit_devices()
    role = next(r for r in dev.resources if r.type == "vault:kubernetes/authBackendRole:AuthBackendRole")
    role.inputs = {**role.inputs, "boundServiceAccountNames": ["*"], "tokenPolicies": ["workload-other-x", "root"]}
    fired = {v.rule for v in run_pack(dev) if v.mandatory}
    assert {
        "vault-role-no-glob-bindings",
        "vault-role-no-root-policy",
        "vault-role-own-policy",
        "vault-role-policies-exist",
    } <= fired


# --- the rule table -----------------------------------------------------------------------------------------


def test_rule_table_describes_every_rule() -> None:
    table = catalog.rule_table()
    assert len(table) >= 24
    for row in table:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", row["name"]), row["name"]
        assert row["description"] and row["remediation"] and row["source"] and row["target"]
        assert row["level"] in {"mandatory", "advisory"}
    levels = {row["name"]: row["level"] for row in table}
    # Where a breach exposes secrets, the rule blocks.
    for name in (
        "vault-role-no-glob-bindings",
        "vault-policy-no-root-glob",
        "vault-policy-no-privileged-write",
        "vault-auth-tls",
        "eso-no-service-account-token-target",
        "csi-object-paths-safe",
        "csi-driver-log-verbosity",
        "k8s-secrets-as-files",
        "secret-fields-are-pulumi-secrets",
        "no-secret-in-stack-outputs",
        "vault-audit-device-present",
    ):
        assert levels[name] == "mandatory", name


@pytest.mark.parametrize(
    ("rule", "keys"),
    [
        ("vault-role-token-ttl-cap", {"maxTokenTtlSeconds"}),
        ("vault-role-token-max-ttl-cap", {"maxTokenMaxTtlSeconds"}),
        ("eso-refresh-interval-bounds", {"refreshIntervalMinSeconds", "refreshIntervalMaxSeconds"}),
        ("vault-auth-no-long-lived-reviewer-token", {"allowLongLivedReviewerToken"}),
        ("vault-policy-sudo-allow-list", {"sudoAllowList"}),
        ("eso-chart-cluster-wide-off", {"allowClusterWideFeatures"}),
        ("csi-sync-secret-allowed", {"allowSyncSecret"}),
        ("csi-driver-log-verbosity", {"maxLogVerbosity"}),
        ("vault-audit-devices-redundant", {"minAuditDevices"}),
    ],
)
def test_threshold_rules_declare_a_config_schema(rule: str, keys: set[str]) -> None:
    assert {p.name for p in RULES[rule].params} == keys
    for param in RULES[rule].params:
        assert param.schema["type"] and "default" in param.schema and param.description


def test_rules_md_is_generated_from_the_rule_table(project_root: Any) -> None:
    text = (project_root / PROJECT_RULES_MD).read_text()
    assert text == catalog.render_rules_markdown(), "regenerate: python -m policies.catalog > policies/RULES.md"
    for rule in RULES:
        assert f"| `{rule}` |" in text


# --- the pure core -------------------------------------------------------------------------------------------


def test_policy_parser_merges_repeated_stanzas_and_expands_the_legacy_form() -> None:
    rules = parse_policy(
        'path "a/b" { capabilities = ["read"] }\npath "a/b" { capabilities = ["update"] }\npath "c" { policy = "write" }\n'
    )
    assert {r.path: set(r.capabilities) for r in rules} == {
        "a/b": {"read", "update"},
        "c": {"create", "read", "update", "delete", "list"},
    }
    assert parse_policy('{"path": {"x": {"capabilities": ["read"]}, "x": {"capabilities": ["list"]}}}')[0].capabilities == {
        "read",
        "list",
    }
    with pytest.raises(PolicyParseError):
        parse_policy('path "x" { capabilities = ["root"] }')


@pytest.mark.parametrize(
    ("pattern", "area", "expected"),
    [
        ("sys/policies/acl/x", "sys/", True),
        ("sys*", "sys/", True),
        ("s*", "sys/", True),
        ("+/audit", "sys/", True),
        ("secret/data/sys/x", "sys/", False),
        ("system/x", "sys/", False),
        ("auth/+/role/x", "auth/", True),
        ("*", "identity/", True),
    ],
)
def test_reaches(pattern: str, area: str, expected: bool) -> None:
    assert reaches(pattern, area) is expected


def test_path_shapes() -> None:
    assert glob_at_mount_root("secret/*") and glob_at_mount_root("secret/data/*") and glob_at_mount_root("*")
    assert not glob_at_mount_root("secret/data/app/*") and not glob_at_mount_root("secret/data/app")
    assert covers("secret/data/*", "secret/data/app") and not covers("secret/data/app", "secret/data/app")
    assert covers("secret/+/app", "secret/data/app") and not covers("secret/data/*", "kv/data/app")


def test_core_helpers() -> None:
    assert duration_seconds("1h30m") == 5400 and duration_seconds(900.0) == 900 and duration_seconds("0") == 0
    assert duration_seconds("soon") is None
    assert credential_name("DB_PASSWORD") and credential_name("apiKey") and not credential_name("DB_PASSWORD_FILE")
    assert not credential_name("tokenTtl") and not credential_name("LOG_LEVEL")


def test_unknown_values_from_a_preview_do_not_stop_a_rule() -> None:
    """The SDK raises on reading an unknown; the adapter turns it into UNKNOWN and the rules skip what they cannot know."""
    props = unknown_checking_proxy(
        {"tokenTtl": "3eeb2bf0-c639-47a8-9e75-3b44932eb421", "audience": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}
    )
    resource = Resource("vault:kubernetes/authBackendRole:AuthBackendRole", "r", "urn:r", plain(props))
    assert resource.props == {"tokenTtl": UNKNOWN, "audience": UNKNOWN}
    assert evaluate_resource(RULES["vault-role-token-ttl-cap"], resource) == []
    assert evaluate_resource(RULES["vault-role-audience-bound"], resource) == []
