"""Engine-tier fixtures: the toolchain's CLI and plugins, a private Pulumi home, a live OpenBao."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.engine import PulumiCli
from sandbox.servers import DeclaredAuditDevice, OpenBaoServer
from tests.engine.toolchain import require_toolchain
from tests.live.openbao import require_bao


@pytest.fixture(scope="session")
def toolchain_bin() -> Path:
    return require_toolchain()


@pytest.fixture(scope="session")
def pulumi_home(toolchain_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Pulumi home per run, holding the toolchain's plugins at the versions the SDKs ask for."""
    home = tmp_path_factory.mktemp("pulumi-home")
    PulumiCli(toolchain_bin, home, tmp_path_factory.mktemp("plugin-install")).install_plugins()
    return home


@pytest.fixture
def cli(toolchain_bin: Path, pulumi_home: Path, tmp_path: Path) -> PulumiCli:
    """The CLI with this test's own file backend and passphrase."""
    return PulumiCli(toolchain_bin, pulumi_home, tmp_path / "pulumi")


@pytest.fixture
def audit_log(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "audit.log"


@pytest.fixture
def openbao(audit_log: Path) -> Iterator[OpenBaoServer]:
    """A production-like OpenBao: raft storage, a file audit device declared in its configuration."""
    audit_log.parent.mkdir(parents=True, exist_ok=True)
    device = DeclaredAuditDevice("file", "file", {"file_path": str(audit_log)})
    with OpenBaoServer(require_bao(), audit=[device]) as server:
        yield server
