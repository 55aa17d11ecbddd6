"""The base of a diff: a plan JSON written earlier, or the plan of a git revision of the project.

For a revision, the project's tree at that revision (the stack file *and* the program, the
components and the planner) is extracted with ``git archive`` into a temporary directory and
planned there by its own planner in a subprocess (``python -m planner --format json``), so the
old code plans the old stack. The repository itself is only read.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from .plan import PLAN_FORMAT

PLAN_TIMEOUT_SECONDS = 3600
EXIT_PLANNED = (0, 1)  # 1: planned, with mandatory violations


class BaseError(Exception):
    """The base cannot be read or planned; the message is one line."""


def load_plan_file(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BaseError(f"{path}: not a plan JSON ({type(error).__name__})") from None
    if not isinstance(document, dict) or not isinstance(document.get("workloads"), list):
        raise BaseError(f"{path}: not a plan JSON (no `workloads` list); write one with --format json")
    fmt = document.get("format", PLAN_FORMAT)
    if fmt != PLAN_FORMAT:
        raise BaseError(f"{path}: plan format {fmt!r}; this planner reads {PLAN_FORMAT!r}")
    return document


def _git(root: Path, *args: str, binary: bool = False) -> Any:
    try:
        result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BaseError(f"git {args[0]}: {error}") from None
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise BaseError(f"git {' '.join(args[:2])}: {detail[-1] if detail else 'failed'}")
    return result.stdout if binary else result.stdout.decode().strip()


def resolve_revision(root: Path, ref: str) -> str:
    if ref.startswith("-"):
        raise BaseError(f"{ref!r} is not a revision")
    return str(_git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"))


def extract_revision(root: Path, commit: str, into: Path) -> Path:
    """The repository's tree at ``commit`` under ``into``; returns the project's directory in it."""
    prefix = str(_git(root, "rev-parse", "--show-prefix"))
    archive = _git(root, "archive", "--format=tar", commit, binary=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / prefix if prefix else into


def plan_revision(
    root: Path, ref: str, stack_file: Path, policy_config: Path | None = None, *, python: str = sys.executable
) -> dict[str, Any]:
    """The JSON plan of ``stack_file`` (a file of the project) as the project at ``ref`` plans it.

    A stack file that does not exist at ``ref`` gives an empty plan: everything in it is new.
    """
    root = root.resolve()
    commit = resolve_revision(root, ref)
    try:
        relative = stack_file.resolve().relative_to(root)
    except ValueError:
        raise BaseError(
            f"{stack_file} is outside the project {root}: give --base a plan JSON written with --format json"
        ) from None
    with tempfile.TemporaryDirectory(prefix="planner-base-") as temp:
        project = extract_revision(root, commit, Path(temp))
        old_stack = project / relative
        if not old_stack.is_file():
            return {"format": PLAN_FORMAT, "stack": old_stack.stem, "workloads": [], "violations": [], "resources": []}
        command = [python, "-m", "planner", "--config-file", str(old_stack), "--format", "json"]
        if policy_config is not None:
            command += ["--policy-config", str(policy_config.resolve())]
        result = _run_old_planner(command, project)
    if result.returncode not in EXIT_PLANNED:
        lines = result.stderr.strip().splitlines()
        raise BaseError(
            f"the planner at {ref} ({commit[:12]}) exited {result.returncode}: {lines[-1] if lines else ''}"
        )
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise BaseError(f"the planner at {ref} ({commit[:12]}) printed no JSON plan") from None
    if not isinstance(document, dict):
        raise BaseError(f"the planner at {ref} ({commit[:12]}) printed no JSON plan")
    return document


def _run_old_planner(command: list[str], project: Path) -> subprocess.CompletedProcess[str]:
    # `python -m` puts the working directory first on sys.path, so the old tree's packages win
    # (unless PYTHONSAFEPATH says otherwise); the project goes first on PYTHONPATH as well.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSAFEPATH"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(project), env.get("PYTHONPATH", "")) if p)
    try:
        return subprocess.run(
            command, cwd=project, env=env, capture_output=True, text=True, timeout=PLAN_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BaseError(f"planning the base: {error}") from None
