"""What the tests need besides Python packages, and what happens when it is missing: a failure that says so.

The test command of the README runs every tier. A test whose server, browser or reference
data is missing FAILS with a message naming what is missing and how to get it; it skips
only when the run asks for that explicitly (``pytest --allow-missing``, never under
``CI=true``), and the run's summary then lists what was skipped and why. A green run means
everything ran.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

ALLOW_MISSING_OPTION = "--allow-missing"
_allowed = False
skipped: dict[str, str] = {}
"""What was missing, for the run's summary: prerequisite -> how to get it."""


def allow_missing(value: bool) -> None:
    global _allowed
    _allowed = value and os.environ.get("CI", "").strip().lower() not in ("1", "true", "yes")


def missing(what: str, how: str) -> NoReturn:
    """Fail (or, with --allow-missing, skip) the current test: ``what`` is not there, ``how`` gets it."""
    message = f"{what} is missing: {how}"
    if _allowed:
        skipped[what] = how
        pytest.skip(message)
    pytest.fail(f"{message} (or run pytest {ALLOW_MISSING_OPTION} to skip what needs it)", pytrace=False)
