"""The component package from another language, for real: a Pulumi YAML program (examples/yaml-consumer)
declares a SecretsPlatform; `pulumi up` with the YAML language host runs the package's Python components
through the engine (the package's `pulumi-language-python` plugin run), and OpenBao then holds the role,
the policy and the generated secret.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from sandbox import stacks
from sandbox.engine import PulumiCli
from sandbox.issuer import ServiceAccountIssuer
from sandbox.servers import OpenBaoServer
from tests.engine.toolchain import require_toolchain

EXAMPLE = stacks.PROJECT_ROOT / "examples" / "yaml-consumer"


def consumer_project(directory: Path) -> Path:
    """The example and a copy of the component package, as a user has them after `pulumi package add`
    (the package's dependencies installed in its `venv`: here, the project's)."""
    components = directory / "components"
    shutil.copytree(stacks.PROJECT_ROOT / "components", components, ignore=shutil.ignore_patterns("__pycache__"))
    (components / "venv").symlink_to(stacks.PROJECT_ROOT / "venv")
    program = directory / "yaml-consumer"
    shutil.copytree(EXAMPLE, program)
    project = yaml.safe_load((program / "Pulumi.yaml").read_text())
    project["packages"] = {"vaultk8s": str(components)}
    (program / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    return program


def test_a_yaml_program_deploys_a_secrets_platform(pulumi_home: Path, openbao: OpenBaoServer, tmp_path: Path) -> None:
    bin_dir = require_toolchain()
    require_toolchain(["pulumi-language-yaml"])
    issuer = ServiceAccountIssuer()
    cli = PulumiCli(bin_dir, pulumi_home, tmp_path / "pulumi", program=consumer_project(tmp_path))
    project = "vaultk8s-yaml-consumer"
    stack = cli.stack(
        "yaml",
        {
            "vault:address": openbao.address,
            f"{project}:vaultAddress": openbao.address,
            f"{project}:issuer": issuer.issuer,
            f"{project}:issuerPublicKey": issuer.public_key_pem,
        },
    )
    stack.cli.extra_env["VAULT_TOKEN"] = openbao.root_token
    stack.up()

    outputs = stack.outputs()
    assert outputs["roles"] == {"payments": "payments"}
    root = openbao.client()
    assert root.read("auth/jwt/role/payments")["data"]["bound_subject"] == "system:serviceaccount:payments:payments"
    assert "secret/data/payments" in root.sys.read_acl_policy(outputs["policies"]["payments"])["data"]["policy"]
    token = root.secrets.kv.v2.read_secret_version("payments", mount_point="secret", raise_on_deleted_version=True)[
        "data"
    ]["data"]["token"]
    assert len(token) >= 32
    stack.preview("--expect-no-changes")
    stack.destroy()
