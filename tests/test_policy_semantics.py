"""The pack reads values as Vault and the consumers read them: one test per fact the rules rely on.

Vault's policy paths (a leading `/` stripped, `+` and a trailing `*`), the `default` policy's grants, Go's
``strconv.ParseBool``, Go template truth, Helm's values layering and chart names, Kubernetes label
selectors, credential names and values, and the chart defaults the rules assume (checked against the
charts' own values.yaml in ../shared/reference: missing reference data fails under CI=true).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from policies import charts, csi, external_secrets, vault_secrets_operator
from policies.charts import Unreadable, chart_name, layers, setting
from policies.core import Resource
from policies.credentials import (
    SecretIndex,
    argument_entries,
    carries_credential,
    credential_entry,
    credential_name,
    not_a_credential,
)
from policies.kubernetes import certificates_only, selects_every_namespace
from policies.values import (
    UNKNOWN,
    Asset,
    duration_seconds,
    go_bool,
    helm_enabled,
    helm_truthy,
    insecure_url,
    rendered_true,
)
from policies.vault import api_server_audience
from policies.vault_hcl import default_grants, granted_by_default, parse_policy, reaches, reaches_every_name
from policies.wire import decode, to_struct, wire
from tests.reference import require_reference


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *((v, True) for v in ("1", "t", "T", "TRUE", "true", "True", True)),
        *((v, False) for v in ("0", "f", "F", "FALSE", "false", "False", False)),
        *((v, None) for v in ("yes", "on", "tRuE", " true", "2", "", None, 1, 1.0, ["true"])),
    ],
)
def test_go_parse_bool(value: Any, expected: bool | None) -> None:
    assert go_bool(value) is expected


@pytest.mark.parametrize(
    ("value", "truthy"),
    [
        *((v, False) for v in (False, None, 0, 0.0, "", [], {})),
        *((v, True) for v in (True, "false", "0", 1, ["x"], {"a": 1})),
    ],
)
def test_go_template_truth(value: Any, truthy: bool) -> None:
    assert helm_truthy(value) is truthy


def test_the_vault_chart_compares_switches_as_strings() -> None:
    assert helm_enabled(True) and helm_enabled("true")
    assert not helm_enabled("True") and not helm_enabled("-") and not helm_enabled(1)


def test_vault_strips_one_leading_slash_and_merges_what_it_names() -> None:
    (rule,) = parse_policy(
        'path "/sys/audit" { capabilities = ["read"] }\npath "sys/audit" { capabilities = ["update"] }'
    )
    assert rule.path == "sys/audit" and rule.capabilities == {"read", "update"}


@pytest.mark.parametrize(
    ("path", "every_name"),
    [
        ("*", True),
        ("secret*", True),
        ("secret/*", True),
        ("secret/+/*", True),
        ("secret/data*", True),
        ("secret/data/*", True),
        ("secret/data/+/config", True),
        ("secret/data/app*", True),
        ("database/creds/*", True),
        ("team/kv/data/*", True),
        ("+/data/app", True),
        ("secret/data/app/*", False),
        ("secret/data/app/+/config", False),
        ("secret/data/app", False),
        ("secret/app/*", False),
        ("database/creds/app-read", False),
        ("secret/data/*/config", False),  # a `*` that is not trailing is a literal character
        ("secret/data/a+b/x", False),  # `+` only as a whole segment
    ],
)
def test_which_wildcards_reach_every_name(path: str, every_name: bool) -> None:
    assert reaches_every_name(path) is every_name


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


def test_the_default_policy_grants() -> None:
    grants = default_grants()
    assert grants["auth/token/renew-self"] >= {"update"} and grants["sys/leases/renew"] >= {"update", "create"}
    assert "cubbyhole/*" in grants and "identity/oidc/provider/+/authorize" in grants
    (renew,) = parse_policy('path "sys/leases/renew" { capabilities = ["update"] }')
    (revoke,) = parse_policy('path "sys/leases/revoke" { capabilities = ["update"] }')
    (sudo,) = parse_policy('path "sys/leases/renew" { capabilities = ["update", "sudo"] }')
    assert granted_by_default(renew) and not granted_by_default(revoke) and not granted_by_default(sudo)


@pytest.mark.parametrize(
    ("audience", "api_server"),
    [
        ("https://kubernetes.default.svc.cluster.local", True),
        ("https://kubernetes.default.svc", True),
        ("kubernetes.default.svc", True),
        ("kubernetes", True),
        ("https://kubernetes.default.svc.example.internal", True),
        ("vault", False),
        ("https://vault.example.com", False),
        ("https://kubernetes.example.com:6443", False),
    ],
)
def test_api_server_audiences(audience: str, api_server: bool) -> None:
    assert api_server_audience(audience) is api_server


@pytest.mark.parametrize(
    ("url", "insecure"),
    [
        ("http://vault.example.com", True),
        ("vault.example.com:8200", True),
        ("https://vault.example.com", False),
        ("http://127.0.0.1:8200", False),
        ("http://[::1]:8200", False),
        ("http://localhost:8200", False),
        ("https://[fd00::1:8200", False),  # Go refuses it too: nothing is sent
        ("", False),
    ],
)
def test_insecure_urls(url: str, insecure: bool) -> None:
    assert insecure_url(url) is insecure


def test_durations() -> None:
    assert duration_seconds("1h30m") == 5400 and duration_seconds(900.0) == 900 and duration_seconds("0") == 0
    assert duration_seconds("soon") is None and duration_seconds(float("inf")) is None and duration_seconds(-5) is None


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("DB_PASSWORD", True),
        ("DB_PASS", True),
        ("apiKey", True),
        ("SECRET_ID", True),
        ("client_secret", True),
        ("db.password", True),
        ("DB_PASSWORD_FILE", False),
        ("tokenTtl", False),
        ("LOG_LEVEL", False),
        ("TOKEN_HEADER", False),
        ("SECRET_BACKEND", False),
        ("secretStore", False),
        ("secretProviderClass", False),
        ("secretName", False),
        ("vault.hashicorp.com/agent-inject-secret-db", False),
        ("publicKey", False),
    ],
)
def test_credential_names(name: str, credential: bool) -> None:
    assert credential_name(name) is credential


@pytest.mark.parametrize(
    ("value", "cleared"),
    [
        ("", True),
        ("true", True),
        ("15m", True),
        ("/vault/secrets/db", True),
        ("$(DB_PASSWORD)", True),
        ("${DB_PASSWORD}", True),
        ("{{ .Data.password }}", True),
        ("https://auth.example.com/oauth/token", True),
        ("hunter2", False),
        ("postgres://app:hunter2@db/app", False),
        ("https://hooks.example.com/x?token=abc123", False),
    ],
)
def test_values_that_cannot_be_credentials(value: str, cleared: bool) -> None:
    assert not_a_credential(value) is cleared


def test_credentials_inside_multi_line_values_and_command_lines() -> None:
    properties = "db.url=jdbc:postgresql://db/app\n# comment\ndb.password=hunter2\n"
    assert carries_credential("application.properties", properties) == "application.properties: db.password"
    assert carries_credential("app.yaml", "db:\n  host: db\n  password: hunter2\n") == "app.yaml: password"
    assert carries_credential("app.yaml", "db:\n  host: db\n  password: ${DB_PASSWORD}\n") is None
    pairs = set(argument_entries(["--db-password=x1", "--token", "x2", "-Dapp.secret=x3", "sh -c 'app --pass x4'"]))
    assert {("db-password", "x1"), ("token", "x2"), ("Dapp.secret", "x3"), ("pass", "x4")} <= pairs
    assert credential_entry("", "postgres://u:pw@h/db")


def test_the_secret_index_finds_and_masks_the_longest_secret() -> None:
    index = SecretIndex(["abcdef", "abcdefgh-long-secret", "short"])
    assert index.found_in("x abcdefgh-long-secret y") and index.found_in("abcdef") and not index.found_in("short")
    assert index.redact("a abcdefgh-long-secret b abcdef c") == "a [secret] b [secret] c"
    assert not SecretIndex([]).found_in("anything") and SecretIndex([]).redact("x") == "x"


def test_decode_reads_the_wire_form_and_the_sdk_form_alike() -> None:
    from google.protobuf import json_format
    from pulumi.output import Unknown
    from pulumi_policy.deserialize import deserialize_properties
    from pulumi_policy.proxy import unknown_checking_proxy

    from policies.wire import SECRET_SIG, SIG_KEY

    captured = {"n": 3, "s": {SIG_KEY: SECRET_SIG, "value": "pw"}, "u": Unknown(), "l": [1, Unknown(), {"x": True}]}
    sdk = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(to_struct(captured))))
    assert decode(sdk) == decode(captured) == {"n": 3.0, "s": "pw", "u": UNKNOWN, "l": [1.0, UNKNOWN, {"x": True}]}
    assert decode(wire(10**400)) == decode(10**400) == str(10**400) and decode(float("nan")) == "nan"


# --- charts ---------------------------------------------------------------------------------------------


def chart_resource(**props: Any) -> Resource:
    return Resource("kubernetes:helm.sh/v4:Chart", "c", "urn:c", props)


@pytest.mark.parametrize(
    "chart",
    [
        "external-secrets",
        "external-secrets/external-secrets",
        "oci://ghcr.io/external-secrets/charts/external-secrets",
        "./charts/external-secrets-2.9.0.tgz",
        "charts/external-secrets/",
        "https://charts.example.com/external-secrets-2.9.0.tgz",
        "oci://ghcr.io/external-secrets/charts/external-secrets:2.9.0",
    ],
)
def test_a_chart_is_named_by_what_helm_installs(chart: str) -> None:
    assert chart_name(chart_resource(chart=chart)) == "external-secrets"


def test_values_layer_as_helm_layers_them() -> None:
    files = [Asset("string", "<text>", "a: 1\nb: {c: 1}\n"), Asset("string", "<text>", "b: {c: 2, d: 3}\n")]
    resource = chart_resource(chart="x", values={"a": 5}, valueYamlFiles=files)
    found = layers(resource)
    assert setting(found, "a").value == 5 and setting(found, "b", "c").value == 2
    assert setting(found, "b", "d").value == 3 and setting(found, "e").state == "default"
    unreadable = layers(chart_resource(chart="x", valueYamlFiles=[Asset("file", "values.yaml", None)]))
    assert isinstance(unreadable[1], Unreadable) and setting(unreadable, "a").state == "unknown"
    assert setting(layers(chart_resource(chart="x", values=UNKNOWN)), "a").state == "unknown"
    assert setting(layers(chart_resource(chart="x", values={"a": {"b": UNKNOWN}})), "a", "b").state == "unknown"


@pytest.mark.parametrize(
    ("selector", "every"),
    [
        ({}, True),
        ({"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]}, True),
        ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, True),
        ({"matchLabels": {"team": "a"}}, False),
        ({"matchLabels": {"kubernetes.io/metadata.name": "app"}}, False),
        ({"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["app"]}]}, False),
        ({"matchExpressions": [{"key": "team", "operator": "Bogus"}]}, False),
        ("not a selector", False),
        ({"matchLabels": UNKNOWN}, None),
    ],
)
def test_namespace_selectors_that_select_every_namespace(selector: Any, every: bool | None) -> None:
    assert selects_every_namespace(selector) is every


def chart_defaults(chart: str) -> Any:
    return yaml.safe_load((require_reference() / "charts" / chart / "values.yaml").read_text())


def test_the_chart_defaults_the_rules_assume_are_the_charts_own() -> None:
    vault = chart_defaults("vault")
    for path, default in charts.VAULT_DEFAULTS.items():
        node = vault
        for step in path:
            node = node[step]
        assert node == default, path
    driver = chart_defaults("secrets-store-csi-driver")
    assert driver["enableSecretRotation"] == csi.DRIVER_DEFAULTS["enableSecretRotation"]
    assert driver["syncSecret"]["enabled"] == csi.DRIVER_DEFAULTS["syncSecret.enabled"]
    assert driver["logVerbosity"] == csi.DRIVER_DEFAULTS["logVerbosity"]
    eso = chart_defaults("external-secrets")
    for path in external_secrets.CLUSTER_WIDE_VALUES:
        node = eso
        for step in path:
            node = node[step]
        assert node is True, path

    vso = chart_defaults("vault-secrets-operator")
    for path, default in vault_secrets_operator.CHART_DEFAULTS.items():
        node = vso
        for step in path:
            node = node[step]
        assert node == default, path


@pytest.mark.parametrize(
    ("value", "true"),
    [
        *((v, True) for v in (True, "true", "True", "TRUE", "yes", "Yes", "on", "ON", "y", " true")),
        *((v, False) for v in (False, "false", "no", "off", "0", "1", "t", "", None, 1, ["true"])),
    ],
)
def test_a_value_printed_into_a_manifest_reads_back_as_yaml_1_1(value: Any, true: bool) -> None:
    """The VSO chart prints `skipTLSVerify: {{ .Values.defaultVaultConnection.skipTLSVerify }}`."""
    assert rendered_true(value) is true


CERT = "-----BEGIN CERTIFICATE-----\nMIIBexample\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(
    ("pem", "only"),
    [
        (CERT, True),
        (CERT + "\n" + CERT, True),
        (CERT + "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n", False),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n", False),
        ("password: hunter2\n" + CERT, False),
        ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END PUBLIC KEY-----\n", False),
        ("", False),
    ],
)
def test_a_ca_bundle_holds_certificates_and_nothing_else(pem: str, only: bool) -> None:
    assert certificates_only(pem) is only
