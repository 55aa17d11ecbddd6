"""The component package's schema, inferred in-process as `pulumi package add ./components` would."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from pulumi.provider.experimental.component import ComponentProvider

from components import PUBLIC_COMPONENTS, SecretsPlatform
from planner.engine import PROJECT_ROOT, run_program
from tests.conftest import dev_config

EXPECTED = {
    "KubernetesAuth": (
        {"path", "kubernetesHost", "kubernetesCaCert", "reviewer", "reviewerNamespace"},
        {"path", "accessor"},
    ),
    "JwtAuth": ({"path", "issuer", "discoveryCaCert", "validationPubkeys"}, {"path", "accessor"}),
    "WorkloadAccess": (
        {"workload", "authMount", "authMethod", "audience", "grantAuthDelegator"},
        {"policyName", "roleName", "policyDocument"},
    ),
    "ExternalSecretsOperator": ({"namespace", "clusterWide", "installMethod"}, {"namespace"}),
    "SecretsStoreCsi": (
        {"vaultAddress", "namespace", "rotationPollInterval", "syncSecret", "installMethod"},
        {"namespace"},
    ),
    "VaultAgentInjector": ({"vaultAddress", "authPath", "namespace", "installMethod"}, {"namespace"}),
    "SecretsPlatform": (
        {"vault", "cluster", "workloads", "kv", "databases", "delivery", "auditDevices"},
        {
            "authMount",
            "roles",
            "policies",
            "access",
            "nextRotations",
            "podAnnotations",
            "podVolumes",
            "deploymentAnnotations",
            "delivered",
        },
    ),
}


@pytest.fixture(scope="module")
def provider() -> ComponentProvider:
    return ComponentProvider(PUBLIC_COMPONENTS, "vaultk8s")


@pytest.fixture(scope="module")
def schema(provider: ComponentProvider) -> dict[str, Any]:
    return json.loads(provider.schema)


def test_plugin_layout() -> None:
    assert yaml.safe_load((PROJECT_ROOT / "components" / "PulumiPlugin.yaml").read_text()) == {"runtime": "python"}
    main = (PROJECT_ROOT / "components" / "__main__.py").read_text()
    assert 'component_provider_host(name="vaultk8s", components=PUBLIC_COMPONENTS)' in main


@pytest.mark.parametrize("component", sorted(EXPECTED))
def test_every_component_has_described_inputs_and_outputs(schema: dict[str, Any], component: str) -> None:
    resource = schema["resources"][f"vaultk8s:index:{component}"]
    inputs, outputs = EXPECTED[component]
    assert resource["isComponent"] is True
    assert resource["description"]
    assert set(resource["inputProperties"]) == inputs
    assert set(resource["properties"]) == outputs
    for name, prop in {**resource["inputProperties"], **resource["properties"]}.items():
        assert prop.get("description"), f"{component}.{name} has no description"


def test_every_type_and_enum_value_is_described(schema: dict[str, Any]) -> None:
    assert {"vaultk8s:index:WorkloadArgs", "vaultk8s:index:AuthMethod", "vaultk8s:index:ReviewerMode"} <= set(
        schema["types"]
    )
    for token, typ in schema["types"].items():
        assert typ.get("description"), token
        for name, prop in typ.get("properties", {}).items():
            assert prop.get("description"), f"{token}.{name}"
        for value in typ.get("enum", []):
            assert value.get("description"), f"{token}={value['value']}"


def test_validated_arguments_are_plain_so_they_are_checked_before_registration(schema: dict[str, Any]) -> None:
    workload = schema["types"]["vaultk8s:index:WorkloadArgs"]["properties"]
    assert all(
        prop.get("plain") for prop in schema["resources"]["vaultk8s:index:SecretsPlatform"]["inputProperties"].values()
    )
    assert workload["serviceAccount"]["type"] == "string"


def test_a_cross_language_construct_maps_schema_names_onto_the_python_args(provider: ComponentProvider) -> None:
    """What a TypeScript or YAML stack sends (camelCase) builds the same platform as the Python stack."""
    config = dev_config()
    inputs = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("secrets-platform:")}
    args = provider.map_inputs(inputs, provider._component_defs["SecretsPlatform"])
    capture = run_program(lambda: SecretsPlatform("platform", args))  # type: ignore[arg-type]
    roles = {r.inputs["roleName"] for r in capture.of_type("vault:kubernetes/authBackendRole:AuthBackendRole")}
    assert roles == {"my-role", "k8s-role"}
