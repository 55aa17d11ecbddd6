"""The offline plan: `python -m planner`, its formats, files and exit codes (policy: test_planner_policy.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.__main__ import main
from planner.engine import MASK, PROJECT_ROOT
from planner.stack_file import load_stack_config
from tests.conftest import DEV_STACK, grants


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_readme_command_runs_as_a_process() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "planner", "--stack", "dev"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Workload access:" in result.stdout
    assert "secret/data/myapp: read" in result.stdout


def test_dev_plan_shows_the_seeds_two_workloads_with_exactly_their_paths(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--stack", "dev", "--format", "json")
    assert code == 0
    plan = json.loads(out)
    access = {w["role"]: (w["namespace"], w["serviceAccount"], w["authMount"], w["access"]) for w in plan["workloads"]}
    assert access == {
        "my-role": ("myapp", "myapp", "kubernetes", {"secret/data/myapp": ["read"]}),
        "k8s-role": ("db", "db-client", "kubernetes", {"secret/data/db": ["read"]}),
    }
    types = {r["type"] for r in plan["resources"]}
    assert {
        "vault:index/authBackend:AuthBackend",
        "vault:index/policy:Policy",
        "vaultk8s:index:SecretsPlatform",
    } <= types
    for resource in plan["resources"]:
        assert set(resource) == {"urn", "type", "name", "parent", "custom", "dependsOn", "provider", "inputs"}


def test_text_plan_lists_the_resource_tree_and_access(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--stack", "dev")
    assert code == 0
    assert "  vaultk8s:index:SecretsPlatform  platform" in out
    assert "    vault:kubernetes/authBackendRole:AuthBackendRole  platform-myapp-role" in out
    tree = out.split("\n\n")[0].splitlines()
    components = sum(1 for line in tree[1:] if line.split()[0].startswith("vaultk8s:") or ":helm.sh/v4:" in line)
    total = len(tree) - 1
    assert tree[0] == f"Resources: {total} resources ({total - components} custom, {components} components):"
    assert "auth mount: kubernetes   role: k8s-role" in out


def test_out_writes_policies_and_kubernetes_objects(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--stack", "dev", "--out", str(tmp_path))
    assert code == 0
    policies = {p.name: grants(p.read_text()) for p in (tmp_path / "policies").glob("*.hcl")}
    assert policies == {
        "workload-myapp-myapp.hcl": {"secret/data/myapp": ("read",)},
        "workload-db-db-client.hcl": {"secret/data/db": ("read",)},
    }
    objects = [yaml.safe_load(p.read_text()) for p in (tmp_path / "kubernetes").glob("*.yaml")]
    assert {(o["kind"], o["metadata"]["name"]) for o in objects} == {
        ("Namespace", "external-secrets"),
        ("SecretStore", "myapp-secret"),
        ("ExternalSecret", "my-secret"),
        ("SecretProviderClass", "vault-secret-provider"),
    }
    assert f"under {tmp_path}" in err


def hostile_stack(tmp_path: Path, mutate: Any) -> Path:
    document = yaml.safe_load(DEV_STACK.read_text())
    mutate(document["config"])
    path = tmp_path / "Pulumi.hostile.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


HOSTILE = {
    "path with a quote": (
        lambda c: c["secrets-platform:workloads"][0]["secrets"][0].update(path='secret/data/a"b'),
        "secrets[0].path",
    ),
    "path with a newline": (
        lambda c: c["secrets-platform:workloads"][0]["secrets"][0].update(path="secret/data/a\nb"),
        "secrets[0].path",
    ),
    "glob in a service account": (
        lambda c: c["secrets-platform:workloads"][0].update(serviceAccount="app-*"),
        "serviceAccount",
    ),
    "namespace not a DNS label": (
        lambda c: c["secrets-platform:workloads"][1].update(namespace="Team_DB"),
        "namespace",
    ),
    "TTL that does not parse": (lambda c: c["secrets-platform:workloads"][1].update(tokenTtl="soon"), "tokenTtl"),
    "unknown key": (lambda c: c["secrets-platform:workloads"][1].update(secretz=[]), "secretz"),
    "unknown top-level key": (lambda c: c.update({"secrets-platform:workload": []}), "workload"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_bad_config_exits_2_with_one_line_naming_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    mutate, field = HOSTILE[case]
    code, out, err = run(capsys, "--config-file", str(hostile_stack(tmp_path, mutate)))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: Pulumi.hostile.yaml: ")
    assert field in err


def test_an_unknown_capability_is_refused_by_the_builder() -> None:
    from components.policy_document import rule
    from components.validation import SpecError

    with pytest.raises(SpecError, match="'write' is not allowed: one of create, read"):
        rule("secret/data/a", "write")


FULL_STACK = PROJECT_ROOT / "examples" / "Pulumi.full.yaml"


def test_secure_config_values_are_masked_never_decrypted(tmp_path: Path) -> None:
    """`secure:` values (top level or nested, as `pulumi config set --secret --path` writes them) become the mask,
    and a key holding one anywhere is a secret key, as the Pulumi CLI hands it to the program."""

    def add_secrets(config: dict[str, Any]) -> None:
        config["vault:token"] = {"secure": "v1:c2VjcmV0LWNpcGhlcnRleHQ="}
        full = yaml.safe_load(FULL_STACK.read_text())["config"]
        config["secrets-platform:databases"] = full["secrets-platform:databases"]
        config["secrets-platform:databases"][0]["password"] = {"secure": "v1:bmVzdGVkLWNpcGhlcnRleHQ="}

    config, secret_keys = load_stack_config(hostile_stack(tmp_path, add_secrets))
    assert config["vault:token"] == MASK
    assert sorted(secret_keys) == ["secrets-platform:databases", "vault:token"]
    assert config["secrets-platform:databases"][0]["password"] == MASK
    for ciphertext in ("v1:c2VjcmV0LWNpcGhlcnRleHQ=", "v1:bmVzdGVkLWNpcGhlcnRleHQ="):
        assert ciphertext not in json.dumps(config)


def test_json_plan_carries_what_a_diff_needs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--stack", "dev", "--format", "json")
    assert code == 0
    plan = json.loads(out)
    assert plan["format"] == "secrets-platform-plan/1"
    assert plan["stack"] == "dev"
    assert plan["violations"] == []
    myapp = next(w for w in plan["workloads"] if w["name"] == "myapp")
    assert (myapp["tokenTtl"], myapp["tokenMaxTtl"]) == (900, 3600)
    assert myapp["deliveries"] == [
        {
            "path": "secret/data/myapp",
            "name": "api-key",
            "delivery": "external-secrets",
            "stalenessSeconds": 300,
            "leaseTtlSeconds": None,
            "leaseMaxTtlSeconds": None,
            "rotationPeriodSeconds": None,
            "renewedBy": "",
        }
    ]


def test_output_writes_the_rendered_plan_to_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "plan" / "dev.json"
    code, out, err = run(capsys, "--stack", "dev", "--format", "json", "--output", str(target))
    assert code == 0
    assert out == ""
    assert json.loads(target.read_text())["stack"] == "dev"
    assert f"wrote {target}" in err


def test_the_access_listing_merges_repeated_stanzas_as_vault_does() -> None:
    """Vault unions the capabilities of repeated `path` stanzas; the listing (the pack's reader) does too."""
    import pulumi_vault as vault

    from planner.access import workload_access
    from planner.engine import run_program

    def program() -> None:
        stanza = 'path "secret/data/x" {{\n  capabilities = ["{}"]\n}}\n'
        document = stanza.format("read") + stanza.format("update")
        vault.Policy("p", name="workload-a-b", policy=document)
        vault.kubernetes.AuthBackendRole(
            "r",
            backend="kubernetes",
            role_name="r",
            token_policies=["workload-a-b"],
            bound_service_account_names=["b"],
            bound_service_account_namespaces=["a"],
        )

    (view,) = workload_access(run_program(program))
    assert view.access == {"secret/data/x": ["read", "update"]}


def test_out_chart_values_files_are_what_helm_f_reads(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Only the values (the chart, version and namespace in comments), whole numbers as integers."""
    assert main(["--stack", "dev", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    driver = tmp_path / "charts" / "platform-csi-driver.values.yaml"
    text = driver.read_text()
    assert text.startswith("# Values of the secrets-store-csi-driver chart 1.6.0 (")
    assert "-f platform-csi-driver.values.yaml\n" in text.splitlines()[1] + "\n"
    values = yaml.safe_load(text)
    assert set(values) == {"enableSecretRotation", "linux", "logVerbosity", "rotationPollInterval", "syncSecret"}
    assert values["logVerbosity"] == 0 and type(values["logVerbosity"]) is int
    assert "logVerbosity: 0\n" in text and "0.0" not in text
    assert values["rotationPollInterval"] == "2m"


def test_out_secret_provider_class_objects_is_a_literal_block(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["--stack", "dev", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    text = (tmp_path / "kubernetes" / "SecretProviderClass_db_vault-secret-provider.yaml").read_text()
    assert "    objects: |\n      - objectName: database-creds\n" in text
    assert yaml.safe_load(text)["spec"]["parameters"]["objects"].startswith("- objectName: database-creds\n")
