"""The engine tier's own harness: a missing program fails naming how to get it; a dead server shows its log."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.servers import OpenBaoServer, ServerError
from tests.engine import toolchain
from tests.live.openbao import require_bao


def test_a_missing_toolchain_fails_naming_what_to_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VAULTK8S_TOOLCHAIN_BIN", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match=r"pulumi-resource-vault.*run tools/toolchain"):
        toolchain.require_toolchain()


def test_a_server_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    server = OpenBaoServer(require_bao(), directory=tmp_path)
    server.config.write_text('storage "nonsense" {}\n')
    with pytest.raises(ServerError, match="log tail"):
        server.start()
