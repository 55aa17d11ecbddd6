"""Where the planner writes: checked before the plan runs, so a bad path costs seconds, not the whole plan."""

from __future__ import annotations

import os
from pathlib import Path


class OutputError(Exception):
    """A file or directory the planner cannot write; the message is one line naming the flag and the path."""


def check_writable(flag: str, path: Path, *, directory: bool) -> None:
    """Refuse ``path`` (a file, or with ``directory`` a folder to fill) when it cannot be written."""
    if directory and path.exists() and not path.is_dir():
        raise OutputError(f"{flag} {path}: not a directory")
    if not directory and path.is_dir():
        raise OutputError(f"{flag} {path}: a directory, not a file")
    target = path if path.exists() else path.parent
    while not target.exists() and target != target.parent:
        target = target.parent
    if not target.is_dir() and target != path:
        raise OutputError(f"{flag} {path}: {target} is not a directory")
    if not os.access(target, os.W_OK | (os.X_OK if target.is_dir() else 0)):
        raise OutputError(f"{flag} {path}: cannot write there: permission denied on {target}")
