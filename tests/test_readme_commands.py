"""The README's offline-plan commands, copied as written, do what it says (exit 0, the files it names)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from planner.engine import PROJECT_ROOT


def offline_plan_commands() -> list[str]:
    """The ``python -m planner`` lines of the README's "The offline plan" block, comments dropped."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme[readme.index("### The offline plan") :]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "no sh block under 'The offline plan'"
    commands = [line.split("  #")[0].strip() for line in block.group(1).splitlines()]
    return [c for c in commands if c.startswith("python -m planner") and "path/" not in c]  # path/: a placeholder


COMMANDS = offline_plan_commands()


def test_the_block_holds_the_commands_the_readme_describes() -> None:
    assert len(COMMANDS) >= 6
    assert "python -m planner --stack dev" in COMMANDS


@pytest.mark.parametrize("command", COMMANDS)
def test_a_readme_command_runs_as_written(command: str, tmp_path: Path) -> None:
    # A user's working directory with the repository's examples beside it; `python` is the project's venv.
    (tmp_path / "examples").symlink_to(PROJECT_ROOT / "examples")
    argv = [sys.executable, *shlex.split(command)[1:]]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command}: exit {result.returncode}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    if "--output" in argv:
        assert (tmp_path / argv[argv.index("--output") + 1]).stat().st_size > 0
    elif "--out" in argv:
        out = tmp_path / argv[argv.index("--out") + 1]
        assert {p.name for p in out.iterdir()} == {"policies", "kubernetes", "charts"}
    else:
        assert result.stdout.strip()
