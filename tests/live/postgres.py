"""PostgreSQL for the tests: the sandbox's server (sandbox/servers.py), or a failure saying how to get it."""

from __future__ import annotations

from pathlib import Path

from sandbox.servers import PostgresError, PostgresServer, find_postgres_bindir
from tests.prerequisites import missing

__all__ = ["PostgresError", "PostgresServer", "require_postgres"]


def require_postgres() -> Path:
    bindir = find_postgres_bindir()
    if bindir is None:
        missing("PostgreSQL server binaries (initdb)", "apt-get install postgresql")
    return bindir
