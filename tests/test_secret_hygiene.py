"""No secret value in plain text: not in stack outputs, plan output (text, JSON), files under --out, or logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from planner import engine
from planner import plan as plan_module
from planner.__main__ import main
from planner.engine import RANDOM_PASSWORD, EchoMocks, is_secret
from planner.stack_file import load_stack_config
from tests.conftest import plan

FULL = Path(__file__).resolve().parents[1] / "examples" / "Pulumi.full.yaml"
ADMIN_PASSWORD = "plain-config-admin-password-5d1c9e"


class RecordingMocks(EchoMocks):
    """The echo mocks, remembering every random value they generate."""

    generated: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        id_, state = super().new_resource(args)
        if args.typ == RANDOM_PASSWORD:
            RecordingMocks.generated.append(state["result"])
        return id_, state


@pytest.fixture
def stack_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The full example stack with the database password in clear, held as a secret key: the worst case, a
    planner that had decrypted it (this one never does; a plain-text password is refused, see below)."""

    def decrypted(path: Path) -> tuple[dict[str, Any], list[str]]:
        config, secret_keys = load_stack_config(path)
        return config, [*secret_keys, "secrets-platform:databases"]

    monkeypatch.setattr(plan_module, "load_stack_config", decrypted)
    document = yaml.safe_load(FULL.read_text())
    document["config"]["secrets-platform:databases"][0]["password"] = ADMIN_PASSWORD
    path = tmp_path / "Pulumi.leaky.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_no_secret_reaches_any_output(
    stack_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    RecordingMocks.generated = []
    monkeypatch.setattr(engine, "EchoMocks", RecordingMocks)
    out = tmp_path / "out"
    texts = []
    policy_config = str(FULL.with_name("Pulumi.full.policy.json"))  # the full example syncs a CSI Secret
    for argv in (["--format", "json", "--out", str(out)], ["--format", "text"], ["--format", "markdown"]):
        assert main(["--config-file", str(stack_file), "--policy-config", policy_config, *argv]) == 0
        captured = capsys.readouterr()
        texts += [captured.out, captured.err]
    texts += [p.read_text() for p in out.rglob("*") if p.is_file()]
    secrets = [ADMIN_PASSWORD, *RecordingMocks.generated]
    assert len(RecordingMocks.generated) == 6  # two keys generated, planned three times
    for secret in secrets:
        for text in texts:
            assert secret not in text
    assert "[secret]" in texts[0]


def test_secret_values_stay_pulumi_secrets_end_to_end(stack_file: Path) -> None:
    config = yaml.safe_load(stack_file.read_text())["config"]
    capture = plan(config)
    connection = capture.of_type("vault:database/secretBackendConnection:SecretBackendConnection")[0]
    assert is_secret(connection.inputs["postgresql"])  # the admin password travels as a secret
    for written in capture.of_type("vault:kv/secretV2:SecretV2"):
        assert is_secret(written.inputs["dataJson"])
    # No stack export carries a secret, and none is a secret value in disguise.
    exported = json.dumps(capture.outputs)
    assert ADMIN_PASSWORD not in exported
    for kubernetes_object in [r for r in capture.resources if r.type.startswith("kubernetes:")]:
        assert ADMIN_PASSWORD not in json.dumps(kubernetes_object.plain_inputs)


def test_a_plain_text_password_in_the_stack_file_is_refused_without_showing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = yaml.safe_load(FULL.read_text())
    document["config"]["secrets-platform:databases"][0]["password"] = ADMIN_PASSWORD
    path = tmp_path / "Pulumi.plain.yaml"
    path.write_text(yaml.safe_dump(document))
    assert main(["--config-file", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("error: Pulumi.plain.yaml: databases[0].password: '<plain text>' is not allowed: a secret")
    assert "--secret" in err and ADMIN_PASSWORD not in err
