"""Policy-pack config changes verdicts: every threshold and allowance, and enforcement-level overrides.

Config goes the engine's way: ``run_pack`` reads the schemas from ``GetAnalyzerInfo``, fills the
defaults, applies the overrides and sends them with ``Configure``; the rules read it back from
the SDK's ``get_config()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from policies import catalog
from tests.policy_fixtures import rules_violated, violations
from tests.policy_fixtures.cases import CASES, SUDO_POLICY
from tests.policy_fixtures.resources import (
    CSI_VALUES,
    KNOWN_SECRET,
    NAMESPACE,
    audit,
    audits,
    csi_chart,
    db_role,
    db_static_role,
    deployment,
    eso_chart,
    external_secret,
    k8s_auth_config,
    k8s_role,
    pod_spec,
    policy,
    secret_provider_class,
)

# (rule, config key, program, value, fires by default, fires with the value)
THRESHOLDS: list[tuple[str, str, Callable[[], Any], Any, bool, bool]] = [
    ("vault-role-token-ttl-cap", "maxTokenTtlSeconds", lambda: k8s_role(token_ttl=7200), 7200, True, False),
    ("vault-role-token-ttl-cap", "maxTokenTtlSeconds", k8s_role, 600, False, True),
    (
        "vault-role-token-max-ttl-cap",
        "maxTokenMaxTtlSeconds",
        lambda: k8s_role(token_max_ttl=2 * 86400),
        2 * 86400,
        True,
        False,
    ),
    ("vault-role-token-max-ttl-cap", "maxTokenMaxTtlSeconds", k8s_role, 1800, False, True),
    (
        "eso-refresh-interval-bounds",
        "refreshIntervalMinSeconds",
        lambda: external_secret(refreshInterval="30s"),
        10,
        True,
        False,
    ),
    ("eso-refresh-interval-bounds", "refreshIntervalMaxSeconds", external_secret, 1800, False, True),
    (
        "vault-auth-no-long-lived-reviewer-token",
        "allowLongLivedReviewerToken",
        lambda: k8s_auth_config(token_reviewer_jwt=KNOWN_SECRET),
        True,
        True,
        False,
    ),
    (
        "vault-policy-sudo-allow-list",
        "sudoAllowList",
        lambda: policy("platform-admin", SUDO_POLICY),
        ["sys/leases/revoke-prefix/*"],
        True,
        False,
    ),
    (
        "eso-chart-cluster-wide-off",
        "allowClusterWideFeatures",
        lambda: eso_chart({"installCRDs": True}),
        True,
        True,
        False,
    ),
    (
        "csi-sync-secret-allowed",
        "allowSyncSecret",
        lambda: csi_chart({**CSI_VALUES, "syncSecret": {"enabled": True}}),
        True,
        True,
        False,
    ),
    (
        "csi-driver-log-verbosity",
        "maxLogVerbosity",
        lambda: csi_chart({**CSI_VALUES, "logVerbosity": 2}),
        2,
        True,
        False,
    ),
    (
        "csi-driver-log-verbosity",
        "maxLogVerbosity",
        lambda: csi_chart({**CSI_VALUES, "logVerbosity": 1}),
        0,
        False,
        True,
    ),
    ("vault-audit-devices-redundant", "minAuditDevices", audits, 3, False, True),
    ("vault-audit-devices-redundant", "minAuditDevices", audit, 1, True, False),
    (
        "k8s-secret-no-literal-data",
        "allowedLiteralSecrets",
        lambda: pulumi_secret("app-creds"),
        [f"{NAMESPACE}/app-creds"],
        True,
        False,
    ),
    (
        "no-secret-in-stack-outputs",
        "allowedSecretOutputs",
        lambda: pulumi.export("apiToken", pulumi.Output.secret(KNOWN_SECRET)),
        ["apiToken"],
        True,
        False,
    ),
    (
        "vault-policy-no-privileged-write",
        "adminPolicies",
        lambda: policy("platform-admin", 'path "sys/policies/acl/*" {\n  capabilities = ["update"]\n}\n'),
        ["Platform-Admin"],
        True,
        False,
    ),
    (
        "vault-database-credential-lifetime",
        "maxLeaseTtlSeconds",
        lambda: db_role(max_ttl=2 * 86400),
        3 * 86400,
        True,
        False,
    ),
    ("vault-database-credential-lifetime", "maxLeaseTtlSeconds", db_role, 1800, False, True),
    ("vault-database-credential-lifetime", "maxRotationPeriodSeconds", db_static_role, 3600, False, True),
    ("eso-no-push-secret", "allowPushSecret", CASES["eso-no-push-secret"].fails[0], True, True, False),
    (
        "vso-no-default-vault-auth",
        "allowDefaultVaultAuth",
        CASES["vso-no-default-vault-auth"].fails[0],
        True,
        True,
        False,
    ),
    (
        "k8s-projected-token-expiry",
        "maxTokenExpirationSeconds",
        CASES["k8s-projected-token-expiry"].fails[0],
        86400,
        True,
        False,
    ),
]


def pulumi_secret(name: str) -> Any:
    import pulumi_kubernetes as k8s

    return k8s.core.v1.Secret(name, metadata={"name": name, "namespace": NAMESPACE}, string_data={"pw": KNOWN_SECRET})


def test_every_config_key_of_every_rule_changes_a_verdict_here() -> None:
    declared = {(r.name, p.name) for r in catalog.RULES for p in r.params}
    assert declared == {(rule, key) for rule, key, *_ in THRESHOLDS}


@pytest.mark.parametrize(
    ("rule", "key", "program", "value", "by_default", "with_value"),
    THRESHOLDS,
    ids=[f"{t[0]}.{t[1]}={t[3]}" for t in THRESHOLDS],
)
def test_a_changed_threshold_changes_the_verdict(
    rule: str, key: str, program: Callable[[], Any], value: Any, by_default: bool, with_value: bool
) -> None:
    assert (rule in rules_violated(program)) is by_default
    assert (rule in rules_violated(program, {rule: {key: value}})) is with_value


def test_config_keeps_the_level_unless_it_is_overridden() -> None:
    program = lambda: k8s_role(token_ttl=7200)  # noqa: E731
    config = {"vault-role-token-ttl-cap": {"maxTokenTtlSeconds": 3000}}
    (found,) = [v for v in violations(program, config) if v.rule == "vault-role-token-ttl-cap"]
    assert found.rule == "vault-role-token-ttl-cap" and found.level == "mandatory"
    assert "above the cap of 50m" in found.message


WATCHED = {"vault-role-token-ttl-cap", "k8s-no-automount-sa-token"}


def bad_pod() -> None:
    """Breaks a mandatory rule (token TTL) and an advisory one (automount)."""
    deployment(spec=pod_spec(automountServiceAccountToken=None))
    k8s_role(token_ttl=7200, token_max_ttl=86400)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, {("vault-role-token-ttl-cap", "mandatory"), ("k8s-no-automount-sa-token", "advisory")}),
        (
            {"vault-role-token-ttl-cap": "advisory"},
            {("vault-role-token-ttl-cap", "advisory"), ("k8s-no-automount-sa-token", "advisory")},
        ),
        ({"vault-role-token-ttl-cap": "disabled"}, {("k8s-no-automount-sa-token", "advisory")}),
        (
            {"k8s-no-automount-sa-token": {"enforcementLevel": "mandatory"}},
            {("vault-role-token-ttl-cap", "mandatory"), ("k8s-no-automount-sa-token", "mandatory")},
        ),
        ({"all": "advisory"}, {("vault-role-token-ttl-cap", "advisory"), ("k8s-no-automount-sa-token", "advisory")}),
        ({"all": "disabled", "vault-role-token-ttl-cap": "mandatory"}, {("vault-role-token-ttl-cap", "mandatory")}),
    ],
)
def test_enforcement_levels_can_be_overridden(config: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    assert {(v.rule, v.level) for v in violations(bad_pod, config) if v.rule in WATCHED} == expected


def test_all_disabled_silences_the_pack() -> None:
    assert violations(bad_pod, {"all": "disabled"}) == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"no-such-rule": "advisory"}, "unknown rule(s) no-such-rule"),
        ({"vault-role-token-ttl-cap": {"maxTtl": 5}}, "vault-role-token-ttl-cap.maxTtl is not a setting"),
        ({"vault-role-token-ttl-cap": {"maxTokenTtlSeconds": "1h"}}, "expected integer"),
        ({"vault-role-token-ttl-cap": {"maxTokenTtlSeconds": 0}}, "at least 1"),
        ({"vault-policy-sudo-allow-list": {"sudoAllowList": "sys/*"}}, "expected array"),
        ({"vault-role-token-ttl-cap": "warn"}, "level 'warn' is not one of"),
        ({"all": {"maxTokenTtlSeconds": 5}}, "`all` takes a level only"),
    ],
)
def test_bad_config_is_refused_naming_the_rule_and_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        violations(secret_provider_class, config)
