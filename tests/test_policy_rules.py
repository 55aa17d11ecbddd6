"""Every rule of the policy pack fails its failing fixtures and passes its passing ones.

Fixtures are small Pulumi programs captured under the mock engine (``tests/policy_fixtures``); the
pack's direct evaluation judges them (``tests/test_policy_paths.py`` proves the policy SDK's analyzer
servicer, as the engine drives it, gives the same verdicts for every one of them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from policies import catalog
from policies.core import Resource, judge_resource
from policies.evaluate import evaluate_capture
from policies.vault_hcl import PolicyParseError, covers, parse_policy, reaches_every_name
from policies.verdicts import render_markdown, render_text
from tests.conftest import dev_config, plan
from tests.policy_fixtures import rules_violated, violations
from tests.policy_fixtures.cases import CASES
from tests.policy_fixtures.resources import KNOWN_SECRET

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

    (violation,) = [
        v for v in violations(lambda: k8s_role("ttl-role", token_ttl=7200)) if v.rule == "vault-role-token-ttl-cap"
    ]
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
                except Exception:
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
    ((_urn, message),) = judge_resource(rule, secret).violations
    assert KNOWN_SECRET not in message and "[secret]" in message


# --- the dev stack -------------------------------------------------------------------------------------------


def test_dev_stack_passes_every_mandatory_rule() -> None:
    found = evaluate_capture(plan(dev_config(), stack="dev"))
    assert [v.message for v in found] == []


def test_dev_stack_is_checked_not_skipped() -> None:
    """Every kind the dev stack registers that a rule targets is one the rules read: break each and see."""
    dev = plan(dev_config(), stack="dev")
    types = {r.type for r in dev.resources}
    assert {
        "vault:index/audit:Audit",
        "vault:kubernetes/authBackendRole:AuthBackendRole",
        "vault:index/policy:Policy",
        "vault:kubernetes/authBackendConfig:AuthBackendConfig",
        "kubernetes:external-secrets.io/v1:SecretStore",
        "kubernetes:external-secrets.io/v1:ExternalSecret",
        "kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass",
        "kubernetes:helm.sh/v4:Chart",
    } <= types
    broken = {
        "vault:kubernetes/authBackendRole:AuthBackendRole": {
            "boundServiceAccountNames": ["*"],
            "tokenPolicies": ["workload-other-x", "root"],
        },
        "vault:index/policy:Policy": {"policy": 'path "secret/*" { capabilities = ["read"] }'},
        "vault:kubernetes/authBackendConfig:AuthBackendConfig": {"kubernetesHost": "http://kubernetes:6443"},
        "kubernetes:external-secrets.io/v1:SecretStore": {"spec": {"provider": {"vault": {"server": "http://v"}}}},
        "kubernetes:external-secrets.io/v1:ExternalSecret": {
            "spec": {"target": {"template": {"type": "kubernetes.io/service-account-token"}}}
        },
        "kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass": {
            "spec": {"provider": "vault", "parameters": {"vaultSkipTLSVerify": "true", "objects": "- objectName: /x"}}
        },
        "kubernetes:helm.sh/v4:Chart": {"values": {"logVerbosity": 4, "syncSecret": {"enabled": True}}},
    }
    for resource in dev.resources:
        if resource.type in broken:
            resource.inputs = {**resource.inputs, **broken[resource.type]}
            resource.outputs = {**(resource.outputs or {}), **broken[resource.type]}
    dev.resources = [r for r in dev.resources if r.type != "vault:index/audit:Audit"]
    fired = {v.rule for v in evaluate_capture(dev) if v.mandatory}
    assert {
        "vault-audit-device-present",
        "vault-role-no-glob-bindings",
        "vault-role-no-root-policy",
        "vault-role-own-policy",
        "vault-role-policies-exist",
        "vault-policy-no-root-glob",
        "vault-auth-tls",
        "eso-store-https-ca",
        "eso-no-service-account-token-target",
        "csi-no-skip-tls-verify",
        "csi-object-paths-safe",
        "csi-driver-log-verbosity",
        "csi-sync-secret-allowed",
        "eso-chart-cluster-wide-off",
    } <= fired


# --- the rule table -----------------------------------------------------------------------------------------


def test_rule_table_describes_every_rule() -> None:
    table = catalog.rule_table()
    assert len(table) >= 24
    for row in table:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", row["name"]), row["name"]
        assert row["description"] and row["remediation"] and row["source"] and row["target"] and row["why"]
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
        ("vault-policy-no-privileged-write", {"adminPolicies"}),
        ("vault-database-credential-lifetime", {"maxLeaseTtlSeconds", "maxRotationPeriodSeconds"}),
        ("eso-no-push-secret", {"allowPushSecret"}),
        ("k8s-projected-token-expiry", {"maxTokenExpirationSeconds"}),
    ],
)
def test_threshold_rules_declare_a_config_schema(rule: str, keys: set[str]) -> None:
    assert {p.name for p in RULES[rule].params} == keys
    for param in RULES[rule].params:
        assert param.schema["type"] and "default" in param.schema and param.description


def test_rules_md_is_generated_from_the_rule_table(project_root: Any) -> None:
    text = (project_root / PROJECT_RULES_MD).read_text()
    assert text == catalog.render_rules_markdown(), "regenerate: python -m policies.catalog > policies/RULES.md"
    for rule in RULES.values():
        assert f"### `{rule.name}` ({rule.level.value}, {rule.severity.value})" in text
        assert f"- **Why it fires:** {rule.why}" in text


# --- the pure core -------------------------------------------------------------------------------------------


def test_policy_parser_merges_repeated_stanzas_and_expands_the_legacy_form() -> None:
    rules = parse_policy(
        'path "a/b" { capabilities = ["read"] }\n'
        'path "a/b" { capabilities = ["update"] }\n'
        'path "c" { policy = "write" }\n'
    )
    assert {r.path: set(r.capabilities) for r in rules} == {
        "a/b": {"read", "update"},
        "c": {"create", "read", "update", "delete", "list"},
    }
    assert parse_policy('{"path": {"x": {"capabilities": ["read"]}, "x": {"capabilities": ["list"]}}}')[
        0
    ].capabilities == {
        "read",
        "list",
    }
    with pytest.raises(PolicyParseError):
        parse_policy('path "x" { capabilities = ["root"] }')


def test_path_shapes() -> None:
    assert reaches_every_name("secret/*") and reaches_every_name("secret/data/*") and reaches_every_name("*")
    assert not reaches_every_name("secret/data/app/*") and not reaches_every_name("secret/data/app")
    assert covers("secret/data/*", "secret/data/app") and not covers("secret/data/app", "secret/data/app")
    assert covers("secret/+/app", "secret/data/app") and not covers("secret/data/*", "kv/data/app")


# --- rendering -------------------------------------------------------------------------------------------------


def test_text_and_markdown_list_rule_resource_and_fix_mandatory_first() -> None:
    from tests.policy_fixtures.resources import deployment, k8s_role, pod_spec

    def program() -> None:
        deployment("web|app", spec=pod_spec(automountServiceAccountToken=None))
        k8s_role(token_ttl=7200, token_max_ttl=86400)

    found = [v for v in violations(program) if v.rule in {"vault-role-token-ttl-cap", "k8s-no-automount-sa-token"}]
    assert [v.rule for v in found] == ["vault-role-token-ttl-cap", "k8s-no-automount-sa-token"]

    text = render_text(found)
    assert text.splitlines()[0] == "Policy pack secrets-platform: 1 mandatory and 1 advisory violation(s)."
    assert text.splitlines()[1].startswith("  MANDATORY [vault-role-token-ttl-cap] ")

    markdown = render_markdown(found).splitlines()
    assert markdown[2:4] == ["| level | rule | resource | problem and fix |", "|---|---|---|---|"]
    assert markdown[4].startswith("| **mandatory** | `vault-role-token-ttl-cap` | `app-role` (vault:kubernetes/")
    assert "Fix: set `token_ttl`" in markdown[4]
    assert markdown[5].startswith(
        "| advisory | `k8s-no-automount-sa-token` | `web\\|app` (kubernetes:apps/v1:Deployment)"
    )
    assert all(len(re.split(r"(?<!\\)\|", line)) == 6 for line in markdown[4:6]), "four columns, pipes escaped"
    assert render_markdown([]).startswith("### Policy pack secrets-platform: no violations.")


def test_readme_rule_table_is_current() -> None:
    from planner.engine import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text()
    start, end = readme.index(catalog.README_START), readme.index(catalog.README_END) + len(catalog.README_END)
    assert readme[start:end] == catalog.render_readme_table(), "regenerate: python -m policies.catalog --readme"
