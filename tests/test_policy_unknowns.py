"""Unknowns in a preview: a rule that cannot judge reports at most an advisory, and judges everything else.

In a preview the engine sends every value it does not know yet as the string
``04da6b54-80e4-46f7-96ec-b56ff0331ba9``, wherever it is (a whole property, an element of a list, a
field of a nested object), and the policy SDK's proxies raise ``UnknownValueError`` when a rule reads
one. These tests feed unknowns that way, through the analyzer servicer (the engine's path) and through
the direct evaluation (the offline plan's), and check that both say the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from policies.evaluate import evaluate_resources
from policies.inputs import PackResource, pack_resources
from policies.runner import run_servicer
from policies.verdicts import Violation
from policies.wire import UNKNOWN_STRING
from tests.policy_fixtures import capture, unknown
from tests.policy_fixtures.resources import (
    ESO_VALUES,
    POLICY_NAME,
    audit,
    eso_chart,
    jwt_role,
    k8s_role,
    policy,
    secret_provider_class,
    workload,
)

ROOT = "urn:pulumi:ci::secrets-platform::pulumi:pulumi:Stack::secrets-platform-ci"
ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"


def judged(resources: list[PackResource]) -> list[Violation]:
    """Both paths over engine-marshalled resources (with each role's own policy); they must agree."""
    resources = [*resources, *(own_policy(r.name) for r in resources if r.type == ROLE)]
    direct = evaluate_resources(resources)
    assert direct == run_servicer(pack_resources(resources))
    return direct


def judged_program(program: Callable[[], Any]) -> list[Violation]:
    captured = capture(program)
    return judged(pack_resources(captured.resources, captured.outputs))


def levels(found: list[Violation], rule: str) -> set[str]:
    return {v.level for v in found if v.rule == rule}


def role(name: str, **props: Any) -> PackResource:
    inputs = {
        "backend": "kubernetes",
        "roleName": name,
        "boundServiceAccountNames": [name],
        "boundServiceAccountNamespaces": [name],
        "audience": "vault",
        "tokenPolicies": [f"workload-{name}-{name}"],
        "tokenTtl": 900,
        "tokenMaxTtl": 3600,
        **props,
    }
    urn = f"urn:pulumi:ci::secrets-platform::{ROLE}::{name}"
    return PackResource(ROLE, name, urn, inputs, inputs, ROOT)


def own_policy(name: str) -> PackResource:
    props = {"name": f"workload-{name}-{name}", "policy": f'path "secret/data/{name}" {{ capabilities = ["read"] }}'}
    urn = f"urn:pulumi:ci::secrets-platform::vault:index/policy:Policy::{name}-policy"
    return PackResource("vault:index/policy:Policy", f"{name}-policy", urn, props, props, ROOT)


@pytest.mark.parametrize(
    "props",
    [
        {"audience": UNKNOWN_STRING},
        {"boundServiceAccountNames": UNKNOWN_STRING},
        {"boundServiceAccountNames": [UNKNOWN_STRING]},
        {"tokenPolicies": ["workload-app-app", UNKNOWN_STRING]},
        {"tokenTtl": UNKNOWN_STRING, "tokenMaxTtl": UNKNOWN_STRING},
        {"aliasNameSource": UNKNOWN_STRING},
    ],
    ids=["audience", "names", "a-name", "a-policy", "ttls", "alias"],
)
def test_an_unknown_property_gives_an_advisory_cannot_check_never_a_mandatory(props: dict[str, Any]) -> None:
    found = [v for v in judged([role("app", **props)]) if v.type == ROLE]
    assert found, "the rule says it could not check"
    assert all(v.level == "advisory" and v.message.startswith("can't run policy '") for v in found)
    assert all("cannot check during preview: " in v.message and "'app'" in v.message for v in found)


def test_every_other_resource_is_judged_normally() -> None:
    """One unknown role beside a known violating one: the known one keeps its mandatory verdicts."""
    found = judged([role("app", audience=UNKNOWN_STRING), role("bad", audience=None, tokenTtl=7200)])
    by_name = {(v.name, v.rule): v.level for v in found if v.type == ROLE}
    assert by_name[("app", "vault-role-audience-bound")] == "advisory"
    assert by_name[("bad", "vault-role-audience-bound")] == "mandatory"
    assert by_name[("bad", "vault-role-token-ttl-cap")] == "mandatory"


def test_a_known_violation_beside_an_unknown_field_stays_mandatory() -> None:
    found = judged([role("app", audience=UNKNOWN_STRING, boundServiceAccountNames=["app-*"])])
    assert levels(found, "vault-role-no-glob-bindings") == {"mandatory"}
    assert levels(found, "vault-role-audience-bound") == {"advisory"}


# --- the cases the issue lists, each through a program whose outputs are unknown ---------------------------


def test_unknown_chart_values_do_not_make_the_eso_chart_rule_mandatory() -> None:
    found = judged_program(lambda: eso_chart(unknown()))  # type: ignore[arg-type]
    assert levels(found, "eso-chart-cluster-wide-off") == {"advisory"}
    partly = judged_program(lambda: eso_chart({**ESO_VALUES, "processPushSecret": unknown()}))
    assert levels(partly, "eso-chart-cluster-wide-off") == {"advisory"}


def test_unknown_audit_options_do_not_make_audit_presence_mandatory() -> None:
    found = judged_program(lambda: (workload(), audit(options=unknown())))
    assert levels(found, "vault-audit-device-present") == {"advisory"}
    assert levels(judged_program(workload), "vault-audit-device-present") == {"mandatory"}


def test_unknown_jwt_audience_and_claim_are_advisory() -> None:
    found = judged_program(lambda: jwt_role(bound_audiences=[unknown()], user_claim=unknown()))
    assert levels(found, "vault-role-audience-bound") == {"advisory"}
    assert levels(found, "vault-role-alias-uid") == {"advisory"}


def test_one_unknown_policy_name_does_not_silence_policy_existence_for_the_stack() -> None:
    def program() -> None:
        from pulumi_vault import Policy

        policy()
        Policy("later", name=unknown(), policy='path "secret/data/x" { capabilities = ["read"] }')
        k8s_role()  # its policy exists
        k8s_role("two-missing", role_name="r2", token_policies=["missing-a", "missing-b"])  # one at least is missing
        k8s_role("one-missing", role_name="r3", token_policies=["missing-c"])  # it may be the policy named later

    found = [v for v in judged_program(program) if v.rule == "vault-role-policies-exist"]
    assert {v.name for v in found if v.mandatory} == {"two-missing"}
    (advisory,) = [v for v in found if not v.mandatory]
    assert "'one-missing'" in advisory.message and "'app-role'" not in advisory.message


def test_an_unknown_csi_provider_does_not_silence_the_tls_and_audience_rules() -> None:
    def program() -> None:
        secret_provider_class("known", parameters={"vaultSkipTLSVerify": "true", "audience": None})
        secret_provider_class("later", parameters={"vaultSkipTLSVerify": "true"}, provider=unknown("vault"))
        secret_provider_class("fine-later", provider=unknown("vault"))

    found = judged_program(program)
    tls = {(v.name, v.level) for v in found if v.rule == "csi-no-skip-tls-verify"}
    assert tls == {("known", "mandatory"), ("later", "advisory")}
    audience = {(v.name, v.level) for v in found if v.rule == "csi-audience-set"}
    assert audience == {("known", "mandatory")}


def test_an_unknown_backend_does_not_silence_role_uniqueness() -> None:
    def program() -> None:
        k8s_role("a", role_name="shared")
        k8s_role("b", role_name="shared", bound_service_account_names=["b"])
        k8s_role("c", role_name="shared", backend=unknown())

    found = [v for v in judged_program(program) if v.rule == "vault-role-unique"]
    assert {v.name for v in found if v.mandatory} == {"a", "b"}
    assert [v.level for v in found if not v.mandatory] == ["advisory"]
    assert all(v.level == "advisory" or "defined 2 times" in v.message for v in found)


def test_unknown_stack_outputs_are_advisory() -> None:
    outputs = {"dbPassword": UNKNOWN_STRING, "roles": {"app": "app"}, "settings": {"token": [UNKNOWN_STRING]}}
    found = judged([PackResource("pulumi:pulumi:Stack", "secrets-platform-ci", ROOT, {}, outputs)])
    (advisory,) = [v for v in found if v.rule == "no-secret-in-stack-outputs"]
    assert advisory.level == "advisory" and "'dbPassword'" in advisory.message and "'settings'" in advisory.message
    assert "'roles'" not in advisory.message


def test_an_unknown_policy_document_is_advisory_for_every_policy_rule() -> None:
    found = judged_program(lambda: policy(POLICY_NAME, unknown()))  # type: ignore[arg-type]
    policy_rules = {v.rule: v.level for v in found if v.type == "vault:index/policy:Policy"}
    assert policy_rules and set(policy_rules.values()) == {"advisory"}


def test_unknown_backends_with_distinct_role_names_cannot_collide() -> None:
    def program() -> None:
        k8s_role("a", role_name="first", backend=unknown())
        k8s_role("b", role_name="second", backend=unknown(), bound_service_account_names=["b"])

    assert not [v for v in judged_program(program) if v.rule == "vault-role-unique"]


def test_unknown_vso_fields_are_advisory() -> None:
    from tests.policy_fixtures.resources import vso_auth, vso_connection, vso_dynamic_secret

    def program() -> None:
        vso_connection(address=unknown(), skipTLSVerify=unknown())
        vso_auth(login={"audiences": unknown(), "serviceAccount": unknown()})
        vso_dynamic_secret(revoke=unknown())

    found = [v for v in judged_program(program) if v.rule.startswith("vso-")]
    assert {v.rule for v in found} == {
        "vso-connection-tls",
        "vso-auth-audience",
        "vso-auth-not-default-service-account",
        "vso-dynamic-secret-revoke",
    }
    assert {v.level for v in found} == {"advisory"}


def test_an_unknown_ca_bundle_is_advisory_but_unknown_secret_data_is_still_literal_data() -> None:
    """Only `ca.crt` with an unknown value may be a CA; a wholly unknown stringData (the SDK wraps a map with an
    unknown value in one secret Output) is literal data of unknown keys, as before."""
    secret = "kubernetes:core/v1:Secret"

    def ca(string_data: Any) -> PackResource:
        props = {"metadata": {"name": "app-vault-ca", "namespace": "app"}, "stringData": string_data}
        return PackResource(
            secret, "app-vault-ca", f"urn:pulumi:ci::secrets-platform::{secret}::ca", props, props, ROOT
        )

    (per_key,) = [v for v in judged([ca({"ca.crt": UNKNOWN_STRING})]) if v.rule == "k8s-secret-no-literal-data"]
    assert per_key.level == "advisory" and "cannot check during preview: " in per_key.message
    (whole,) = [v for v in judged([ca(UNKNOWN_STRING)]) if v.rule == "k8s-secret-no-literal-data"]
    assert whole.mandatory
