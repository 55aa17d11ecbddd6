"""``bao server -dev -dev-tls``: the dev server on HTTPS with its own CA, as clients in a cluster reach Vault.

The stack's policy pack refuses a SecretStore whose server is not HTTPS with a CA (``eso-store-https-ca``),
so the cluster tests that render delivery objects run OpenBao on TLS and hand its CA to the stack.
"""

from __future__ import annotations

import ssl
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.live.openbao import OpenBaoDevServer, OpenBaoStartError

__all__ = ["TlsOpenBaoDevServer"]


class TlsOpenBaoDevServer(OpenBaoDevServer):
    """``with TlsOpenBaoDevServer(bao) as bao:``; ``bao.address`` is https, ``bao.ca_pem``/``bao.ca_file`` its CA."""

    def __init__(self, bao_path: str | None = None, startup_timeout: float = 20.0) -> None:
        self._cert_dir = tempfile.TemporaryDirectory(prefix="openbao-tls-")
        self.ca_file = Path(self._cert_dir.name) / "vault-ca.pem"
        super().__init__(
            bao_path,
            startup_timeout,
            extra_args=["-dev-tls", f"-dev-tls-cert-dir={self._cert_dir.name}"],
        )

    @property
    def ca_pem(self) -> str:
        return self.ca_file.read_text()

    def _launch(self) -> None:
        super()._launch()
        self.address = self.address.replace("http://", "https://", 1)

    def _wait_healthy(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise OpenBaoStartError(f"`bao server -dev -dev-tls` exited:\n{self.log_tail()}")
            if self.ca_file.exists():
                try:  # the CA file may still be half written
                    opener = urllib.request.build_opener(
                        urllib.request.ProxyHandler({}),
                        urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(self.ca_file))),
                    )
                    with opener.open(f"{self.address}/v1/sys/health", timeout=1.0) as resp:
                        if resp.status == 200:
                            return
                except urllib.error.HTTPError as exc:
                    last = f"HTTP {exc.code}"
                except (OSError, ValueError) as exc:
                    last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
        raise OpenBaoStartError(
            f"`bao server -dev -dev-tls` not healthy on {self.address} ({last}):\n{self.log_tail()}"
        )

    def __del__(self) -> None:
        self._cert_dir.cleanup()
