"""Where the planner writes: tried before the plan runs, so a bad path costs a second, not the whole plan."""

from __future__ import annotations

import tempfile
from pathlib import Path


class OutputError(Exception):
    """A file or directory the planner cannot write; the message is one line naming the flag and the path."""


def check_writable(flag: str, path: Path, *, directory: bool) -> None:
    """Create the folder ``path`` is to be written in (``path`` itself with ``directory``) and write a probe there.

    Asking the file system is the only check that holds for every case (root, read-only mounts,
    a file where a folder should be, /proc); ``os.access`` answers yes to root everywhere.
    """
    if not directory and path.is_dir():
        raise OutputError(f"{flag} {path}: a directory, not a file")
    folder = path if directory else path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".planner-probe-"):
            pass
    except OSError as error:
        raise OutputError(f"{flag} {path}: cannot write there: {error.strerror or error}") from None
