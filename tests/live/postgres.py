"""PostgreSQL for the tests: the sandbox's server (sandbox/servers.py), or a skip (a failure on CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox.servers import PostgresError, PostgresServer, find_postgres_bindir

__all__ = ["PostgresError", "PostgresServer", "require_postgres"]


def require_postgres() -> Path:
    bindir = find_postgres_bindir()
    if bindir is None:
        message = "PostgreSQL server binaries not found (apt-get install postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return bindir
