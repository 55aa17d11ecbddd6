"""`python -m planner diff`: who gains or loses access, between two revisions of the project or two plans."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.__main__ import main
from planner.diff import diff_markdown, diff_plans, diff_text, is_empty
from planner.engine import PROJECT_ROOT
from tests.test_planner_policy import markdown_tables

IGNORED = shutil.ignore_patterns(
    ".git", "venv", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".benchmarks"
)


# --- the pure diff ----------------------------------------------------------------------------------------


def workload(name: str, access: dict[str, list[str]], **extra: Any) -> dict[str, Any]:
    deliveries = [
        {"path": path, "name": f"{name}-{i}", "delivery": "csi", "stalenessSeconds": 120}
        for i, path in enumerate(access)
    ]
    return {
        "name": name,
        "namespace": name,
        "serviceAccount": name,
        "authMount": "kubernetes",
        "role": name,
        "policies": [f"workload-{name}-{name}"],
        "access": access,
        "tokenTtl": 900,
        "tokenMaxTtl": 3600,
        "deliveries": deliveries,
        **extra,
    }


def plan(*workloads: dict[str, Any], violations: list[dict[str, Any]] | None = None, resources: Any = ()) -> dict:
    return {"workloads": list(workloads), "violations": violations or [], "resources": list(resources)}


def test_identical_plans_have_no_changes() -> None:
    a = plan(workload("a", {"secret/data/a": ["read"]}))
    diff = diff_plans(a, a)
    assert not diff["widened"] and is_empty(diff)
    assert "No changes." in diff_text(diff, "base", "head")


def test_a_new_workload_with_a_grant_widens() -> None:
    base = plan(workload("a", {"secret/data/a": ["read"]}))
    head = plan(workload("a", {"secret/data/a": ["read"]}), workload("b", {"secret/data/b": ["read"]}))
    diff = diff_plans(base, head)
    assert diff["widened"]
    assert diff["workloads"]["added"] == ["b"]
    assert [(g["workload"], g["path"], g["added"], g["before"]) for g in diff["grants"]] == [
        ("b", "secret/data/b", ["read"], [])
    ]
    assert diff["grants"][0]["deliveries"] == [{"name": "b-0", "delivery": "csi"}]
    assert diff["reasons"] == ["b gains read on secret/data/b (new workload)"]


def test_gaining_a_capability_widens_losing_one_does_not() -> None:
    base = plan(workload("a", {"secret/data/a": ["read"], "secret/data/x": ["read", "list"]}))
    head = plan(workload("a", {"secret/data/a": ["read", "update"], "secret/data/x": ["read"]}))
    diff = diff_plans(base, head)
    assert diff["widened"]
    assert [(g["path"], g["added"], g["removed"]) for g in diff["grants"]] == [
        ("secret/data/a", ["update"], []),
        ("secret/data/x", [], ["list"]),
    ]
    narrowed = diff_plans(head, plan(workload("a", {"secret/data/a": ["read"]})))
    assert not narrowed["widened"]
    assert [(g["path"], g["removed"], g["after"]) for g in narrowed["grants"]] == [
        ("secret/data/a", ["update"], ["read"]),
        ("secret/data/x", ["read"], []),
    ]
    assert narrowed["grants"][1]["deliveries"] == [{"name": "a-1", "delivery": "csi"}]  # the base's delivery


def test_a_new_delivery_of_an_existing_grant_is_reported_not_widening() -> None:
    base = plan(workload("a", {"secret/data/a": ["read"]}))
    head = plan(workload("a", {"secret/data/a": ["read"]}))
    head["workloads"][0]["deliveries"].append(
        {"path": "secret/data/a", "name": "copy", "delivery": "external-secrets", "stalenessSeconds": 300}
    )
    diff = diff_plans(base, head)
    assert not diff["widened"]
    assert diff["grants"] == []
    assert diff["deliveries"]["added"] == [
        {"workload": "a", "path": "secret/data/a", "name": "copy", "delivery": "external-secrets"}
    ]
    assert "+ a  secret/data/a via external-secrets -> copy" in diff_text(diff, "b", "h")


def test_lifetime_and_staleness_changes_are_reported() -> None:
    base = plan(workload("a", {"database/creds/a": ["read"]}))
    head = plan(workload("a", {"database/creds/a": ["read"]}, tokenTtl=1800))
    head["workloads"][0]["deliveries"][0].update(stalenessSeconds=600, leaseTtlSeconds=3600)
    diff = diff_plans(base, head)
    assert not diff["widened"]
    assert {(c["field"], c["before"], c["after"]) for c in diff["lifetimes"]} == {
        ("tokenTtl", 900, 1800),
        ("stalenessSeconds", 120, 600),
        ("leaseTtlSeconds", None, 3600),
    }
    text = diff_text(diff, "b", "h")
    assert "a: token TTL 15m -> 30m" in text
    assert "staleness 2m -> 10m" in text and "lease TTL unset -> 1h" in text


def test_binding_a_workload_to_another_identity_widens() -> None:
    base = plan(workload("a", {"secret/data/a": ["read"]}))
    head = plan(workload("a", {"secret/data/a": ["read"]}, serviceAccount="other"))
    diff = diff_plans(base, head)
    assert diff["widened"]
    assert diff["workloads"]["identityChanged"] == [
        {"workload": "a", "field": "serviceAccount", "before": "a", "after": "other"}
    ]


def test_violations_and_resources_are_compared() -> None:
    old = {"rule": "r1", "level": "advisory", "resource": "x", "type": "t", "message": "[r1] x: old", "detail": "old"}
    new = {"rule": "r2", "level": "mandatory", "resource": "y", "type": "t", "message": "[r2] y: new", "detail": "new"}
    base = plan(
        violations=[old],
        resources=[{"type": "t", "name": "gone", "inputs": {}}, {"type": "t", "name": "kept", "inputs": {"a": 1}}],
    )
    head = plan(
        violations=[new],
        resources=[{"type": "t", "name": "kept", "inputs": {"a": 2}}, {"type": "t", "name": "born", "inputs": {}}],
    )
    diff = diff_plans(base, head)
    assert diff["violations"] == {"new": [new], "resolved": [old]}
    assert diff["resources"] == {
        "added": [{"type": "t", "name": "born"}],
        "removed": [{"type": "t", "name": "gone"}],
        "changed": [{"type": "t", "name": "kept"}],
    }
    assert not diff["widened"]
    tables = markdown_tables(diff_markdown(diff, "base", "head"))
    assert [t[0] for t in tables] == [["level", "rule", "resource", "problem and fix"], ["change", "type", "name"]]


def test_a_plan_from_an_older_planner_reads_as_empty_where_keys_are_missing() -> None:
    base = {"workloads": [workload("a", {"secret/data/a": ["read"]})]}  # no violations, no resources
    diff = diff_plans(base, plan(workload("a", {"secret/data/a": ["read"]})))
    assert is_empty(diff)


# --- the CLI, against a plan JSON and against git revisions -------------------------------------------------


def test_diff_against_a_plan_json_written_earlier(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--stack", "dev", "--format", "json"]) == 0
    base = tmp_path / "plan.json"
    base.write_text(capsys.readouterr().out)
    assert main(["diff", "--base", str(base), "--stack", "dev"]) == 0
    assert "No changes." in capsys.readouterr().out

    document = yaml.safe_load((PROJECT_ROOT / "Pulumi.dev.yaml").read_text())
    document["config"]["secrets-platform:workloads"][0]["secrets"][0]["path"] = "secret/data/shared"
    changed = tmp_path / "Pulumi.dev.yaml"
    changed.write_text(yaml.safe_dump(document))
    assert main(["diff", "--base", str(base), "--config-file", str(changed), "--format", "json"]) == 3
    diff = json.loads(capsys.readouterr().out)
    assert [(g["workload"], g["path"], g["added"], g["removed"]) for g in diff["grants"]] == [
        ("myapp", "secret/data/myapp", [], ["read"]),
        ("myapp", "secret/data/shared", ["read"], []),
    ]


def git(cwd: Path, *args: str) -> str:
    identity = ["-c", "user.name=planner test", "-c", "user.email=planner@example.com", "-c", "commit.gpgsign=false"]
    result = subprocess.run(["git", *identity, *args], cwd=cwd, capture_output=True, text=True, check=True)
    return result.stdout


@pytest.fixture
def two_revisions(tmp_path: Path) -> Path:
    """A copy of the project in a fresh repository: the dev stack, then a commit that adds a workload
    (`payments`) and widens `db-client`'s access to a second path."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT, project, ignore=IGNORED)
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "the dev stack")
    stack = project / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack.read_text())
    workloads = document["config"]["secrets-platform:workloads"]
    db_client = next(w for w in workloads if w["name"] == "db-client")
    db_client["secrets"].append(
        {"path": "secret/data/shared", "key": "token", "name": "shared-token", "delivery": "csi"}
    )
    workloads.append(
        {
            "name": "payments",
            "namespace": "payments",
            "serviceAccount": "payments",
            "secrets": [
                {"path": "secret/data/payments", "key": "apikey", "name": "api-key", "delivery": "external-secrets"}
            ],
        }
    )
    stack.write_text(yaml.safe_dump(document, sort_keys=False))
    git(project, "commit", "-q", "-am", "payments; db-client reads the shared token")
    return project


