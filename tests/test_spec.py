"""Pure tier: the stack spec's validation and the workload policy it implies."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from components.args import AuthMethod, ReviewerMode
from components.policy_document import PolicyRule
from components.spec import from_config, validate_platform
from components.validation import SpecError
from components.workload_access import workload_policy, workload_rules
from tests.conftest import dev_config, grants


def project_config() -> dict[str, Any]:
    config = dev_config()
    return {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("secrets-platform:")}


def spec_with(mutate: Any) -> Any:
    config = copy.deepcopy(project_config())
    mutate(config)
    return validate_platform(from_config(config))


def test_dev_stack_is_the_seed() -> None:
    spec = spec_with(lambda c: None)
    assert spec.clusters[0].auth_method is AuthMethod.KUBERNETES
    assert spec.clusters[0].auth_mount == "kubernetes"
    assert spec.clusters[0].auth.reviewer is ReviewerMode.VAULT_POD_TOKEN  # type: ignore[union-attr]
    by_role = {w.role: w for w in spec.workloads}
    assert set(by_role) == {"my-role", "k8s-role"}
    assert [(s.api_path, s.key) for s in by_role["my-role"].secrets] == [("secret/data/myapp", "apikey")]
    assert [(s.api_path, s.key) for s in by_role["k8s-role"].secrets] == [("secret/data/db", "username")]


def test_workload_policy_is_read_on_exactly_its_data_paths() -> None:
    spec = spec_with(lambda c: None)
    myapp = next(w for w in spec.workloads if w.role == "my-role")
    assert workload_rules(myapp) == (PolicyRule("secret/data/myapp", ("read",)),)
    assert grants(workload_policy(myapp)) == {"secret/data/myapp": ("read",)}


def _set(path: list[Any], value: Any) -> Any:
    def mutate(config: dict[str, Any]) -> None:
        target: Any = config
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return mutate


HOSTILE = [
    (["workloads", 0, "secrets", 0, "path"], 'secret/data/a"b', "workloads[0].secrets[0].path"),
    (["workloads", 0, "secrets", 0, "path"], "secret/data/a\nb", "workloads[0].secrets[0].path"),
    (["workloads", 0, "secrets", 0, "path"], "secret/data/*", "workloads[0].secrets[0].path"),
    (["workloads", 0, "secrets", 0, "path"], "secret/metadata/a", "workloads[0].secrets[0].path"),
    (["workloads", 0, "secrets", 0, "path"], "sys/data/a", "workloads[0].secrets[0].path"),
    (["workloads", 0, "secrets", 0, "path"], "secret/data/../x", "workloads[0].secrets[0].path"),
    (["workloads", 0, "serviceAccount"], "app-*", "workloads[0].serviceAccount"),
    (["workloads", 0, "serviceAccount"], "*", "workloads[0].serviceAccount"),
    (["workloads", 0, "namespace"], "My_Namespace", "workloads[0].namespace"),
    (["workloads", 0, "namespace"], "team-?", "workloads[0].namespace"),
    (["workloads", 0, "tokenTtl"], "ten minutes", "workloads[0].tokenTtl"),
    (["workloads", 0, "tokenTtl"], "48h", "workloads[0].tokenTtl"),
    (["workloads", 0, "tokenMaxTtl"], "5m", "workloads[0].tokenMaxTtl"),
    (["workloads", 0, "role"], "my role", "workloads[0].role"),
    (["workloads", 0, "secrets", 0, "key"], "api key", "workloads[0].secrets[0].key"),
    (["workloads", 0, "secrets", 0, "name"], "../etc/passwd", "workloads[0].secrets[0].name"),
    (["workloads", 0, "serviceAcount"], "myapp", "workloads[0].serviceAcount"),
    (["cluster", "authMethod"], "ldap", "cluster.authMethod"),
    (["cluster", "reviewer"], "anyone", "cluster.reviewer"),
    (["cluster", "apiHost"], "http://kubernetes.example.com", "cluster.apiHost"),
    (["cluster", "caCert"], "not a certificate", "cluster.caCert"),
    (["cluster", "authMount"], "auth/../sys", "cluster.authMount"),
    (["vault", "address"], "vault.example.com", "vault.address"),
    (["vault", "adress"], "https://vault.example.com", "vault.adress"),
    (["workload"], [], "workload"),
]


@pytest.mark.parametrize(("path", "value", "field"), HOSTILE, ids=[h[2] + "=" + repr(h[1]) for h in HOSTILE])
def test_hostile_values_are_refused_naming_the_field(path: list[Any], value: Any, field: str) -> None:
    with pytest.raises(SpecError) as error:
        spec_with(_set(path, value))
    assert error.value.field == field
    assert str(error.value).startswith(f"{field}: ")
    assert "\n" not in str(error.value)


def test_two_workloads_cannot_share_a_role() -> None:
    with pytest.raises(SpecError, match=r"workloads\[1\]\.role: 'my-role'"):
        spec_with(_set(["workloads", 1, "role"], "my-role"))


def test_client_jwt_review_needs_the_api_servers_own_audience() -> None:
    """The API server authenticates a TokenReview's credential only for its own audiences: with client-jwt,
    a pod token bound to `vault` would be refused (shown against a real API server in tests/cluster)."""
    with pytest.raises(SpecError, match=r"cluster.reviewer: 'client-jwt' is not allowed: vault-pod-token or"):
        spec_with(_set(["cluster", "reviewer"], "client-jwt"))

    def api_audience(config: dict[str, Any]) -> None:
        config["cluster"].update(reviewer="client-jwt", audience="https://kubernetes.default.svc")

    accepted = spec_with(api_audience)
    assert accepted.clusters[0].auth.reviewer is ReviewerMode.CLIENT_JWT  # type: ignore[union-attr]


def test_openbao_agent_deliveries_refuse_a_mount_that_sets_deletion_times() -> None:
    """OpenBao Agent's templates take a version with a deletion time for deleted (tests/cluster shows the
    agent retrying forever): a mount the injector reads may not set deleteVersionAfter on OpenBao."""

    def injected(config: dict[str, Any]) -> None:
        config["vault"]["server"] = "openbao"
        config["kv"][0]["deleteVersionAfter"] = "90d"
        config["workloads"][0]["secrets"][0]["delivery"] = "agent-injector"

    with pytest.raises(SpecError, match=r"kv\[0\]\.deleteVersionAfter: '2160h' is not allowed"):
        spec_with(injected)

    def on_vault(config: dict[str, Any]) -> None:
        injected(config)
        config["vault"]["server"] = "vault"

    assert spec_with(on_vault).kv[0].delete_version_after == 90 * 86400


def test_jwt_auth_needs_an_issuer_and_keys_or_a_discovery_ca() -> None:
    def jwt(config: dict[str, Any]) -> None:
        config["cluster"] = {"name": "dev", "apiHost": "https://k.example.com", "authMethod": "jwt"}

    with pytest.raises(SpecError, match="cluster.issuer"):
        spec_with(jwt)


def test_durations_parse() -> None:
    spec = spec_with(_set(["workloads", 0, "tokenTtl"], "45m"))
    assert spec.workloads[0].token_ttl == 2700
    spec = spec_with(_set(["workloads", 0, "tokenMaxTtl"], "1h30m"))
    assert spec.workloads[0].token_max_ttl == 5400
    with pytest.raises(SpecError, match="tokenMaxTtl.*at least tokenTtl"):
        spec_with(_set(["workloads", 0, "tokenTtl"], "2h"))


def test_a_platform_beyond_the_size_limits_is_refused_before_any_entry_is_validated() -> None:
    """A program composing SecretsPlatform has no config limit: the model's own limits refuse it, naming them."""
    from components.spec import MAX_ENTRIES

    secrets = [{"path": f"secret/data/s{i}", "key": "k", "name": f"k{i}"} for i in range(MAX_ENTRIES // 5)]
    config = project_config()
    config["workloads"] = [
        {"name": f"w{i}", "namespace": f"w{i}", "serviceAccount": "w", "secrets": secrets} for i in range(6)
    ] + [{"name": "never validated", "namespace": 7}]
    with pytest.raises(SpecError) as refused:
        validate_platform(from_config(config))
    message = str(refused.value)
    assert re.match(r"workloads: '[0-9,]+ entries' is not allowed: at most 10,000 workloads", message), message
    assert f"{MAX_ENTRIES:,} entries in all" in message
