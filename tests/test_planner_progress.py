"""The progress line: on a terminal's stderr during a plan; never in CI, in JSON mode or when piped."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from planner.engine import PROJECT_ROOT
from planner.progress import Progress, TerminalProgress, in_ci, progress_for


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("mode", "terminal", "json_output", "env", "shown"),
    [
        ("auto", True, False, {}, True),
        ("auto", True, False, {"CI": "true"}, False),
        ("auto", True, False, {"CI": "false"}, True),
        ("auto", True, True, {}, False),
        ("auto", False, False, {}, False),
        ("auto", True, False, {"TERM": "dumb"}, False),
        ("never", True, False, {}, False),
        ("always", False, True, {"CI": "1"}, True),
    ],
)
def test_when_progress_is_shown(mode: str, terminal: bool, json_output: bool, env: dict[str, str], shown: bool) -> None:
    stream = FakeTerminal() if terminal else io.StringIO()
    progress = progress_for(mode, stream, json_output=json_output, steps=4, env=env)
    try:
        assert isinstance(progress, TerminalProgress) is shown
        assert type(progress) is Progress or shown
    finally:
        progress.close()


def test_in_ci() -> None:
    assert in_ci({"CI": "true"}) and in_ci({"CI": "1"}) and in_ci({"CI": "yes"})
    assert not in_ci({}) and not in_ci({"CI": ""}) and not in_ci({"CI": "false"}) and not in_ci({"CI": "0"})


def test_the_line_draws_a_bar_for_a_counted_step_and_a_count_otherwise() -> None:
    stream = FakeTerminal()
    progress = TerminalProgress(stream, steps=3, refresh=60)
    progress.step("running the stack")
    progress.advance(7)
    assert progress.line().startswith("[1/3] running the stack  ")
    assert "  7  " in progress.line()
    progress.step("policy pack", total=40)
    progress.advance(10)
    assert progress.line().startswith("[2/3] policy pack  [######------------------]  10/40  ")
    progress.close()
    written = stream.getvalue()
    assert written.endswith("\r\x1b[2K")  # the line is erased when the plan ends
    assert "\n" not in written


def plan_on_a_terminal(*argv: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run the planner with stderr on a pseudo-terminal (stdout piped); return its exit code, stdout and stderr."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "planner", *argv],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=terminal,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(terminal)
    chunks = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                data = os.read(controller, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    os.close(controller)
    stdout = process.stdout.read().decode() if process.stdout else ""
    code = process.wait(timeout=60)
    return code, stdout, b"".join(chunks).decode(errors="replace")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TERM")}
    return {**env, "TERM": "xterm", **extra}


def test_a_plan_on_a_terminal_shows_its_steps_on_stderr() -> None:
    code, stdout, stderr = plan_on_a_terminal("--stack", "dev", env=clean_env())
    assert code == 0
    assert "Workload access:" in stdout and "\r" not in stdout  # the plan itself is untouched
    for step in ("[1/4] reading the stack file", "[2/4] running the stack (2 workloads)", "[3/4] policy pack over"):
        assert step in stderr
    assert stderr.endswith("\r\x1b[2K")


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (("--stack", "dev"), {"CI": "true"}),
        (("--stack", "dev", "--format", "json"), {}),
        (("--stack", "dev", "--progress", "never"), {}),
    ],
)
def test_no_progress_in_ci_in_json_mode_or_when_asked(argv: tuple[str, ...], env: dict[str, str]) -> None:
    code, stdout, stderr = plan_on_a_terminal(*argv, env=clean_env(**env))
    assert code == 0
    assert stdout
    assert stderr == ""


def test_piped_stderr_gets_no_progress(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "planner", "--stack", "dev"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
    )
    assert result.returncode == 0
    assert result.stderr == ""