def planner(project: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "planner", *argv], cwd=project, capture_output=True, text=True, timeout=600
    )


def test_diff_between_two_revisions_reports_exactly_the_new_workload_and_the_widened_path(two_revisions: Path) -> None:
    result = planner(two_revisions, "diff", "--base", "HEAD~1", "--format", "json")
    assert result.returncode == 3, result.stderr
    diff = json.loads(result.stdout)
    assert diff["widened"] is True
    assert diff["workloads"] == {"added": ["payments"], "removed": [], "identityChanged": []}
    assert diff["grants"] == [
        {
            "workload": "db-client",
            "path": "secret/data/shared",
            "added": ["read"],
            "removed": [],
            "before": [],
            "after": ["read"],
            "deliveries": [{"name": "shared-token", "delivery": "csi"}],
        },
        {
            "workload": "payments",
            "path": "secret/data/payments",
            "added": ["read"],
            "removed": [],
            "before": [],
            "after": ["read"],
            "deliveries": [{"name": "api-key", "delivery": "external-secrets"}],
        },
    ]
    assert diff["deliveries"] == {
        "added": [
            {"workload": "db-client", "path": "secret/data/shared", "name": "shared-token", "delivery": "csi"},
            {"workload": "payments", "path": "secret/data/payments", "name": "api-key", "delivery": "external-secrets"},
        ],
        "removed": [],
    }
    assert diff["lifetimes"] == []
    assert diff["violations"] == {"new": [], "resolved": []}
    added = {(r["type"], r["name"]) for r in diff["resources"]["added"]}
    assert {
        ("vault:index/policy:Policy", "platform-payments-policy"),
        ("vault:kubernetes/authBackendRole:AuthBackendRole", "platform-payments-role"),
        ("kubernetes:external-secrets.io/v1:ExternalSecret", "platform-externalsecret-payments-payments"),
    } <= added
    assert diff["resources"]["removed"] == []
    assert ("vault:index/policy:Policy", "platform-db-client-policy") in {
        (r["type"], r["name"]) for r in diff["resources"]["changed"]
    }

    text = planner(two_revisions, "diff", "--base", "HEAD~1")
    assert text.returncode == 3
    assert "Access widened" in text.stdout
    assert "+ db-client  secret/data/shared: +read" in text.stdout
    assert "+ payments  secret/data/payments: +read" in text.stdout

    markdown = planner(two_revisions, "diff", "--base", "HEAD~1", "--format", "markdown")
    assert markdown.returncode == 3
    grants = next(t for t in markdown_tables(markdown.stdout) if t[0][0] == "change" and "path" in t[0])
    assert [(row[1], row[2], row[3]) for row in grants[1:]] == [
        ("`db-client`", "`secret/data/shared`", "+read"),
        ("`payments`", "`secret/data/payments`", "+read"),
    ]


