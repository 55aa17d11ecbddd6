"""A progress line on stderr while a plan runs, for people at a terminal; silent everywhere else.

``progress_for(mode, stream, json_output, env)`` decides: ``never`` and ``always`` force it,
``auto`` (the default) shows it only when the stream is a terminal, the output is not JSON
and the environment is not CI (``CI`` set to anything but ``false``/``0``). Quiet progress
is a ``Progress`` whose methods do nothing, so the planner calls it unconditionally.

The line is redrawn in place (``\\r``, erase to end of line) by a daemon thread a few times a
second, so it keeps moving while one long step (the policy pack) holds the main thread, and it
is erased when the plan ends. Each step has a counter: with a total it draws a bar, without
one a running count and the time spent.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from typing import TextIO

BAR_WIDTH = 24
REFRESH_SECONDS = 0.2
SPINNER = "|/-\\"


class Progress:
    """Silent progress: the interface the planner drives."""

    def step(self, label: str, total: int | None = None) -> None:
        """Start a step (ending the previous one)."""

    def advance(self, count: int = 1) -> None:
        """Count ``count`` more items of the current step."""

    def close(self) -> None:
        """End the last step and clear the line."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class TerminalProgress(Progress):
    """A redrawn line on a terminal: ``[2/4] policy pack  [#####-----]  512/1024  3.1s``."""

    def __init__(self, stream: TextIO, steps: int, *, refresh: float = REFRESH_SECONDS) -> None:
        self._stream = stream
        self._steps = steps
        self._index = 0
        self._label = ""
        self._total: int | None = None
        self._count = 0
        self._started = time.monotonic()
        self._step_started = self._started
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._tick = 0
        self._thread = threading.Thread(target=self._run, args=(refresh,), name="planner-progress", daemon=True)
        self._thread.start()

    def step(self, label: str, total: int | None = None) -> None:
        with self._lock:
            self._index += 1
            self._label, self._total, self._count = label, total, 0
            self._step_started = time.monotonic()
        self._draw()

    def advance(self, count: int = 1) -> None:
        self._count += count  # read by the drawing thread; a stale read only delays the bar by one frame

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=2)
        self._write("\r\x1b[2K")

    def line(self) -> str:
        """The current progress line (without the carriage return)."""
        with self._lock:
            label, total, count, index = self._label, self._total, self._count, self._index
            elapsed = time.monotonic() - self._step_started
        head = f"[{index}/{self._steps}] {label}"
        if total:
            done = min(count, total)
            filled = BAR_WIDTH * done // total
            return f"{head}  [{'#' * filled}{'-' * (BAR_WIDTH - filled)}]  {done}/{total}  {elapsed:.1f}s"
        spinner = SPINNER[self._tick % len(SPINNER)]
        counted = f"  {count}" if count else ""
        return f"{head}  {spinner}{counted}  {elapsed:.1f}s"

    def _run(self, refresh: float) -> None:
        while not self._stop.wait(refresh):
            self._tick += 1
            self._draw()

    def _draw(self) -> None:
        if not self._stop.is_set():
            self._write("\r\x1b[2K" + self.line())

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: progress is best effort
            self._stop.set()


def in_ci(env: Mapping[str, str]) -> bool:
    value = env.get("CI")
    return value is not None and value.strip().lower() not in ("", "false", "0", "no")


def progress_for(
    mode: str, stream: TextIO, *, json_output: bool, steps: int, env: Mapping[str, str] | None = None
) -> Progress:
    """A terminal progress line, or silent progress, by ``mode`` (auto, always, never)."""
    if mode == "never":
        return Progress()
    if mode == "always":
        return TerminalProgress(stream, steps)
    environment = os.environ if env is None else env
    isatty = getattr(stream, "isatty", None)
    terminal = bool(isatty and isatty())
    if terminal and not json_output and not in_ci(environment) and environment.get("TERM") != "dumb":
        return TerminalProgress(stream, steps)
    return Progress()
