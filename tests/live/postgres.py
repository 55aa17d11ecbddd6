"""A throwaway PostgreSQL cluster on a loopback port, from Debian's postgresql package.

As root the cluster runs as the ``postgres`` user (PostgreSQL refuses to run as
root). Passwords travel in ``PGPASSWORD``, never on a command line.
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

from tests.live.openbao import free_port
from tests.prerequisites import missing


def find_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    return Path(candidates[-1]).parent if candidates else None


def require_postgres() -> Path:
    bindir = find_bindir()
    if bindir is None:
        missing("PostgreSQL server binaries (initdb)", "apt-get install postgresql")
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

    def psql(self, sql: str, user: str = "postgres", password: str | None = None) -> str:
        """Run ``sql`` over TCP as ``user``; raise PostgresError with the server's message on failure."""
        env = {
            **os.environ,
            "PGPASSWORD": self.admin_password if password is None else password,
            "PGCONNECT_TIMEOUT": "5",
        }
        result = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                user,
                "-d",
                "postgres",
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        if result.returncode != 0:
            raise PostgresError(result.stderr.strip())
        return result.stdout.strip()

    def can_login(self, user: str, password: str) -> bool:
        try:
            return self.psql("SELECT current_user", user=user, password=password) == user
        except PostgresError:
            return False
