"""Bad input a new user actually produced: each exits 2 with one line naming the file, the field, the value and
what is allowed; never a traceback, never exit 1 (a policy violation)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.__main__ import main
from planner.engine import PROJECT_ROOT
from planner.stack_file import ENGINE_CONFIG_LIMIT, engine_config_bytes
from tests.conftest import DEV_STACK

FULL = PROJECT_ROOT / "examples" / "Pulumi.full.yaml"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def dev_with(tmp_path: Path, mutate: Callable[[dict[str, Any]], None], name: str = "Pulumi.bad.yaml") -> Path:
    document = yaml.safe_load(DEV_STACK.read_text())
    mutate(document["config"])
    return write(tmp_path, name, yaml.safe_dump(document, sort_keys=False))


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.removeprefix("error: ").strip()


def test_a_stack_file_that_is_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = "config:\n  secrets-platform:cluster: {name: caf\xe9}\n"
    path = write(tmp_path, "Pulumi.latin1.yaml", text.encode("latin-1"))
    error = one_line_error(capsys, "--config-file", str(path))
    offset = text.index("\xe9")
    assert error == f"Pulumi.latin1.yaml: not UTF-8 text (byte 0xe9 at offset {offset}): save the stack file as UTF-8"


def test_a_yaml_syntax_error_gives_the_line_column_and_the_parsers_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = DEV_STACK.read_text().replace("      role: my-role\n", "      role: [my-role\n", 1)
    line = text[: text.index("role: [my-role")].count("\n") + 1
    error = one_line_error(capsys, "--config-file", str(write(tmp_path, "Pulumi.syntax.yaml", text)))
    assert error.startswith(f"Pulumi.syntax.yaml: line {line + 1}, column ")
    assert "invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence, from line" in error
    assert "is not allowed" not in error


def test_an_empty_stack_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    error = one_line_error(capsys, "--config-file", str(write(tmp_path, "Pulumi.empty.yaml", "")))
    assert error == "Pulumi.empty.yaml: the file is empty: a stack file holds a `config:` mapping"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c.pop("secrets-platform:workloads"), "workloads: is required: the list of workloads"),
        (
            lambda c: c["secrets-platform:workloads"][0].pop("namespace"),
            "workloads[0].namespace: is required: a DNS-1123 label",
        ),
        (lambda c: c["secrets-platform:vault"].pop("address"), "vault.address: is required: an absolute URL"),
    ],
    ids=["workloads", "namespace", "vault-address"],
)
def test_a_missing_required_key_is_required_not_none(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mutate: Any, expected: str
) -> None:
    error = one_line_error(capsys, "--config-file", str(dev_with(tmp_path, mutate)))
    assert error.startswith(f"Pulumi.bad.yaml: {expected}")
    assert "None" not in error


def test_a_stack_without_its_file_names_the_stacks_there(capsys: pytest.CaptureFixture[str]) -> None:
    error = one_line_error(capsys, "--stack", "prod")
    assert error == (
        f"--stack prod: no Pulumi.prod.yaml in {PROJECT_ROOT}; the stacks here: dev (or plan a file with --config-file)"
    )
    assert "--config-file:" not in error


def test_a_near_miss_of_the_project_namespace_is_refused_with_a_did_you_mean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def misspell(config: dict[str, Any]) -> None:
        config["secret-platform:workloads"] = config.pop("secrets-platform:workloads")

    error = one_line_error(capsys, "--config-file", str(dev_with(tmp_path, misspell)))
    assert error.startswith("Pulumi.bad.yaml: secret-platform:workloads: 'secret-platform' is not allowed: ")
    assert "did you mean secrets-platform:workloads?" in error


def test_an_unknown_key_of_the_project_gets_a_did_you_mean(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    def misspell(config: dict[str, Any]) -> None:
        config["secrets-platform:auditDevice"] = config.pop("secrets-platform:auditDevices")

    error = one_line_error(capsys, "--config-file", str(dev_with(tmp_path, misspell)))
    assert error.startswith("Pulumi.bad.yaml: secrets-platform:auditDevice: 'auditDevice' is not allowed: a known key")
    assert error.endswith("(did you mean auditDevices?)")


def test_a_plain_text_password_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    document = yaml.safe_load(FULL.read_text())
    document["config"]["secrets-platform:databases"][0]["password"] = "hunter2-in-the-clear"
    error = one_line_error(capsys, "--config-file", str(write(tmp_path, "Pulumi.plain.yaml", yaml.safe_dump(document))))
    assert error.startswith("Pulumi.plain.yaml: databases[0].password: '<plain text>' is not allowed: a secret")
    assert "pulumi config set --secret --path 'databases[0].password'" in error
    assert "hunter2" not in error


def test_a_secure_value_where_no_secret_belongs_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    def encrypt(config: dict[str, Any]) -> None:
        config["secrets-platform:workloads"][0]["namespace"] = {"secure": "v1:bmFtZXNwYWNl"}

    error = one_line_error(capsys, "--config-file", str(dev_with(tmp_path, encrypt)))
    assert error.startswith("Pulumi.bad.yaml: workloads[0].namespace: a secure: value is not allowed here")


@pytest.mark.parametrize("flag", ["--output", "--out"])
def test_an_unwritable_output_is_refused_before_planning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flag: str
) -> None:
    blocker = write(tmp_path, "a-file", "not a directory")
    target = blocker / "plan" / "x.json"
    error = one_line_error(capsys, "--stack", "dev", flag, str(target))
    assert error.startswith(f"{flag} {target}: cannot write there: ")


def test_an_output_that_is_a_directory_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert one_line_error(capsys, "--stack", "dev", "--output", str(tmp_path)) == (
        f"--output {tmp_path}: a directory, not a file"
    )


def padded_to(size: int) -> Callable[[dict[str, Any]], None]:
    """The dev stack's config grown, by a key of another namespace, to ``size`` bytes as the engine passes it."""

    def pad(config: dict[str, Any]) -> None:
        config["padding:text"] = ""
        config["padding:text"] = "x" * (size - engine_config_bytes(config))
        assert engine_config_bytes(config) == size

    return pad


