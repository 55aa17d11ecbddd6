"""The same stack file gives byte-identical plans on every run (issue 12, item 4).

Each run is a separate process with its own hash seed, so an order that comes from a set or a dict
built from one (resource order, ``dependsOn``, access rows, violations) shows up as a difference.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from planner.engine import PROJECT_ROOT

STACKS = {"dev": ("--stack", "dev"), "full": ("--config-file", "examples/Pulumi.full.yaml")}
FORMATS = ("text", "json", "markdown", "html")


def plan_files(stack: tuple[str, ...], into: Path, hash_seed: str) -> dict[str, bytes]:
    """Every file one run writes: the plan in each format (``--output``) and the ``--out`` tree."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    for fmt in FORMATS:
        extra = ("--out", str(into / "out")) if fmt == "json" else ()
        result = subprocess.run(
            [sys.executable, "-m", "planner", *stack, "--format", fmt, "--output", str(into / f"plan.{fmt}"), *extra],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            timeout=300,
        )
        assert result.returncode in (0, 1), result.stderr.decode()
    return {str(p.relative_to(into)): p.read_bytes() for p in sorted(into.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", sorted(STACKS))
def test_two_runs_in_separate_processes_write_identical_files(name: str, tmp_path: Path) -> None:
    first = plan_files(STACKS[name], tmp_path / "first", hash_seed="1")
    second = plan_files(STACKS[name], tmp_path / "second", hash_seed="2")
    assert {f"plan.{fmt}" for fmt in FORMATS} <= set(first)
    assert any(path.startswith("out/") for path in first), "--out wrote nothing"
    assert sorted(first) == sorted(second)
    differing = [path for path in first if first[path] != second[path]]
    assert differing == []
