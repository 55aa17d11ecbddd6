"""The access-matrix page (`--format html`): its content, and a real headless browser loading it."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.__main__ import main
from planner.html import MAX_GRID_CELLS, access_matrix_html, capability_class
from tests.conftest import DEV_STACK
from tests.prerequisites import missing
from tests.test_planner_policy import broken_stack

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=10000",
)


def chromium() -> str:
    """Debian's chromium; its absence fails the test, saying how to install it (tests/prerequisites.py)."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    missing("chromium (the access-matrix page is checked in a real browser)", "apt-get install chromium")


def dump_dom(page: Path, profile: Path) -> tuple[str, str]:
    """The DOM after the page's scripts ran, and the browser's log (console messages included)."""
    result = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(profile)},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, result.stderr


def many_workloads(tmp_path: Path, count: int) -> Path:
    document = yaml.safe_load(DEV_STACK.read_text())
    workloads = document["config"]["secrets-platform:workloads"]
    deliveries = ("external-secrets", "csi", "agent-injector", "none")
    for i in range(count):
        workloads.append(
            {
                "name": f"team-{i:02d}",
                "namespace": f"team-{i:02d}",
                "serviceAccount": "app",
                "secrets": [
                    {"path": f"secret/data/team-{i:02d}", "key": "token", "delivery": deliveries[i % 4]},
                    {"path": "secret/data/shared", "key": "ca", "delivery": deliveries[(i + 1) % 4]},
                ],
            }
        )
    path = tmp_path / "Pulumi.many.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def render(capsys: pytest.CaptureFixture[str], stack: Path, out: Path) -> int:
    code = main(["--config-file", str(stack), "--format", "html", "--output", str(out)])
    capsys.readouterr()
    return code


def test_the_page_renders_in_headless_chromium_without_errors_showing_every_workload(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stack = many_workloads(tmp_path, 24)
    page = tmp_path / "matrix.html"
    assert render(capsys, stack, page) == 0
    dom, log = dump_dom(page, tmp_path / "profile")

    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None
    assert 'data-ready="ok"' in body.group(1), "the page's script did not finish"
    assert "data-error" not in body.group(1)
    assert ":CONSOLE" not in log, log  # no console message at all (errors included)
    expected = {w["name"] for w in yaml.safe_load(stack.read_text())["config"]["secrets-platform:workloads"]}
    assert len(expected) == 26
    rows = set(re.findall(r'<tr data-workload="([^"]+)"', dom))
    assert rows == expected
    for name in expected:
        assert re.search(rf'<tr data-workload="{name}"[^>]*>\s*<th scope="row" class="workload">{name}', dom)
    # One column per path, shared paths once; each cell names its delivery and lifetime.
    assert dom.count('<th class="path"') == len(expected) - 2 + 3  # own paths, secret/data/shared, myapp, db
    assert "token via csi" in dom and html.escape("stale <= 2m") in dom
    assert 'id="shown">26<' in dom


def test_violations_stand_beside_the_grid_in_the_browser(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    assert render(capsys, broken_stack(tmp_path), page) == 1  # still written: the page is the review aid
    dom, _ = dump_dom(page, tmp_path / "profile")
    assert 'data-ready="ok"' in dom
    aside = dom[dom.index("<aside>") :]
    assert "vault-role-token-ttl-cap" in aside and "vault-audit-device-present" in aside
    assert re.search(r'<tr data-workload="myapp" class="violated">', dom)


def test_cells_are_colored_by_the_strongest_capability() -> None:
    assert capability_class(["read"]) == "cap-read"
    assert capability_class(["list", "read"]) == "cap-list"
    assert capability_class(["read", "update"]) == "cap-write"
    assert capability_class(["read", "sudo", "update"]) == "cap-sudo"
    assert capability_class(["deny"]) == "cap-deny"
    assert capability_class(["subscribe"]) == "cap-other"


def plan_of(workloads: list[dict[str, Any]], violations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"stack": "t", "workloads": workloads, "violations": violations or [], "resources": []}


def test_the_page_is_self_contained_and_escapes_everything() -> None:
    hostile = "<script>alert(1)</script>"
    page = access_matrix_html(
        plan_of(
            [
                {
                    "name": "a",
                    "namespace": "n",
                    "serviceAccount": "s",
                    "role": "r",
                    "authMount": "kubernetes",
                    "access": {f"secret/data/{hostile}": ["read", "update"]},
                    "deliveries": [],
                    "tokenTtl": 900,
                    "tokenMaxTtl": 3600,
                }
            ],
            [
                {
                    "rule": "x",
                    "level": "mandatory",
                    "resource": hostile,
                    "type": "t",
                    "message": hostile,
                    "detail": hostile,
                }
            ],
        )
    )
    assert hostile not in page
    assert html.escape(hostile) in page
    assert page.count("<script>") == 1  # the page's own
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched from elsewhere
    assert '<td class="cap-write"' in page


def test_a_grid_too_large_becomes_one_row_per_workload() -> None:
    side = int(MAX_GRID_CELLS**0.5) + 1
    workloads = [
        {"name": f"w{i}", "access": {f"secret/data/p{i}-{j}": ["read"] for j in range(side // 10)}, "deliveries": []}
        for i in range(side // 10 * 10 + 10)
    ]
    page = access_matrix_html(plan_of(workloads))
    assert "too large a grid" in page
    assert page.count("<tr data-workload=") == len(workloads)
    assert '<th class="path"' not in page


def test_the_page_reads_as_written(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Full column headers, code spans instead of literal backticks, `none` for a value read live, rotations."""
    page = tmp_path / "dev.html"
    broken = broken_stack(tmp_path)
    document = yaml.safe_load(broken.read_text())
    document["config"]["secrets-platform:workloads"][1]["secrets"].append(
        {"path": "secret/data/db", "key": "password", "name": "live", "delivery": "none"}
    )
    broken.write_text(yaml.safe_dump(document))
    assert render(capsys, broken, page) == 1
    text = page.read_text()
    assert "max-height: 260px" not in text and 'title="secret/data/db">secret/data/db</th>' in text
    violations = text[text.index('<table id="violations">') :]
    assert "`" not in violations and "<code>secrets-platform:auditDevices</code>" in violations
    assert "stale: none (read live)" in text and "stale &lt;= 0s" not in text
    assert re.search(r'<ul id="rotations"><li><code>secret/myapp</code>: \d{4}-\d\d-\d\dT', text)
