"""The component package's schema, inferred in-process as `pulumi package add ./components` would."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.provider.experimental.component import ComponentProvider

import components
from components import PUBLIC_COMPONENTS, SecretsPlatform
from components.durations import format_duration
from components.model import KubernetesAuthSpec, Workload
from components.provider import VaultK8sProvider
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
    "VaultSecretsOperator": ({"namespace", "renewalPercent", "installMethod", "install"}, {"namespace"}),
    "SecretsPlatform": (
        {"vault", "cluster", "clusters", "workloads", "kv", "databases", "delivery", "auditDevices"},
        {
            "authMount",
            "authMounts",
            "clusters",
            "roles",
            "policies",
            "access",
            "nextRotations",
            "podAnnotations",
            "podVolumes",
            "deploymentAnnotations",
            "auditConfig",
            "delivered",
        },
    ),
}


@pytest.fixture(scope="module")
def provider() -> ComponentProvider:
    return VaultK8sProvider(PUBLIC_COMPONENTS, version=components.__version__)


@pytest.fixture(scope="module")
def schema(provider: ComponentProvider) -> dict[str, Any]:
    return json.loads(provider.schema)


def test_plugin_layout() -> None:
    assert yaml.safe_load((PROJECT_ROOT / "components" / "PulumiPlugin.yaml").read_text()) == {"runtime": "python"}
    main = (PROJECT_ROOT / "components" / "__main__.py").read_text()
    assert "main(provider(), sys.argv[1:])" in main


def test_the_password_is_secret_in_the_schema(schema: dict[str, Any]) -> None:
    password = schema["types"]["vaultk8s:index:DatabaseArgs"]["properties"]["password"]
    assert password["secret"] is True
    assert not any(
        prop.get("secret")
        for token, typ in schema["types"].items()
        for name, prop in typ.get("properties", {}).items()
        if (token, name) != ("vaultk8s:index:DatabaseArgs", "password")
    )


def test_the_schema_states_each_default_from_the_model(schema: dict[str, Any]) -> None:
    workload = schema["types"]["vaultk8s:index:WorkloadArgs"]["properties"]
    assert workload["tokenTtl"]["default"] == format_duration(Workload.token_ttl)  # type: ignore[arg-type]
    assert workload["tokenTtl"]["description"].endswith(f"Default: `{format_duration(Workload.token_ttl)}`.")  # type: ignore[arg-type]
    assert workload["refreshInterval"]["default"] == "5m"
    assert "default" not in workload["role"]  # derived from the name: the description says so
    auth = schema["resources"]["vaultk8s:index:KubernetesAuth"]["inputProperties"]
    assert auth["path"]["default"] == KubernetesAuthSpec.path == "kubernetes"
    assert auth["reviewerNamespace"]["default"] == "kube-system"


def test_the_package_version_is_the_projects(schema: dict[str, Any]) -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "components.__version__"}
    assert schema["version"] == components.__version__


def test_the_plugins_requirements_are_its_run_time_needs_only() -> None:
    lines = [
        line.split("#")[0].strip()
        for line in (PROJECT_ROOT / "components" / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    names = {line.split("=")[0].split(">")[0].split("<")[0].split("[")[0] for line in lines}
    assert names == {"pulumi", "pulumi-kubernetes", "pulumi-vault", "pulumi-random", "pyyaml"}
    assert not any(line.startswith("-r") for line in lines)  # nothing from the repository around it


def test_the_package_works_outside_a_full_checkout(tmp_path: Path) -> None:
    """A copy of components/ under another name, alone: the plugin loads it by path and infers the schema."""
    copy = tmp_path / "vendored-plugin"
    shutil.copytree(PROJECT_ROOT / "components", copy, ignore=shutil.ignore_patterns("__pycache__"))
    probe = (
        "import json, runpy, sys\n"
        "main = runpy.run_path('__main__.py', run_name='probe')\n"
        "schema = json.loads(main['provider']().schema)\n"
        "print(json.dumps({'name': schema['name'], 'version': schema['version'],"
        " 'resources': sorted(schema['resources']), 'file': sys.modules['vaultk8s'].__file__,"
        " 'outside': [m for m in sys.modules if m.split('.')[0] in ('components', 'planner', 'policies')]}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe], cwd=copy, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["name"] == "vaultk8s" and found["version"] == components.__version__
    assert found["file"] == str(copy / "__init__.py")
    assert found["outside"] == []
    assert "vaultk8s:index:SecretsPlatform" in found["resources"]


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
