"""Engine fixtures (imported by tests/conftest.py, for the engine and cluster tiers): the toolchain's CLI and
plugins, a private Pulumi home, a live production-like OpenBao."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import stacks
from sandbox.engine import PulumiCli
from sandbox.servers import OpenBaoServer
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
    """The CLI with this test's own file backend and passphrase (its servers go with the test)."""
    return PulumiCli(toolchain_bin, pulumi_home, tmp_path / "pulumi")


@pytest.fixture
def audit_devices(tmp_path: Path) -> list[dict[str, str]]:
    """The test stack's audit devices, as its stack file declares them."""
    (tmp_path / "audit").mkdir()
    return stacks.audit_files(tmp_path / "audit")


@pytest.fixture
def audit_log(audit_devices: list[dict[str, str]]) -> Path:
    return Path(audit_devices[0]["target"])


@pytest.fixture
def openbao(audit_devices: list[dict[str, str]]) -> Iterator[OpenBaoServer]:
    """A production-like OpenBao: raft storage, the stack's audit devices declared in its configuration
    (the stanzas the stack itself renders)."""
    with OpenBaoServer(require_bao(), audit_config=stacks.server_audit_config(audit_devices)) as server:
        yield server