def test_diff_against_the_same_revision_is_empty_and_exits_0(two_revisions: Path) -> None:
    result = planner(two_revisions, "diff", "--base", "HEAD")
    assert result.returncode == 0, result.stderr
    assert "No changes." in result.stdout


def test_narrowing_access_exits_0(two_revisions: Path) -> None:
    git(two_revisions, "revert", "--no-edit", "HEAD")
    result = planner(two_revisions, "diff", "--base", "HEAD~1", "--format", "json")
    assert result.returncode == 0, result.stderr
    diff = json.loads(result.stdout)
    assert diff["widened"] is False
    assert diff["workloads"]["removed"] == ["payments"]
    assert {(g["workload"], tuple(g["removed"])) for g in diff["grants"]} == {
        ("db-client", ("read",)),
        ("payments", ("read",)),
    }


def test_a_stack_new_at_head_is_all_added(two_revisions: Path) -> None:
    shutil.copy(two_revisions / "Pulumi.dev.yaml", two_revisions / "Pulumi.staging.yaml")
    result = planner(two_revisions, "diff", "--base", "HEAD", "--stack", "staging", "--format", "json")
    assert result.returncode == 3, result.stderr
    assert json.loads(result.stdout)["workloads"]["added"] == ["db-client", "myapp", "payments"]


@pytest.mark.parametrize("base", ["no-such-revision", "--upload-pack=x"])
def test_a_bad_base_exits_2_with_one_line(two_revisions: Path, base: str) -> None:
    result = planner(two_revisions, "diff", f"--base={base}")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: --base {base}: ")
