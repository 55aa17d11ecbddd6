"""A service-account token issuer of the sandbox's own, for jwt auth without a cluster.

Mints RS256 JWTs shaped like projected (bound) service-account tokens, signed
with an RSA key generated per issuer, so that Vault/OpenBao JWT auth can be
configured with ``jwt_validation_pubkeys = [issuer.public_key_pem]``.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from components.model import service_account_subject

__all__ = ["DEFAULT_ISSUER", "ServiceAccountIssuer", "service_account_claims"]

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"


def service_account_claims(
    *,
    issuer: str,
    namespace: str,
    service_account: str,
    uid: str,
    audiences: Sequence[str],
    ttl: int,
    now: int | None = None,
) -> dict[str, Any]:
    """The claims of a Kubernetes projected service-account token."""
    issued_at = int(time.time()) if now is None else now
    return {
        "iss": issuer,
        "sub": service_account_subject(namespace, service_account),
        "aud": list(audiences),
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + ttl,
        "jti": str(uuid.uuid4()),
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": service_account, "uid": uid},
        },
    }


class ServiceAccountIssuer:
    """Signs Kubernetes-style service-account JWTs with its own RSA key."""

    def __init__(self, issuer: str = DEFAULT_ISSUER, key: rsa.RSAPrivateKey | None = None) -> None:
        self.issuer = issuer
        self._key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = hashlib.sha256(public_der).hexdigest()[:32]
        self.public_key_pem: str = (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def save(self, path: Path) -> None:
        """The issuer and its private key, to a file only the owner can read."""
        path.touch(mode=0o600)
        key = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        path.write_text(json.dumps({"issuer": self.issuer, "key": key}))

    @classmethod
    def load(cls, path: Path) -> ServiceAccountIssuer:
        saved = json.loads(path.read_text())
        key = serialization.load_pem_private_key(saved["key"].encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return cls(saved["issuer"], key)

    def uid_for(self, namespace: str, service_account: str) -> str:
        """A stable uid per service account (across runs of the same issuer), like its object's uid."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.issuer}/{namespace}/{service_account}"))

    def issue(
        self,
        namespace: str,
        sa: str,
        audiences: Sequence[str],
        ttl: int = 600,
        uid: str | None = None,
        **overrides: Any,
    ) -> str:
        """Mint a token for ``system:serviceaccount:<namespace>:<sa>``.

        ``overrides`` replace top-level claims (``sub=...``, ``iss=...``,
        ``exp=...``); an override of None removes the claim.
        """
        if isinstance(audiences, str):
            raise TypeError("audiences must be a sequence of strings, not a string")
        claims = service_account_claims(
            issuer=self.issuer,
            namespace=namespace,
            service_account=sa,
            uid=uid if uid is not None else self.uid_for(namespace, sa),
            audiences=audiences,
            ttl=ttl,
        )
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.key_id})