def test_a_config_the_engine_cannot_pass_to_the_program_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """PULUMI_CONFIG is one environment string; tests/engine shows the real CLI fail one byte beyond the limit."""
    assert main(["--config-file", str(dev_with(tmp_path, padded_to(ENGINE_CONFIG_LIMIT)))]) == 0
    capsys.readouterr()
    error = one_line_error(capsys, "--config-file", str(dev_with(tmp_path, padded_to(ENGINE_CONFIG_LIMIT + 1))))
    assert error.startswith(
        f"Pulumi.bad.yaml: the config is {ENGINE_CONFIG_LIMIT + 1:,} bytes as the engine passes it to the program"
    )
    assert f"Linux allows at most {ENGINE_CONFIG_LIMIT:,}" in error and "several stacks" in error


def test_a_generated_1000_workload_stack_is_refused_for_its_config_size(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from benchmarks.stacks import write as write_stack

    error = one_line_error(capsys, "--config-file", str(write_stack("workloads", 1000, tmp_path)))
    assert "bytes as the engine passes it to the program" in error


def test_bad_config_is_one_line_from_a_fresh_process_too(tmp_path: Path) -> None:
    """The same, as the README runs it: no traceback even from the interpreter's own error handling."""
    path = write(tmp_path, "Pulumi.empty.yaml", "")
    result = subprocess.run(
        [sys.executable, "-m", "planner", "--config-file", str(path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "error: Pulumi.empty.yaml: the file is empty: a stack file holds a `config:` mapping\n"


def test_violation_fixes_name_the_stack_files_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A violation's fix says which key of the stack file to change, not which Python argument."""

    def break_rules(config: dict[str, Any]) -> None:
        del config["secrets-platform:auditDevices"]
        config["secrets-platform:workloads"][0]["tokenTtl"] = "4h"
        config["secrets-platform:workloads"][0]["tokenMaxTtl"] = "8h"

    assert main(["--config-file", str(dev_with(tmp_path, break_rules))]) == 1
    out = capsys.readouterr().out
    assert "Fix: add `secrets-platform:auditDevices`, e.g. `[{type: file, target: /vault/audit/audit.log}]`." in out
    assert "Fix: lower `tokenTtl` of workload `myapp` under `secrets-platform:workloads`" in out
    assert "vault.Audit(" not in out and "token_ttl" not in out
