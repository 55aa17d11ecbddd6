"""A stand-in Kubernetes API server that answers TokenReview requests.

Vault/OpenBao kubernetes auth validates a login JWT by POSTing a TokenReview to
``<kubernetes_host>/apis/authentication.k8s.io/v1/tokenreviews``. This stub
answers from a table of tokens it knows, over plain HTTP on 127.0.0.1.
"""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .jwt_issuer import DEFAULT_ISSUER, ServiceAccountIssuer, service_account_username

__all__ = ["KnownToken", "ReviewRecord", "TokenReviewServer", "self_signed_ca_pem"]

TOKENREVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"


@dataclass(frozen=True)
class KnownToken:
    namespace: str
    service_account: str
    uid: str
    audiences: tuple[str, ...]


@dataclass
class ReviewRecord:
    """One request the stub received."""

    method: str
    path: str
    authorization: str | None
    body: dict[str, Any] = field(default_factory=dict)
    response_status: int = 0
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def has_authorization(self) -> bool:
        return bool(self.authorization)

    @property
    def bearer(self) -> str | None:
        if self.authorization and self.authorization.lower().startswith("bearer "):
            return self.authorization[7:].strip()
        return None

    @property
    def reviewed_token(self) -> str | None:
        token = (self.body.get("spec") or {}).get("token")
        return token if isinstance(token, str) else None

    @property
    def requested_audiences(self) -> list[str] | None:
        auds = (self.body.get("spec") or {}).get("audiences")
        return list(auds) if isinstance(auds, list) else None


def self_signed_ca_pem(common_name: str = "tokenreview-stub-ca") -> str:
    """A throwaway self-signed CA certificate (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class TokenReviewServer:
    """``with TokenReviewServer() as k8s:`` serves TokenReviews on ``k8s.url``.

    ``require_authorization``: like a real API server, answer 401 when the
    TokenReview request itself carries no ``Authorization: Bearer`` header.
    """

    def __init__(self, issuer: str = DEFAULT_ISSUER, require_authorization: bool = True) -> None:
        self.require_authorization = require_authorization
        self.signer = ServiceAccountIssuer(issuer)
        self.ca_pem: str = self_signed_ca_pem()
        self.tokens: dict[str, KnownToken] = {}
        self.requests: list[ReviewRecord] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- token table ---------------------------------------------------------

    @property
    def issuer(self) -> str:
        return self.signer.issuer

    @property
    def public_key_pem(self) -> str:
        """The key the issued tokens are signed with (for ``pem_keys``)."""
        return self.signer.public_key_pem

    def register(self, token: str, namespace: str, sa: str, uid: str, audiences: Sequence[str]) -> None:
        with self._lock:
            self.tokens[token] = KnownToken(namespace, sa, uid, tuple(audiences))

    def forget(self, token: str) -> None:
        """Revoke a token: later reviews of it answer authenticated=false."""
        with self._lock:
            self.tokens.pop(token, None)

    def issue_token(
        self,
        namespace: str,
        sa: str,
        audiences: Sequence[str],
        ttl: int = 600,
        uid: str | None = None,
        **overrides: Any,
    ) -> str:
        """Mint a signed service-account JWT and register it as valid."""
        uid = uid if uid is not None else self.signer.uid_for(namespace, sa)
        token = self.signer.issue(namespace, sa, audiences, ttl=ttl, uid=uid, **overrides)
        self.register(token, namespace, sa, uid, audiences)
        return token

    def reviews(self) -> list[ReviewRecord]:
        """The TokenReview POSTs received so far."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and r.path == TOKENREVIEW_PATH]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- review logic ----------------------------------------------------------

    def review(self, body: dict[str, Any]) -> dict[str, Any]:
        """The TokenReview object answered for a request body."""
        raw_spec = body.get("spec")
        spec: dict[str, Any] = raw_spec if isinstance(raw_spec, dict) else {}
        token = spec.get("token")
        wanted = spec.get("audiences")
        with self._lock:
            known = self.tokens.get(token) if isinstance(token, str) else None
        status: dict[str, Any]
        if known is None:
            status = {"authenticated": False, "user": {}, "error": "invalid bearer token"}
        else:
            audiences = [a for a in wanted if a in known.audiences] if wanted else list(known.audiences)
            if wanted and not audiences:
                status = {
                    "authenticated": False,
                    "user": {},
                    "error": "invalid bearer token, token audiences "
                    f"{list(known.audiences)} is invalid for the target audiences {list(wanted)}",
                }
            else:
                status = {
                    "authenticated": True,
                    "user": {
                        "username": service_account_username(known.namespace, known.service_account),
                        "uid": known.uid,
                        "groups": [
                            "system:serviceaccounts",
                            f"system:serviceaccounts:{known.namespace}",
                            "system:authenticated",
                        ],
                    },
                    "audiences": audiences,
                }
        return {
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }

    # -- server lifecycle ---------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the TokenReview server is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """What to put in ``kubernetes_host``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TokenReviewServer:
        if self._httpd is not None:
            raise RuntimeError("the TokenReview server is already running")
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="tokenreview-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> TokenReviewServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _record(self, record: ReviewRecord) -> None:
        with self._lock:
            self.requests.append(record)


def _status_object(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _make_handler(stub: TokenReviewServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep the test output clean

        def _send(self, code: int, payload: dict[str, Any]) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            record = ReviewRecord(
                method=self.command,
                path=self.path.split("?", 1)[0],
                authorization=self.headers.get("Authorization"),
            )
            try:
                decoded = json.loads(raw) if raw else {}
                record.body = decoded if isinstance(decoded, dict) else {}
            except ValueError:
                record.body = {}
            if record.method != "POST" or record.path != TOKENREVIEW_PATH:
                code = int(HTTPStatus.NOT_FOUND)
                payload = _status_object(code, "NotFound", f"the stub does not serve {record.path}")
            elif stub.require_authorization and not record.bearer:
                code = int(HTTPStatus.UNAUTHORIZED)
                payload = _status_object(code, "Unauthorized", "Unauthorized")
            elif not record.reviewed_token:
                code = int(HTTPStatus.BAD_REQUEST)
                payload = _status_object(code, "BadRequest", "spec.token is required")
            else:
                code = int(HTTPStatus.CREATED)
                payload = stub.review(record.body)
            record.response_status = code
            record.response = payload
            stub._record(record)
            self._send(code, payload)

        do_GET = _handle  # noqa: N815
        do_POST = _handle  # noqa: N815
        do_PUT = _handle  # noqa: N815

    return Handler
