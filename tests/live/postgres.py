"""A throwaway PostgreSQL cluster on a loopback port, from Debian's postgresql package.

As root the cluster runs as the ``postgres`` user (PostgreSQL refuses to run as
root). Queries go through psycopg; no password is ever on a command line.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import psycopg
import pytest

from tests.live.openbao import free_port


def find_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(candidates[-1]).parent if candidates else None


def require_postgres() -> Path:
    bindir = find_bindir()
    if bindir is None:
        message = "PostgreSQL server binaries not found (apt-get install postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return bindir


class PostgresError(RuntimeError):
    pass


class PostgresServer:
    """``with PostgresServer(bindir) as pg:`` — a cluster whose superuser ``postgres`` has ``admin_password``."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.admin_password = secrets.token_urlsafe(24)
        self._tmp = Path(tempfile.mkdtemp(prefix="pg-"))
        self.data = self._tmp / "data"
        self.sockets = self._tmp / "sockets"
        self.log = self._tmp / "server.log"

    # -- process control ---------------------------------------------------------

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def _run(self, argv: list[str]) -> None:
        result = subprocess.run(self._as_owner(argv), capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise PostgresError(f"{Path(argv[0]).name} failed ({result.returncode}): {result.stderr.strip()[-400:]}")

    def __enter__(self) -> PostgresServer:
        self.sockets.mkdir(parents=True)
        pwfile = self._tmp / "pwfile"
        pwfile.write_text(self.admin_password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self._tmp, "postgres")
            for path in (self.sockets, pwfile):
                shutil.chown(path, "postgres")
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "--no-sync",
            ]
        )
        pwfile.unlink()
        self.start()
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"]
        )

    def stop(self) -> None:
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(PostgresError):
            self.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    # -- client ------------------------------------------------------------------

    @property
    def connection_url(self) -> str:
        """The URL Vault connects with, credentials left as Vault's templates."""
        return f"postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def query(self, sql: str, user: str = "postgres", password: str | None = None) -> str:
        """Run ``sql`` over TCP as ``user`` (psycopg); the first column of the last row, or ''.

        Raises PostgresError with the server's message on failure."""
        try:
            with psycopg.connect(
                host="127.0.0.1",
                port=self.port,
                user=user,
                password=self.admin_password if password is None else password,
                dbname="postgres",
                connect_timeout=5,
                autocommit=True,
            ) as connection:
                cursor = connection.execute(sql)
                rows = cursor.fetchall() if cursor.description else []
        except psycopg.Error as exc:
            raise PostgresError(str(exc).strip()) from None
        return str(rows[-1][0]) if rows else ""

    def can_login(self, user: str, password: str) -> bool:
        try:
            return self.query("SELECT current_user", user=user, password=password) == user
        except PostgresError:
            return False
